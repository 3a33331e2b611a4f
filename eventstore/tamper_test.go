package eventstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/tamper"
)

// TestForgedEventWithRecomputedSHA256ChainIsDetected is the observed attack
// at the store: as the database superuser, change an event and recompute its
// SHA-256 link and every later one. Neither verify nor any read may accept
// the forged event.
func TestForgedEventWithRecomputedSHA256ChainIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	streams := make([]string, 5)
	for i := range streams {
		streams[i] = "policy-" + uuid.NewString()
		_, err := s.Append(ctx, streams[i], domain.ExpectNoStream, event("PolicyCreated", map[string]string{"effect": "deny"}))
		require.NoError(t, err)
	}

	tamper.Rechain(t, db.Superuser(t), 3, func(data string) string { return strings.Replace(data, "deny", "allow", 1) })

	report, err := s.Verify(ctx, nil)
	require.NoError(t, err)
	require.False(t, report.OK, "verify must not call a rewritten log intact")
	require.Equal(t, int64(3), report.FirstBadPosition, report.Reason)

	_, err = s.ReadStream(ctx, streams[2], 0, 0)
	require.Error(t, err, "an aggregate load must not return the forged event")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "a tampered log is a 503, never a 500: %v", err)
	_, err = s.ReadAll(ctx, 0, 100)
	require.Error(t, err, "a projection page must not return the forged event")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))

	// Events before the forgery are still served.
	got, err := s.ReadStream(ctx, streams[0], 0, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
}

// TestTruncatedTailWithHeadMovedBackIsDetected is the second observed
// attack at the store: delete the newest events and move the head row back.
// A running writer knows how far it wrote and must never hand out those
// positions again.
func TestTruncatedTailWithHeadMovedBackIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	for range 5 {
		_, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
		require.NoError(t, err)
	}

	tamper.TruncateTail(t, db.Superuser(t), 3)

	res, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
	require.Error(t, err, "the writer reused position %d", res.LastPosition)
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "%v", err)
	head, err := s.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), head, "nothing was appended on the shortened log")
}
