package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/securevault/vault/domain"
)

// maxJSONDepth bounds how deeply a request body may nest. No endpoint takes
// more than four levels; the bound keeps a hostile body from costing more
// than its size.
const maxJSONDepth = 32

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkStrictJSON refuses JSON that encoding/json would accept but read in a
// way the sender may not have meant, before anything is decoded:
//   - a key given twice in one object (encoding/json keeps the last one, so a
//     proxy or WAF that reads the first sees another request than we do);
//   - a struct field spelled in another case ("NAME" for "name"; encoding/json
//     matches case-insensitively, which lets the same trick hide a field);
//   - an unknown field, also inside nested objects and arrays of objects;
//   - invalid UTF-8 (encoding/json would silently replace it with U+FFFD);
//   - nesting deeper than maxJSONDepth, and more than one value.
//
// t is the type the body will be decoded into; the walk follows it through
// structs, pointers, slices, arrays and maps. Below a type with its own
// UnmarshalJSON, or an interface, only duplicates are checked.
func checkStrictJSON(body []byte, t reflect.Type) error {
	if !utf8.Valid(body) {
		return domain.Errorf(domain.EINVALID, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := jsonWalker{dec: dec}
	if err := w.value(t, "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.Errorf(domain.EINVALID, "request body must contain a single JSON value")
	}
	return checkSurrogates(body)
}

// checkSurrogates refuses a \u escape of half a UTF-16 surrogate pair, which
// encoding/json, like invalid UTF-8, silently turns into U+FFFD. body is
// known to be valid JSON, so a backslash occurs only inside strings.
func checkSurrogates(body []byte) error {
	bad := domain.Errorf(domain.EINVALID, "request body has an unpaired UTF-16 surrogate escape")
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if body[i] != 'u' {
			continue
		}
		r := hex4(body[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return bad
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
				return bad
			}
			if lo := hex4(body[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return bad
			}
			i += 6
		}
	}
	return nil
}

// hex4 reads four hex digits (valid JSON guarantees them after \u).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

type jsonWalker struct{ dec *json.Decoder }

func (w jsonWalker) value(t reflect.Type, path string, depth int) error {
	tok, err := w.dec.Token()
	if err != nil {
		if depth == 0 {
			return decodeError(err) // io.EOF here: nothing was sent
		}
		return truncated(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: its type is encoding/json's to check
	}
	if depth >= maxJSONDepth {
		return domain.Errorf(domain.EINVALID, "request body nests deeper than %d levels", maxJSONDepth)
	}
	t = strictTarget(t)
	switch delim {
	case '{':
		return w.object(t, path, depth+1)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return truncated(err)
	}
	return domain.Errorf(domain.EINVALID, "malformed JSON")
}

func (w jsonWalker) object(t reflect.Type, path string, depth int) error {
	var fields structFields
	if t != nil && t.Kind() == reflect.Struct {
		fields = fieldsOf(t)
	}
	seen := make(map[string]bool)
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return truncated(err)
		}
		key, _ := tok.(string) // the decoder only returns strings as keys
		if seen[key] {
			return domain.Errorf(domain.EINVALID, "duplicate key %s%s", strconv.Quote(clipKey(key)), where(path))
		}
		seen[key] = true
		var elem reflect.Type
		switch {
		case fields.exact != nil:
			ft, ok := fields.exact[key]
			if !ok {
				if want, ok := fields.folded[strings.ToLower(key)]; ok {
					return domain.Errorf(domain.EINVALID, "field %s%s must be spelled %s: field names are case-sensitive",
						strconv.Quote(clipKey(key)), where(path), strconv.Quote(want))
				}
				return domain.Errorf(domain.EINVALID, "unknown field %s%s", strconv.Quote(clipKey(key)), where(path))
			}
			elem = ft
		case t != nil && t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		if err := w.value(elem, joinPath(path, key), depth); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return truncated(err)
}

// strictTarget is the type whose shape the JSON must have, or nil when
// anything goes (interfaces, custom unmarshalers).
func strictTarget(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(jsonUnmarshalerType) ||
			t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

// structFields maps a struct's JSON keys to their types, exactly as
// encoding/json names them, plus a lowercase index to name the right
// spelling of a miscased key.
type structFields struct {
	exact  map[string]reflect.Type
	folded map[string]string
}

func fieldsOf(t reflect.Type) structFields {
	f := structFields{exact: map[string]reflect.Type{}, folded: map[string]string{}}
	addFields(&f, t, 0)
	return f
}

func addFields(f *structFields, t reflect.Type, depth int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && depth < 8 {
				addFields(f, et, depth+1) // promoted fields, as encoding/json does
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := f.exact[name]; !dup {
			f.exact[name] = sf.Type
			f.folded[strings.ToLower(name)] = name
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return clipKey(key)
	}
	return path + "." + clipKey(key)
}

func where(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

// clipKey keeps a hostile key from filling the error message.
func clipKey(k string) string {
	if len(k) <= 64 {
		return k
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return k[:cut] + "…"
}

// truncated maps a token error inside a value: the decoder reports a body
// that ends mid-value as io.EOF, which at that point means truncated.
func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return decodeError(err)
	}
	return nil
}
