package commands

import (
	"crypto/rand"

	"github.com/securevault/vault/domain"
)

// Charsets a generated secret value can draw from.
const (
	CharsetAlphanumeric   = "alphanumeric"
	CharsetASCIIPrintable = "ascii-printable"
	CharsetHex            = "hex"
	CharsetBase64URL      = "base64url"
)

// Generated value length bounds.
const (
	GenerateMinLength = 8
	GenerateMaxLength = 4096
)

// GenerateSpec asks the server to generate a value.
type GenerateSpec struct {
	Length  int
	Charset string
}

func charsetAlphabet(name string) (string, bool) {
	switch name {
	case CharsetAlphanumeric, "":
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", true
	case CharsetASCIIPrintable:
		// Every visible ASCII character; no space, so a value never has
		// leading or trailing blanks a copy-paste would lose.
		b := make([]byte, 0, 94)
		for c := byte('!'); c <= '~'; c++ {
			b = append(b, c)
		}
		return string(b), true
	case CharsetHex:
		return "0123456789abcdef", true
	case CharsetBase64URL:
		return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", true
	}
	return "", false
}

// GenerateValue returns length characters drawn uniformly from the charset
// with crypto/rand. Bytes at or above the largest multiple of the alphabet
// size are rejected rather than reduced modulo, which would favour the first
// characters of the alphabet.
func GenerateValue(spec GenerateSpec) ([]byte, error) {
	alphabet, ok := charsetAlphabet(spec.Charset)
	if !ok {
		return nil, domain.Errorf(domain.EINVALID, "charset must be one of %s, %s, %s, %s",
			CharsetAlphanumeric, CharsetASCIIPrintable, CharsetHex, CharsetBase64URL)
	}
	if spec.Length < GenerateMinLength || spec.Length > GenerateMaxLength {
		return nil, domain.Errorf(domain.EINVALID, "length must be %d to %d", GenerateMinLength, GenerateMaxLength)
	}
	n := len(alphabet)
	limit := 256 - 256%n
	out := make([]byte, 0, spec.Length)
	buf := make([]byte, spec.Length+spec.Length/4+8)
	defer clear(buf)
	for len(out) < spec.Length {
		_, _ = rand.Read(buf) // never fails since Go 1.24
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%n])
			if len(out) == spec.Length {
				break
			}
		}
	}
	return out, nil
}
