package projections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
)

// commitSetting is a projection that records, for each page, the
// synchronous_commit setting its transaction will commit with.
type commitSetting struct {
	counting
	mu   sync.Mutex
	seen []string
}

func (c *commitSetting) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	var setting string
	if err := tx.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&setting); err != nil {
		return err
	}
	c.mu.Lock()
	c.seen = append(c.seen, setting)
	c.mu.Unlock()
	return c.counting.Apply(ctx, tx, events)
}

// TestPagesCommitWithoutWaitingForTheDisk: a projection's page transaction
// commits with synchronous_commit off (the read model is rebuilt from the
// synchronously committed log, see LeadCheckpoint), and only that
// transaction: the pool's next statement is back to the server's setting.
func TestPagesCommitWithoutWaitingForTheDisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := &commitSetting{counting: counting{name: "durability"}}
	r, err := projections.NewRunner(e.db.Pool, e.store, nil, discard(), fastOptions(), p)
	require.NoError(t, err)
	run(t, r)
	head := e.appendEvents(t, 40, 3)
	w := projections.NewWaiter(e.db.Pool, nil, 20*time.Millisecond)
	require.NoError(t, w.WaitFor(context.Background(), head, time.Minute, p.Name()))
	requireAppliedOnce(t, e.db, head)

	p.mu.Lock()
	seen := append([]string(nil), p.seen...)
	p.mu.Unlock()
	require.NotEmpty(t, seen)
	for _, s := range seen {
		require.Equal(t, "off", s)
	}
	var after string
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&after))
	require.Equal(t, "on", after, "the setting is the transaction's, not the connection's")
}
