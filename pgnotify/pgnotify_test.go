package pgnotify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
)

// listening starts a listener on a fresh database and returns once it is
// listening on channel.
func listening(t *testing.T, channel string) (*pgtest.Database, *pgnotify.Listener) {
	t.Helper()
	db := pgtest.New(t)
	l := pgnotify.NewListener(db.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	probe, cancelProbe := l.Subscribe(channel) // woken once LISTEN took effect
	<-probe
	cancelProbe()
	return db, l
}

func notify(t *testing.T, db *pgtest.Database, channel, payload string) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `SELECT pg_notify($1, $2)`, channel, payload)
	require.NoError(t, err)
}

// next waits for the subscription's next wake-up and takes what it holds.
func next(s *pgnotify.Subscription) ([]string, bool) {
	<-s.C()
	return s.Next()
}

// TestListenDeliversPayloadsInCommitOrder: payloads arrive in order, none
// lost, however they coalesce into wake-ups; a subscriber that listens
// after LISTEN took effect hears of no loss.
func TestListenDeliversPayloadsInCommitOrder(t *testing.T) {
	t.Parallel()
	db, l := listening(t, "t_ordered")
	s := l.Listen("t_ordered")
	defer s.Close()
	const n = 50
	for i := range n {
		notify(t, db, "t_ordered", strconv.Itoa(i))
	}
	var got []string
	for len(got) < n {
		payloads, lost := next(s)
		require.False(t, lost)
		got = append(got, payloads...)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	require.Equal(t, want, got)
}

// TestListenReportsALossOnReconnect: when the listening connection drops,
// payload subscribers are told (what was notified meanwhile is gone), and
// payloads flow again after the reconnect.
func TestListenReportsALossOnReconnect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, l := listening(t, "t_reconnect")
	s := l.Listen("t_reconnect")
	defer s.Close()
	var killed int
	require.NoError(t, db.Pool.QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %'`).Scan(&killed))
	require.Equal(t, 1, killed)
	_, lost := next(s)
	require.True(t, lost, "the drop is a loss")

	// Until the listener is back a payload may be lost (and reported so);
	// once one comes through, the loss was reported before it.
	lostSeen := false
	for i := 0; ; i++ {
		notify(t, db, "t_reconnect", fmt.Sprint(i))
		payloads, lost := next(s)
		lostSeen = lostSeen || lost
		if len(payloads) > 0 {
			break
		}
	}
	require.True(t, lostSeen, "the reconnect's LISTEN is a loss too")
}

// TestListenOverflowIsALoss: a subscriber that does not keep up loses the
// backlog and is told so, rather than holding it for ever.
func TestListenOverflowIsALoss(t *testing.T) {
	t.Parallel()
	db, l := listening(t, "t_overflow")
	s := l.Listen("t_overflow")
	defer s.Close()
	keeper := l.Listen("t_overflow")
	defer keeper.Close()
	last := pgnotify.MaxPending + 5
	// One transaction: the listener delivers them back to back.
	_, err := db.Pool.Exec(context.Background(),
		`SELECT pg_notify('t_overflow', n::text) FROM generate_series(1, $1) AS n`, last)
	require.NoError(t, err)
	// A second subscriber that keeps up tells when all were delivered:
	// each notification reaches every subscriber before the next.
	sentinel := strconv.Itoa(last)
	for {
		payloads, _ := next(keeper) // it may fall behind too: the sentinel stays
		if len(payloads) > 0 && payloads[len(payloads)-1] == sentinel {
			break
		}
	}
	payloads, lost := s.Next()
	require.True(t, lost)
	require.LessOrEqual(t, len(payloads), pgnotify.MaxPending)
}

// TestHeadFollowsTheHighestPosition: a Head knows nothing until observed,
// then follows the positions notified; a payload that is not a position
// makes it unknown again until the next observation.
func TestHeadFollowsTheHighestPosition(t *testing.T) {
	t.Parallel()
	db, l := listening(t, "t_head")
	h := l.ListenHead("t_head")
	defer h.Close()
	_, ok := h.Position()
	require.False(t, ok, "nothing observed yet")
	h.Observe(3)
	at, ok := h.Position()
	require.True(t, ok)
	require.Equal(t, int64(3), at)

	notify(t, db, "t_head", "9")
	notify(t, db, "t_head", "7") // never moves back
	notify(t, db, "t_head", "12")
	for at < 12 {
		<-h.C()
		at, ok = h.Position()
		require.True(t, ok)
	}
	require.Equal(t, int64(12), at)

	notify(t, db, "t_head", "twelve")
	// A wake-up may still be pending from the payloads above; wait until
	// the unparseable one was handled (it is the only thing that can hide
	// the position here).
	deadline := time.After(30 * time.Second)
	for ok {
		select {
		case <-h.C():
		case <-deadline:
			t.Fatal("an unparseable payload must hide the position")
		}
		_, ok = h.Position()
	}
	require.False(t, ok, "an unparseable payload hides a position")
	h.Observe(10) // a read older than a payload never lowers it
	at, ok = h.Position()
	require.True(t, ok)
	require.Equal(t, int64(12), at)
}
