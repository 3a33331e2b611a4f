package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Listing cursors are opaque to clients but not trusted: a cursor is
// whatever a client sends back, so each decoder checks the decoded value
// against the grammar of what it encodes before the value reaches a
// query. Every listing uses the one encoding here, unpadded base64url of
// the key the page ended at: a name (secrets, users, roles, policies), a
// stream id (listings as of an instant), a log position (a secret's
// history), or a time, a position and the query's filters (the audit log).

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

// EncodePositionCursor makes the cursor of a page that ended at a log
// position (a secret's history).
func EncodePositionCursor(position int64) string {
	return EncodeCursor(strconv.FormatInt(position, 10))
}

// DecodePositionCursor decodes a cursor of a listing by log position: a
// positive position in canonical decimal (0 for no cursor).
func DecodePositionCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	key, err := decodeCursor(c)
	if err != nil {
		return 0, err
	}
	pos, ok := canonicalPosition(key)
	if !ok {
		return 0, errBadCursor()
	}
	return pos, nil
}

// canonicalPosition parses a positive int64 written the one way
// strconv.FormatInt writes it.
func canonicalPosition(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

// auditCursorDomain separates the audit cursor's checksum from any other
// use of SHA-256.
const auditCursorDomain = "securevault.audit.cursor.v2\x00"

// auditCursorSum is the checksum of an audit cursor's fields. It is not a
// secret (an auditor may read every entry anyway) and catches accidents,
// not forgeries: an edited or truncated cursor is a clear 400 instead of a
// page from a random place.
func auditCursorSum(body string) string {
	sum := sha256.Sum256([]byte(auditCursorDomain + body))
	return hex.EncodeToString(sum[:8])
}

// EncodeAuditCursor makes the cursor of an audit page that ended at c.
// filter identifies the query's filters, so a cursor is only ever taken
// back by the query that issued it.
func EncodeAuditCursor(filter string, c AuditCursor) string {
	body := c.Timestamp.UTC().Format(time.RFC3339Nano) + " " + strconv.FormatInt(c.Position, 10) + " " + filter
	return EncodeCursor(body + " " + auditCursorSum(body))
}

// DecodeAuditCursor decodes a cursor EncodeAuditCursor made for the query
// identified by filter. Anyone can compute the checksum, so the decoded
// fields are checked as strictly as the filters themselves are.
func DecodeAuditCursor(filter, c string) (AuditCursor, error) {
	key, err := decodeCursor(c)
	if err != nil {
		return AuditCursor{}, err
	}
	fields := strings.Split(key, " ")
	if len(fields) != 4 || auditCursorSum(strings.Join(fields[:3], " ")) != fields[3] {
		return AuditCursor{}, errBadCursor()
	}
	ts, err := time.Parse(time.RFC3339Nano, fields[0])
	pos, ok := canonicalPosition(fields[1])
	if err != nil || !ok || ts.Year() < 1 || ts.Year() > 9999 {
		return AuditCursor{}, errBadCursor()
	}
	if fields[2] != filter {
		return AuditCursor{}, Errorf(EINVALID, "cursor belongs to a query with other filters; repeat the filters of the page it came from")
	}
	return AuditCursor{Timestamp: ts.UTC(), Position: pos}, nil
}
