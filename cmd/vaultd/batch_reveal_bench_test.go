package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	vaultclient "github.com/securevault/vault/client"
)

// BenchmarkRevealTwentySecrets compares what `vaultctl run` does (one
// batch reveal of 20 secrets, 20 audit events in one append) with 20
// single reveals by name, against the same vaultd in the same run:
//
//	go test -run '^$' -bench RevealTwentySecrets -benchtime 30x ./cmd/vaultd/
func BenchmarkRevealTwentySecrets(b *testing.B) {
	h := newHarness(b)
	const n = 20
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("bench/app/secret-%02d", i)
		_, _, err := h.Admin.CreateSecret(context.Background(), vaultclient.CreateSecretInput{Name: names[i], Value: "value"})
		require.NoError(b, err)
	}
	ctx := context.Background()
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			res, err := h.Admin.RevealPrefix(ctx, "bench/app/")
			require.NoError(b, err)
			require.Len(b, res.Items, n)
		}
	})
	b.Run("single", func(b *testing.B) {
		for b.Loop() {
			for _, name := range names {
				_, err := h.Admin.RevealSecretByName(ctx, name, 0)
				require.NoError(b, err)
			}
		}
	})
}
