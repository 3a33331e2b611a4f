package checkpoint

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/checkpoint/internal/checkpointdb"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/health"
	"github.com/securevault/vault/pgnotify"
)

// Defaults for Config.
const (
	DefaultEvery        = 1000
	DefaultInterval     = time.Minute
	DefaultPollInterval = 5 * time.Second
)

// EventReader reads the log through its integrity checks;
// *eventstore.Store satisfies it. The signer takes the hash it signs from
// it, so it never signs a link that does not verify.
type EventReader interface {
	ReadAll(ctx context.Context, afterPosition int64, limit int) ([]domain.RecordedEvent, error)
	HeadPosition(ctx context.Context) (int64, error)
}

// Alarm latches the replica's "tampered" state; *integrity.Latch satisfies
// it.
type Alarm interface {
	Trip(position int64, reason string)
	Tripped() bool
}

// LatestReader is a Publisher that can read back the newest checkpoint it
// holds; *JetStreamPublisher is one.
type LatestReader interface {
	Latest(ctx context.Context) (*Checkpoint, error)
}

// Publisher sends a signed checkpoint to whoever keeps them.
type Publisher interface {
	Publish(ctx context.Context, c Checkpoint) error
}

// Notifications follows the head of the log from the vault_events
// payloads; *pgnotify.Listener satisfies it.
type Notifications interface {
	ListenHead(channel string) *pgnotify.Head
}

// Config tunes a Signer.
type Config struct {
	// Deployment names the log in every signature, so a checkpoint of one
	// deployment can never pass for another's (required).
	Deployment string
	// Every is the distance between checkpoints: positions Every, 2*Every...
	Every int64
	// Interval bounds how long an event waits for a checkpoint: when the
	// oldest unsigned event is this old, the head is signed, whatever its
	// position. It is what witnesses a truncated tail outside the database
	// on a log that grows slowly.
	Interval time.Duration
	// PollInterval is how often the log is checked without a notification.
	PollInterval time.Duration
	// Alarm, when set, is tripped if the newest checkpoint the publisher
	// holds (signed by this signer's key) does not match the log.
	Alarm Alarm
	// UnhealthyAfter is how many attempts in a row may fail before Check
	// reports the signer (default 3).
	UnhealthyAfter int
	// Now is the clock; tests may pin it.
	Now func() time.Time
}

// Signer signs the chain at every multiple of Every, and the head whenever
// an event has waited Interval without a checkpoint, records the
// checkpoint in chain_checkpoints and publishes it. Run it on every
// replica: a transaction-scoped advisory lock lets one of them work at a
// time, and the table's primary key makes a second signature of a position
// impossible even without it.
type Signer struct {
	pool    *pgxpool.Pool
	events  EventReader
	key     ed25519.PrivateKey
	pub     Publisher
	notify  Notifications
	logger  *slog.Logger
	cfg     Config
	queries *checkpointdb.Queries

	// signing and witness are the runs of failed ticks and failed
	// comparisons with the published checkpoint, for Check.
	signing, witness health.Streak
}

// NewSigner prepares a signer; pub and notify may be nil (table only;
// polling only).
func NewSigner(pool *pgxpool.Pool, events EventReader, key ed25519.PrivateKey, pub Publisher, notify Notifications, logger *slog.Logger, cfg Config) (*Signer, error) {
	if err := ValidDeployment(cfg.Deployment); err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, domain.Errorf(domain.EINVALID, "the checkpoint signing key is not an Ed25519 private key")
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UnhealthyAfter <= 0 {
		cfg.UnhealthyAfter = 3
	}
	return &Signer{
		pool: pool, events: events, key: key, pub: pub, notify: notify, cfg: cfg,
		logger:  logger.With("component", "checkpoint", "key_id", KeyID(key.Public().(ed25519.PublicKey))),
		queries: checkpointdb.New(),
	}, nil
}

// Run signs and publishes until ctx ends, then returns nil. Failures are
// logged and retried on the next tick.
func (s *Signer) Run(ctx context.Context) error {
	var wake <-chan struct{}
	var head *pgnotify.Head
	if s.notify != nil {
		head = s.notify.ListenHead(pgnotify.ChannelEvents)
		defer head.Close()
		wake = head.C()
	}
	var due int64 // the next position worth signing; 0 while unknown
	woken, witnessed := false, false
	for {
		if !witnessed {
			err := s.CheckWitness(ctx)
			if err != nil && ctx.Err() == nil {
				s.witness.Fail(stepWitness, err)
				s.logger.Warn("checkpoint witness not checked yet; retrying", "error", err)
			}
			witnessed = err == nil
			if witnessed {
				s.witness.Succeed()
			}
		}
		if s.worthATick(ctx, woken, due, head) {
			if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("checkpoint signing failed; retrying", "error", err)
			}
			due = s.nextDue(ctx)
		}
		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
			woken = true
		case <-t.C:
			woken = false
		}
		t.Stop()
	}
}

// worthATick keeps the signer off the hot path: every append wakes it, but a
// checkpoint is due only every Every events. A wake-up is answered from the
// head the appends notified (head, no statement), which is never past the
// real head; only when that is unknown (no listener, the start, a loss of
// notifications) is the chain head read. A poll always ticks, which retries
// a failed publish and covers a lost notification; the tick itself reads
// the head under the signer lock.
func (s *Signer) worthATick(ctx context.Context, woken bool, due int64, head *pgnotify.Head) bool {
	if !woken || due == 0 {
		return true
	}
	if head != nil {
		if at, ok := head.Position(); ok {
			return at >= due
		}
	}
	at, err := s.queries.ChainHeadPosition(ctx, s.pool)
	if err != nil {
		return true
	}
	if head != nil {
		head.Observe(at)
	}
	return at >= due
}

// nextDue is the first multiple of Every after the newest checkpoint, or 0
// when it cannot be read.
func (s *Signer) nextDue(ctx context.Context) int64 {
	last, err := s.queries.LastCheckpointPosition(ctx, s.pool)
	if err != nil {
		return 0
	}
	return (last/s.cfg.Every + 1) * s.cfg.Every
}

// Tick signs the newest due checkpoint, if any, then publishes whatever is
// unpublished. It returns the position signed by this call (0 if none).
func (s *Signer) Tick(ctx context.Context) (int64, error) {
	signed, err := s.sign(ctx)
	if err != nil {
		s.signing.Fail(stepSign, err)
		return 0, err
	}
	if s.pub != nil {
		if err := s.publish(ctx); err != nil {
			s.signing.Fail(stepPublish, err)
			return signed, err
		}
	}
	s.signing.Succeed()
	return signed, nil
}

// sign signs the highest multiple of Every at or below the head or, when
// no multiple is due but the oldest unsigned event has waited Interval,
// the head itself. Skipped positions need no signature of their own: a
// later checkpoint commits to every earlier position through the chain.
func (s *Signer) sign(ctx context.Context) (int64, error) {
	var signed int64
	err := s.locked(ctx, func(tx pgx.Tx) error {
		last, err := s.queries.LastCheckpointPosition(ctx, tx)
		if err != nil {
			return fmt.Errorf("read last checkpoint: %w", err)
		}
		head, err := s.queries.ChainHeadPosition(ctx, tx)
		if err != nil {
			return fmt.Errorf("read chain head: %w", err)
		}
		due := head / s.cfg.Every * s.cfg.Every
		if due <= last {
			waited, err := s.waitedTooLong(ctx, last, head)
			if err != nil || !waited {
				return err
			}
			due = head
		}
		if due == 0 {
			return nil
		}
		// Read through the store's checks: a forged or unkeyed link is
		// never signed.
		events, err := s.events.ReadAll(ctx, due-1, 1)
		if err != nil {
			return fmt.Errorf("read event at position %d: %w", due, err)
		}
		if len(events) != 1 || events[0].Position != due {
			return fmt.Errorf("the log holds no event at position %d, below its head %d", due, head)
		}
		ev := events[0]
		c, err := Sign(s.key, s.cfg.Deployment, due, ev.Hash, ev.RecordedAt)
		if err != nil {
			return err
		}
		n, err := s.queries.InsertCheckpoint(ctx, tx, checkpointdb.InsertCheckpointParams{
			Position: c.Position, Hash: c.Hash, RecordedAt: pgtype.Timestamptz{Time: c.RecordedAt, Valid: true},
			Deployment: c.Deployment, KeyID: c.KeyID, PublicKey: c.PublicKey, Signature: c.Signature,
		})
		if err != nil {
			return fmt.Errorf("record checkpoint: %w", err)
		}
		if n == 1 {
			signed = due
			s.logger.Info("signed a chain checkpoint", "position", due)
		}
		return nil
	})
	return signed, err
}

// waitedTooLong reports whether the first event after the last checkpoint
// was recorded at least Interval ago.
func (s *Signer) waitedTooLong(ctx context.Context, last, head int64) (bool, error) {
	if head <= last {
		return false, nil
	}
	events, err := s.events.ReadAll(ctx, last, 1)
	if err != nil {
		return false, fmt.Errorf("read event at position %d: %w", last+1, err)
	}
	return len(events) == 1 && !events[0].RecordedAt.After(s.cfg.Now().Add(-s.cfg.Interval)), nil
}

// CheckWitness compares the newest checkpoint the publisher holds with the
// log and trips the alarm when they disagree: the stream outlives a
// database that was cut back or rewritten. Only a checkpoint signed with
// this signer's key is compared (anyone who may publish on the bus could
// put up another). Run does it once, retrying while it returns an error.
func (s *Signer) CheckWitness(ctx context.Context) error {
	reader, ok := s.pub.(LatestReader)
	if !ok || s.cfg.Alarm == nil {
		return nil
	}
	c, err := reader.Latest(ctx)
	if err != nil {
		return fmt.Errorf("read the newest published checkpoint: %w", err)
	}
	if c == nil {
		return nil
	}
	report, err := Compare(ctx, s.events, *c, s.key.Public().(ed25519.PublicKey))
	if err != nil && s.cfg.Alarm.Tripped() {
		return nil // the store's own check of that event failed and said so
	}
	if err != nil {
		return fmt.Errorf("compare the newest published checkpoint with the log: %w", err)
	}
	switch {
	case report.OK:
	case !report.SignatureValid:
		s.logger.Warn("the newest published checkpoint is not signed by this deployment's key; not compared",
			"position", c.Position, "key_id", c.KeyID, "reason", report.Reason)
	default:
		s.cfg.Alarm.Trip(min(c.Position, report.HeadPosition+1), "the published checkpoint disagrees with the log: "+report.Reason)
	}
	return nil
}

// publish sends unpublished checkpoints in position order and marks each
// once the publisher confirmed it.
func (s *Signer) publish(ctx context.Context) error {
	return s.locked(ctx, func(tx pgx.Tx) error {
		rows, err := s.queries.UnpublishedCheckpoints(ctx, tx, 100)
		if err != nil {
			return fmt.Errorf("read unpublished checkpoints: %w", err)
		}
		for _, r := range rows {
			c := Checkpoint{Deployment: r.Deployment, Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt.Time.UTC(),
				KeyID: r.KeyID, PublicKey: r.PublicKey, Signature: r.Signature}
			if err := s.pub.Publish(ctx, c); err != nil {
				return fmt.Errorf("publish checkpoint %d: %w", r.Position, err)
			}
			if err := s.queries.MarkPublished(ctx, tx, r.Position); err != nil {
				return fmt.Errorf("mark checkpoint %d published: %w", r.Position, err)
			}
		}
		return nil
	})
}

// locked runs fn in a transaction holding the signer lock, or does nothing
// when another replica holds it (that replica is doing the same work).
// A failed publish still commits the marks of those published before it.
func (s *Signer) locked(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return domain.WrapError(domain.EUNAVAILABLE, "the database is unavailable", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	ok, err := s.queries.TryLockSigner(ctx, tx, s.cfg.Deployment)
	if err != nil {
		return domain.WrapError(domain.EUNAVAILABLE, "the checkpoint lock cannot be taken", err)
	}
	if !ok {
		return nil
	}
	fnErr := fn(tx)
	err = tx.Commit(ctx)
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return domain.WrapError(domain.EUNAVAILABLE, "the checkpoint cannot be recorded", err)
	}
	return nil
}

// Latest returns the newest recorded checkpoint (ENOTFOUND if none).
func Latest(ctx context.Context, pool *pgxpool.Pool) (Checkpoint, error) {
	r, err := checkpointdb.New().LatestCheckpoint(ctx, pool)
	if errors.Is(err, pgx.ErrNoRows) {
		return Checkpoint{}, domain.Errorf(domain.ENOTFOUND, "no checkpoint has been signed yet")
	}
	if err != nil {
		return Checkpoint{}, domain.WrapError(domain.EUNAVAILABLE, "the checkpoints cannot be read", err)
	}
	return Checkpoint{Deployment: r.Deployment, Position: r.Position, Hash: r.Hash, RecordedAt: r.RecordedAt.Time.UTC(),
		KeyID: r.KeyID, PublicKey: r.PublicKey, Signature: r.Signature}, nil
}
