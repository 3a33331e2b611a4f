package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SealedPrefix marks event payload fields that hold ciphertext, nonces,
// wrapped keys or anything else that must never leave PostgreSQL. Producers
// name such fields sealed_*, and every path out of the log (the JetStream
// relay first of all) drops them with RedactForBus. One naming convention is
// harder to forget than a per-event-type allow list.
const SealedPrefix = "sealed_"

// RedactForBus returns data without any object member, at any depth, whose
// key starts with SealedPrefix. Key order, the other members and the exact
// text of numbers are kept. data must be valid JSON.
func RedactForBus(data json.RawMessage) (json.RawMessage, error) {
	// Fast path for the common case. A key could spell "sealed_" with \u
	// escapes, so the shortcut is only taken when no escape is present.
	if !bytes.Contains(data, []byte(SealedPrefix)) && !bytes.Contains(data, []byte(`\u`)) {
		if !json.Valid(data) {
			return nil, Errorf(EINVALID, "event data is not valid JSON")
		}
		return data, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out bytes.Buffer
	out.Grow(len(data))
	if err := redactValue(dec, &out); err != nil {
		return nil, WrapError(EINVALID, "event data is not valid JSON", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(EINVALID, "event data has trailing content after the JSON value")
	}
	return out.Bytes(), nil
}

// redactValue copies one JSON value from dec to out, dropping sealed members.
func redactValue(dec *json.Decoder, out *bytes.Buffer) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return redactObject(dec, out)
		case '[':
			return redactArray(dec, out)
		default:
			return fmt.Errorf("unexpected %q", t)
		}
	default:
		return writeScalar(out, tok)
	}
}

func redactObject(dec *json.Decoder, out *bytes.Buffer) error {
	out.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("object key is %T, not a string", tok)
		}
		if strings.HasPrefix(key, SealedPrefix) {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		if err := writeScalar(out, key); err != nil {
			return err
		}
		out.WriteByte(':')
		if err := redactValue(dec, out); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	out.WriteByte('}')
	return nil
}

func redactArray(dec *json.Decoder, out *bytes.Buffer) error {
	out.WriteByte('[')
	first := true
	for dec.More() {
		if !first {
			out.WriteByte(',')
		}
		first = false
		if err := redactValue(dec, out); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return err
	}
	out.WriteByte(']')
	return nil
}

func writeScalar(out *bytes.Buffer, tok json.Token) error {
	switch v := tok.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		if v {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case json.Number:
		out.WriteString(v.String())
	case string:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out.Write(b)
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}
