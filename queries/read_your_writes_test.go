package queries_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/queries"
)

// A read of the present waits for its read model (the real projection
// waiter) to apply everything committed before the request began — the
// position its caller was decided at, or the head of the log when that is
// not known — and any minimum position the client gave; it answers 503
// when the read model cannot catch up in time. A position beyond the head
// of the log is refused at once, and a read as of an instant waits for
// nothing.
func TestMinPositionWaitsForTheReadModel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	for range 12 {
		_, err := store.Append(ctx, domain.StreamID("thing", domain.NewID()), domain.ExpectNoStream, domain.NewEvent{
			ID: domain.NewID(), Type: "Touched", SchemaVersion: 1, Data: json.RawMessage(`{}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
		})
		require.NoError(t, err)
	}
	// No runner: the secrets read model stays at position 10 for good.
	_, err := db.Pool.Exec(ctx, `INSERT INTO projection_checkpoints (name, position) VALUES ('secrets', 10)`)
	require.NoError(t, err)
	waiter := projections.NewWaiter(db.Pool, nil, 10*time.Millisecond)
	reads := vaulttest.NewReads(t, db, store, waiter, nil, queries.Options{MinPositionTimeout: 200 * time.Millisecond})

	pos := func(n int64) *int64 { return &n }
	cases := []struct {
		name      string
		decidedAt int64
		at        queries.At
		code      string
	}{
		{"caller decided at an applied position reads at once", 10, queries.At{}, ""},
		{"caller decided at an earlier position reads at once", 3, queries.At{}, ""},
		{"caller decided past the read model waits past the bound", 11, queries.At{}, domain.EUNAVAILABLE},
		{"caller position unknown waits for the head", 0, queries.At{}, domain.EUNAVAILABLE},
		{"minimum already applied", 10, queries.At{MinPosition: 5}, ""},
		{"minimum exactly the checkpoint", 10, queries.At{MinPosition: 10}, ""},
		{"minimum past the read model waits past the bound", 10, queries.At{MinPosition: 11}, domain.EUNAVAILABLE},
		{"minimum beyond the head of the log", 10, queries.At{MinPosition: 13}, domain.EINVALID},
		{"negative minimum", 10, queries.At{MinPosition: -1}, domain.EINVALID},
		// Folded from the log: no such secret, found without waiting.
		{"as of an instant waits for nothing", 12, queries.At{Position: pos(12), MinPosition: 11}, domain.ENOTFOUND},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			caller := admin()
			caller.Principal.DecidedAt = tc.decidedAt
			var err error
			if tc.at.Past() {
				_, err = reads.Secrets.Get(ctx, caller, domain.NewID(), tc.at)
			} else {
				_, err = reads.Secrets.List(ctx, caller, queries.SecretListInput{}, tc.at)
			}
			if tc.code == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.code, domain.ErrorCode(err), "%v", err)
		})
	}
}
