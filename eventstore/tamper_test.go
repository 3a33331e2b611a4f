package eventstore_test

import (
	"context"
	"strings"
	"sync"
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

// TestForgedLinksAreRefusedWhateverKeyTheyClaim covers the ways a database
// owner can try to make a changed event look linked: keep the key id and
// store the SHA-256 value, claim a key it made up, or name a key id the
// replica does not hold. Each is refused by verify and by every read.
func TestForgedLinksAreRefusedWhateverKeyTheyClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forgeries := []struct {
		name   string
		sql    string // against position 2, triggers disabled
		reason string
	}{
		{"changed data, key id kept", `UPDATE events SET data = '{"effect":"allow"}' WHERE position = 2`, "keyed link"},
		{"link recomputed under a guessed key", `UPDATE events SET data = '{"effect":"allow"}',
			hash = hmac(convert_to('x', 'UTF8'), 'guessed-key-guessed-key-guessed!', 'sha256') WHERE position = 2`, "keyed link"},
		{"unknown key id", `UPDATE events SET hash_key_id = 'feedfacefeedface' WHERE position = 2`, "does not hold"},
		{"unkeyed link claimed", `UPDATE events SET hash_key_id = NULL WHERE position = 2`, "unkeyed"},
	}
	for _, tc := range forgeries {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, db := newStore(t, eventstore.Options{})
			stream := "policy-" + uuid.NewString()
			for i := range 3 {
				_, err := s.Append(ctx, stream, domain.ExpectVersion(int64(i)), event("PolicyUpdated", map[string]string{"effect": "deny"}))
				require.NoError(t, err)
			}
			su := db.Superuser(t)
			_, err := su.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pgcrypto")
			require.NoError(t, err)
			_, err = su.Exec(ctx, "SET session_replication_role = replica")
			require.NoError(t, err)
			_, err = su.Exec(ctx, tc.sql)
			require.NoError(t, err)

			report, err := s.Verify(ctx, nil)
			require.NoError(t, err)
			require.False(t, report.OK)
			require.Equal(t, int64(2), report.FirstBadPosition, report.Reason)
			require.Contains(t, report.Reason, tc.reason)
			_, err = s.ReadStream(ctx, stream, 0, 0)
			require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "%v", err)
			te, ok := eventstore.AsTamper(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, int64(2), te.Position)
			_, err = s.ReadAll(ctx, 1, 10)
			require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "%v", err)
		})
	}
}

// TestDeletedEventInsideAStreamIsDetected: removing an event from the
// middle of a stream (a revocation, say) leaves a version gap that the
// stream's own load sees, and a chain break that every log page sees.
func TestDeletedEventInsideAStreamIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	stream := "user-" + uuid.NewString()
	for i := range 3 {
		_, err := s.Append(ctx, stream, domain.ExpectVersion(int64(i)), event("UserUpdated", i))
		require.NoError(t, err)
	}
	su := db.Superuser(t)
	_, err := su.Exec(ctx, "SET session_replication_role = replica")
	require.NoError(t, err)
	_, err = su.Exec(ctx, "DELETE FROM events WHERE stream_id = $1 AND version = 2", stream)
	require.NoError(t, err)

	_, err = s.ReadStream(ctx, stream, 0, 0)
	require.ErrorContains(t, err, "missing")
	_, err = s.ReadAll(ctx, 0, 10)
	require.ErrorContains(t, err, "missing")
	_, err = s.ReadAll(ctx, 2, 10) // the page after the hole starts at the hole
	require.ErrorContains(t, err, "missing")
}

// TestAlarmLatchesAndStopsAppends: the first violation trips the alarm
// once, with its position, and appends are refused from then on.
func TestAlarmLatchesAndStopsAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	alarm := &recordingAlarm{}
	s, db := newStore(t, eventstore.Options{Alarm: alarm})
	stream := "thing-" + uuid.NewString()
	for i := range 3 {
		_, err := s.Append(ctx, stream, domain.ExpectVersion(int64(i)), event("A", i))
		require.NoError(t, err)
	}
	tamper.Rechain(t, db.Superuser(t), 2, func(data string) string { return data + " " })

	_, err := s.ReadStream(ctx, stream, 0, 0)
	require.Error(t, err)
	require.True(t, alarm.Tripped())
	require.Equal(t, int64(2), alarm.position)
	_, err = s.Append(ctx, "other-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "%v", err)
}

type recordingAlarm struct {
	mu       sync.Mutex
	trips    int
	position int64
}

func (a *recordingAlarm) Trip(position int64, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.trips == 0 {
		a.position = position
	}
	a.trips++
}

func (a *recordingAlarm) Tripped() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.trips > 0
}
