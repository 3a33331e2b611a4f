package domain

import (
	"strings"
	"testing"
	"time"
)

// FuzzAuditCursor feeds the audit cursor decoder bodies with a correct
// checksum (which anyone can compute), so the fuzzer reaches the checks of
// the decoded fields. An accepted cursor re-encodes to one that decodes to
// the same position and time, and no other query's filters accept it.
func FuzzAuditCursor(f *testing.F) {
	const filter = "0123456789abcdef"
	f.Add("2026-01-02T15:04:05Z 42 " + filter)
	f.Add("0000-01-01T00:00:00Z 1 " + filter)
	f.Add("2026-01-02T15:04:05Z -1 " + filter)
	f.Add("2026-01-02T15:04:05Z 042 " + filter)
	f.Add("2026-01-02T15:04:05+14:00 9223372036854775807 " + filter)
	f.Add("\x00")
	f.Fuzz(func(t *testing.T, body string) {
		c := EncodeCursor(body + " " + auditCursorSum(body))
		got, err := DecodeAuditCursor(filter, c)
		if err != nil {
			if code := ErrorCode(err); code != EINVALID {
				t.Fatalf("DecodeAuditCursor(%q): code %q (%v)", body, code, err)
			}
			return
		}
		if got.Position < 1 || got.Timestamp.Year() < 1 || got.Timestamp.Year() > 9999 || got.Timestamp.Location() != time.UTC {
			t.Fatalf("DecodeAuditCursor(%q) = %+v", body, got)
		}
		back, err := DecodeAuditCursor(filter, EncodeAuditCursor(filter, got))
		if err != nil || back != got {
			t.Fatalf("cursor %+v does not round-trip: %+v, %v", got, back, err)
		}
		if _, err := DecodeAuditCursor(filter+"x", c); err == nil {
			t.Fatalf("cursor of another query accepted")
		}
	})
}

// FuzzPositionCursor: a history cursor decodes to a positive position whose
// cursor it is, or is refused with EINVALID.
func FuzzPositionCursor(f *testing.F) {
	for _, s := range []string{"", "1", "42", "0", "-1", "01", "9223372036854775807", "9223372036854775808", " 1", "1\n"} {
		f.Add(EncodeCursor(s))
	}
	f.Add("99999999999999999999")
	f.Add("%00")
	f.Fuzz(func(t *testing.T, c string) {
		pos, err := DecodePositionCursor(c)
		if err != nil {
			if code := ErrorCode(err); code != EINVALID {
				t.Fatalf("DecodePositionCursor(%q): code %q (%v)", c, code, err)
			}
			return
		}
		if c == "" {
			if pos != 0 {
				t.Fatalf("no cursor decoded to %d", pos)
			}
			return
		}
		if pos < 1 || EncodePositionCursor(pos) != c {
			t.Fatalf("DecodePositionCursor(%q) = %d", c, pos)
		}
	})
}

func TestCursorsAreOpaqueBase64URL(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, c := range []string{
		EncodeCursor("prod/db"), EncodePositionCursor(42),
		EncodeAuditCursor("0123456789abcdef", AuditCursor{Timestamp: ts, Position: 7}),
	} {
		if strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("cursor %q is not base64url", c)
		}
	}
	got, err := DecodeAuditCursor("0123456789abcdef", EncodeAuditCursor("0123456789abcdef", AuditCursor{Timestamp: ts, Position: 7}))
	if err != nil || got.Position != 7 || !got.Timestamp.Equal(ts) {
		t.Fatalf("audit cursor round trip: %+v, %v", got, err)
	}
	if _, err := DecodeAuditCursor("fedcba9876543210", EncodeAuditCursor("0123456789abcdef", AuditCursor{Timestamp: ts, Position: 7})); err == nil ||
		!strings.Contains(ErrorMessage(err), "other filters") {
		t.Fatalf("another query's cursor: %v", err)
	}
	if pos, err := DecodePositionCursor(EncodePositionCursor(42)); err != nil || pos != 42 {
		t.Fatalf("position cursor round trip: %d, %v", pos, err)
	}
	for _, bad := range []string{EncodeCursor("0"), EncodeCursor("-3"), EncodeCursor("007"), EncodeCursor("x"), "42"} {
		if _, err := DecodePositionCursor(bad); ErrorCode(err) != EINVALID {
			t.Fatalf("position cursor %q: %v", bad, err)
		}
	}
}
