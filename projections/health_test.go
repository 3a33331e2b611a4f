package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/streams"
)

// TestCheckNamesAStuckProjection: a projection whose pages keep failing is
// reported by name (and only it), with where it stopped; once the cause is
// gone the check passes again.
func TestCheckNamesAStuckProjection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	head := e.appendEvents(t, 40, 3)
	const poison = 23
	flaky := &counting{name: "flaky", poison: poison}
	flaky.broken.Store(true)
	opts := fastOptions()
	opts.StuckAfter = 3
	r, err := projections.NewRunner(e.db.Pool, e.store, nil, discard(), opts, flaky, streams.New())
	require.NoError(t, err)
	require.NoError(t, r.Check(ctx), "nothing has failed before the runner starts")
	run(t, r)

	var checkErr error
	require.Eventually(t, func() bool {
		checkErr = r.Check(ctx)
		return checkErr != nil
	}, waitTimeout, 10*time.Millisecond)
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(checkErr), "a stuck projection makes a message an operator may see")
	msg := domain.ErrorMessage(checkErr)
	require.Contains(t, msg, "flaky (")
	require.Contains(t, msg, "failed pages in a row")
	require.NotContains(t, msg, streams.Name+" (", "a healthy projection is not named")
	require.NotContains(t, msg, "poisonous", "the cause stays in the log")

	flaky.broken.Store(false)
	w := projections.NewWaiter(e.db.Pool, nil, 5*time.Millisecond)
	require.NoError(t, w.WaitFor(ctx, head, waitTimeout, "flaky"))
	// The runner ends the streak right after the commit WaitFor saw.
	require.Eventually(t, func() bool { return r.Check(ctx) == nil }, waitTimeout, 10*time.Millisecond,
		"a projection that applies again is no longer stuck")
}
