package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	vaultclient "github.com/securevault/vault/client"
)

// BenchmarkMaskedGet is one masked get through the whole HTTP stack (client
// and server in this process): its allocations per operation are a figure
// machine noise cannot move, for changes to the request path.
//
//	go test -run '^$' -bench MaskedGet -benchmem -benchtime 3000x ./cmd/vaultd/
func BenchmarkMaskedGet(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	created, _, err := h.Admin.CreateSecret(ctx, vaultclient.CreateSecretInput{Name: "bench/masked-get", Value: "value"})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		got, err := h.Admin.GetSecret(ctx, created.ID)
		require.NoError(b, err)
		require.Equal(b, created.ID, got.ID)
	}
}
