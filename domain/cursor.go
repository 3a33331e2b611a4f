package domain

import (
	"encoding/base64"
	"strings"
)

// Listing cursors are opaque to clients but not trusted: a cursor is
// whatever a client sends back, so each decoder checks the decoded value
// against the grammar of what it encodes before the value reaches a
// query. The encoding is unpadded base64url of the key the page ended at.

// maxCursorLength bounds a cursor before it is decoded: no key a cursor
// encodes is longer than a secret name or a stream id.
const maxCursorLength = 512

func errBadCursor() error {
	return Errorf(EINVALID, "cursor is not one this server issued (pass next_cursor back unchanged)")
}

// EncodeCursor makes the cursor of a page that ended at key.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c string) (string, error) {
	if len(c) > maxCursorLength {
		return "", errBadCursor()
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	// The decoder skips '\r' and '\n'; only the encoding this server
	// issues is accepted, so a value has exactly one cursor.
	if err != nil || EncodeCursor(string(b)) != c {
		return "", errBadCursor()
	}
	return string(b), nil
}

// DecodeSecretNameCursor decodes a cursor of the secret listing: the name
// of the last secret of the previous page ("" for no cursor). Stored names
// may carry capitals (names recorded before names were folded), so the
// name grammar is checked without folding.
func DecodeSecretNameCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	name, err := decodeCursor(c)
	if err != nil || ValidateSecretName(name) != nil {
		return "", errBadCursor()
	}
	return name, nil
}

// DecodeIdentityNameCursor decodes a cursor of the user, role or policy
// listing: the lowercase name of the last row of the previous page.
func DecodeIdentityNameCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	name, err := decodeCursor(c)
	if err != nil || ValidateIdentityName(name) != nil {
		return "", errBadCursor()
	}
	return name, nil
}

// DecodeStreamCursor decodes a cursor of a listing by stream id (the
// time-travel listings): "<aggregate>-<uuid>" of the given aggregate.
func DecodeStreamCursor(aggregate, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	sid, err := decodeCursor(c)
	if err != nil {
		return "", err
	}
	id, ok := strings.CutPrefix(sid, aggregate+"-")
	if !ok || !IsID(id) {
		return "", errBadCursor()
	}
	return sid, nil
}
