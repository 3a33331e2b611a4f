package eventstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
)

func TestEventsCannotBeChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	_, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
	require.NoError(t, err)
	su := db.Superuser(t)

	statements := []string{
		"UPDATE events SET data = '{}'",
		"DELETE FROM events",
		"TRUNCATE events",
	}
	t.Run("the trigger stops even a superuser", func(t *testing.T) {
		for _, stmt := range statements {
			_, err := su.Exec(ctx, stmt)
			require.ErrorContains(t, err, "append-only", stmt)
		}
	})
	t.Run("the application role has no grant", func(t *testing.T) {
		tx, err := su.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SET LOCAL ROLE vault_app")
		require.NoError(t, err)
		for i, stmt := range statements {
			_, err := tx.Exec(ctx, fmt.Sprintf("SAVEPOINT s%d", i))
			require.NoError(t, err)
			_, err = tx.Exec(ctx, stmt)
			require.ErrorContains(t, err, "permission denied", stmt)
			_, err = tx.Exec(ctx, fmt.Sprintf("ROLLBACK TO SAVEPOINT s%d", i))
			require.NoError(t, err)
		}
		// It can still append and read.
		var n int
		require.NoError(t, tx.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n))
		require.Equal(t, 1, n)
	})
}

func TestVerifyFindsTheFirstTamperedPosition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	tamperings := []struct {
		name   string
		sql    string // run as a superuser with triggers disabled, against position 3
		reason string
	}{
		{"changed data", "UPDATE events SET data = '{\"amount\": 1000000}' WHERE position = 3", "content"},
		{"changed metadata", "UPDATE events SET metadata = '{\"actor\":\"someone-else\"}' WHERE position = 3", "content"},
		{"changed time", "UPDATE events SET recorded_at = recorded_at - interval '1 day' WHERE position = 3", "content"},
		{"changed type", "UPDATE events SET type = 'Other' WHERE position = 3", "content"},
		{"deleted row", "DELETE FROM events WHERE position = 3", "missing"},
		{"rehashed row without fixing the successor", "UPDATE events SET data = '{}', hash = sha256('x') WHERE position = 3", "content"},
	}
	for _, tc := range tamperings {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, db := newStore(t, eventstore.Options{})
			for i := range 5 {
				_, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", map[string]int{"amount": i}))
				require.NoError(t, err)
			}
			report, err := s.Verify(ctx, nil)
			require.NoError(t, err)
			require.True(t, report.OK, "an untouched log verifies: %+v", report)
			require.Equal(t, int64(5), report.Checked)

			su := db.Superuser(t)
			_, err = su.Exec(ctx, "SET session_replication_role = replica") // disables the guard triggers
			require.NoError(t, err)
			_, err = su.Exec(ctx, tc.sql)
			require.NoError(t, err)

			report, err = s.Verify(ctx, nil)
			require.NoError(t, err)
			require.False(t, report.OK)
			require.Equal(t, int64(3), report.FirstBadPosition, "reason: %s", report.Reason)
			require.Contains(t, report.Reason, tc.reason)
		})
	}

	t.Run("truncated tail with a forged head", func(t *testing.T) {
		t.Parallel()
		s, db := newStore(t, eventstore.Options{})
		for range 5 {
			_, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", 1))
			require.NoError(t, err)
		}
		su := db.Superuser(t)
		_, err := su.Exec(ctx, "SET session_replication_role = replica")
		require.NoError(t, err)
		_, err = su.Exec(ctx, "DELETE FROM events WHERE position > 3")
		require.NoError(t, err)
		report, err := s.Verify(ctx, nil)
		require.NoError(t, err)
		require.False(t, report.OK)
		require.Equal(t, int64(4), report.FirstBadPosition, "reason: %s", report.Reason)
	})
}

// TestAppPoolCannotRewriteTheLog proves that the connections vaultd's
// request path uses (the application role, as pgtest's AppPool and
// wire.OpenDatabase set it up) can append but can never change, delete or
// truncate the log, nor move the chain head anywhere an append would not.
func TestAppPoolCannotRewriteTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newStore(t, eventstore.Options{})
	for i := range 3 {
		_, err := s.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, event("A", i))
		require.NoError(t, err)
	}
	var role string
	require.NoError(t, db.AppPool.QueryRow(ctx, "SELECT current_user").Scan(&role))
	require.Equal(t, "vault_app", role)

	refused := []struct{ name, sql string }{
		{"update an event", `UPDATE events SET data = '{}' WHERE position = 2`},
		{"delete an event", `DELETE FROM events WHERE position = 3`},
		{"truncate the log", `TRUNCATE events`},
		{"move the head back", `UPDATE event_chain_head SET position = 1, hash = (SELECT hash FROM events WHERE position = 1)`},
		{"point the head at a made-up hash", `UPDATE event_chain_head SET hash = sha256('x')`},
		{"delete the head", `DELETE FROM event_chain_head`},
		{"truncate the head", `TRUNCATE event_chain_head`},
		{"change a signed checkpoint", `UPDATE chain_checkpoints SET hash = sha256('x')`},
		{"disable the guard triggers", `ALTER TABLE events DISABLE TRIGGER USER`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.AppPool.Exec(ctx, tc.sql)
			require.Error(t, err, tc.sql)
			require.Regexp(t, "permission denied|not allowed|only moves forward|must point|must be owner", err.Error())
		})
	}
	report, err := s.Verify(ctx, nil)
	require.NoError(t, err)
	require.True(t, report.OK, "nothing changed: %+v", report)
	require.Equal(t, int64(3), report.Checked)
}
