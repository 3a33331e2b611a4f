package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestRedactForBus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"no sealed field is returned unchanged", `{"b":1,"a":"x"}`, `{"b":1,"a":"x"}`},
		{"top-level sealed fields are dropped", `{"id":"s1","sealed_value":"Q0lQSEVS","sealed_nonce":"bm9uY2U=","version":2}`, `{"id":"s1","version":2}`},
		{"nested objects and arrays are walked", `{"v":{"sealed_key":{"k":"wrapped"},"keep":[{"sealed_value":"x","n":1},{"sealed_x":[1,2]}]}}`, `{"v":{"keep":[{"n":1},{}]}}`},
		{"only a prefix match counts", `{"unsealed_value":"ok","value_sealed_":"ok","sealed":"ok"}`, `{"unsealed_value":"ok","value_sealed_":"ok","sealed":"ok"}`},
		{"a value that merely mentions sealed_ stays", `{"note":"sealed_value is hidden"}`, `{"note":"sealed_value is hidden"}`},
		{"an escaped key is still recognised", `{"\u0073ealed_value":"secret","a":1}`, `{"a":1}`},
		{"number text is preserved", `{"big":12345678901234567890,"f":1.50,"sealed_z":0}`, `{"big":12345678901234567890,"f":1.50}`},
		{"every field sealed leaves an empty object", `{"sealed_a":1,"sealed_b":{"c":2}}`, `{}`},
		{"scalars and arrays at the top level pass", `[1,"sealed_value",null,true]`, `[1,"sealed_value",null,true]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.RedactForBus(json.RawMessage(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got), "order, spacing and number text are kept")
			require.True(t, json.Valid(got))
			require.NotContains(t, string(got), "secret")
		})
	}
}

func TestRedactForBusRejectsInvalidJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{"a":`, `{"sealed_a":1`, `{"a":1} {"b":2}`, `{"a":1}x`} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			_, err := domain.RedactForBus(json.RawMessage(in))
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "error: %v", err)
		})
	}
}
