package checkpoint_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
)

const waitLimit = 90 * time.Second

func newKey(t *testing.T) ed25519.PrivateKey {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return key
}

func TestSignedBytesAreTheDocumentedText(t *testing.T) {
	t.Parallel()
	hash := make([]byte, 32)
	hash[31] = 0xab
	c := checkpoint.Checkpoint{Deployment: "prod-eu", Position: 1000, Hash: hash,
		RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))}
	require.Equal(t, "securevault-checkpoint-v1\ndeployment=prod-eu\nposition=1000\n"+
		"hash=00000000000000000000000000000000000000000000000000000000000000ab\n"+
		"recorded_at=2026-01-02T02:04:05.000006Z\n", string(c.SignedBytes()))
}

func TestSignatureVerification(t *testing.T) {
	t.Parallel()
	key, other := newKey(t), newKey(t)
	hash := make([]byte, 32)
	good, err := checkpoint.Sign(key, "prod", 500, hash, time.Now())
	require.NoError(t, err)
	pub := key.Public().(ed25519.PublicKey)

	cases := []struct {
		name    string
		mutate  func(c *checkpoint.Checkpoint)
		trusted ed25519.PublicKey
		wantErr string
	}{
		{name: "valid", mutate: func(*checkpoint.Checkpoint) {}},
		{name: "valid with the trusted key", mutate: func(*checkpoint.Checkpoint) {}, trusted: pub},
		{name: "forged signature", mutate: func(c *checkpoint.Checkpoint) { c.Signature[0] ^= 1 }, wantErr: "signature"},
		{name: "moved position", mutate: func(c *checkpoint.Checkpoint) { c.Position++ }, wantErr: "signature"},
		{name: "changed hash", mutate: func(c *checkpoint.Checkpoint) { c.Hash[0] ^= 1 }, wantErr: "signature"},
		{name: "other deployment", mutate: func(c *checkpoint.Checkpoint) { c.Deployment = "staging" }, wantErr: "signature"},
		{name: "re-signed by another key", mutate: func(c *checkpoint.Checkpoint) {
			*c, _ = checkpoint.Sign(other, c.Deployment, c.Position, c.Hash, c.RecordedAt)
		}, trusted: pub, wantErr: "not by the expected key"},
		{name: "key id of another key", mutate: func(c *checkpoint.Checkpoint) {
			c.KeyID = checkpoint.KeyID(other.Public().(ed25519.PublicKey))
		}, wantErr: "key id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A JSON round trip, as an auditor's file makes, before mutating.
			b, err := json.Marshal(good)
			require.NoError(t, err)
			c, err := checkpoint.Parse(b)
			require.NoError(t, err)
			tc.mutate(&c)
			err = c.VerifySignature(tc.trusted)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	seed := make([]byte, 32)
	seed[0] = 7
	for name, tc := range map[string]struct {
		value string
		ok    bool
	}{
		"standard base64": {base64.StdEncoding.EncodeToString(seed), true},
		"url base64":      {base64.RawURLEncoding.EncodeToString(seed), true},
		"too short":       {base64.StdEncoding.EncodeToString(seed[:16]), false},
		"not base64":      {"!!!", false},
	} {
		t.Run(name, func(t *testing.T) {
			key, err := checkpoint.ParseKey(tc.value)
			if !tc.ok {
				require.ErrorContains(t, err, checkpoint.EnvKey)
				return
			}
			require.NoError(t, err)
			require.Equal(t, seed, []byte(key.Seed()))
		})
	}
	t.Run("production requires the key; dev keeps a generated one", func(t *testing.T) {
		logger := slog.New(slog.DiscardHandler)
		_, err := checkpoint.LoadKey("", true, t.TempDir(), logger)
		require.ErrorContains(t, err, checkpoint.EnvKey)
		dir := t.TempDir()
		k1, err := checkpoint.LoadKey("", false, dir, logger)
		require.NoError(t, err)
		k2, err := checkpoint.LoadKey("", false, dir, logger)
		require.NoError(t, err)
		require.Equal(t, k1, k2)
	})
}

type fixture struct {
	db    *pgtest.Database
	store *eventstore.Store
	key   ed25519.PrivateKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), slog.New(slog.DiscardHandler), eventstore.Options{})
	t.Cleanup(store.Close)
	return &fixture{db: db, store: store, key: newKey(t)}
}

func appendEvents(t *testing.T, store *eventstore.Store, n int, tag string) {
	t.Helper()
	for i := range n {
		_, err := store.Append(context.Background(), domain.StreamID("thing", uuid.NewString()), domain.ExpectNoStream, domain.NewEvent{
			ID: uuid.NewString(), Type: "ThingHappened", SchemaVersion: 1,
			Data: json.RawMessage(fmt.Sprintf(`{"i":%d,"tag":%q}`, i, tag)), Metadata: domain.Metadata{Actor: "system"},
		})
		require.NoError(t, err)
	}
}

// signed appends 25 events, signs (every 10: position 20) and returns the
// checkpoint an auditor would export.
func (f *fixture) signed(t *testing.T) checkpoint.Checkpoint {
	t.Helper()
	ctx := context.Background()
	appendEvents(t, f.store, 25, "original")
	s, err := checkpoint.NewSigner(f.db.AppPool, f.store, f.key, nil, nil, slog.New(slog.DiscardHandler), checkpoint.Config{Deployment: "test", Every: 10})
	require.NoError(t, err)
	pos, err := s.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(20), pos, "the highest multiple of Every at or below the head")
	pos, err = s.Tick(ctx)
	require.NoError(t, err)
	require.Zero(t, pos, "nothing new to sign")
	c, err := checkpoint.Latest(ctx, f.db.AppPool)
	require.NoError(t, err)
	require.Equal(t, int64(20), c.Position)
	// What the auditor keeps is the exported JSON.
	b, err := json.Marshal(c)
	require.NoError(t, err)
	kept, err := checkpoint.Parse(b)
	require.NoError(t, err)
	return kept
}

func (f *fixture) tamper(t *testing.T, statements ...string) {
	t.Helper()
	su := f.db.Superuser(t)
	_, err := su.Exec(context.Background(), "SET session_replication_role = replica") // disables the guard triggers
	require.NoError(t, err)
	for _, s := range statements {
		_, err := su.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}

func TestCheckAgainstTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name    string
		attack  func(t *testing.T, f *fixture, c *checkpoint.Checkpoint)
		trusted bool
		reason  string // empty: the check passes
	}{
		{name: "untouched log", attack: func(*testing.T, *fixture, *checkpoint.Checkpoint) {}},
		{name: "untouched log, more events since", attack: func(t *testing.T, f *fixture, _ *checkpoint.Checkpoint) {
			appendEvents(t, f.store, 5, "later")
		}, trusted: true},
		{name: "event before the checkpoint changed", attack: func(t *testing.T, f *fixture, _ *checkpoint.Checkpoint) {
			f.tamper(t, `UPDATE events SET data = '{"i":999}' WHERE position = 5`)
		}, reason: "chain breaks at position 5"},
		{name: "tail truncated below the checkpoint, head forged", attack: func(t *testing.T, f *fixture, _ *checkpoint.Checkpoint) {
			f.tamper(t, "DELETE FROM events WHERE position > 15",
				"UPDATE event_chain_head SET position = 15, hash = (SELECT hash FROM events WHERE position = 15)")
		}, reason: "tail was cut"},
		{name: "log rewritten wholesale with a consistent chain", attack: func(t *testing.T, f *fixture, _ *checkpoint.Checkpoint) {
			f.tamper(t, "DELETE FROM events",
				"UPDATE event_chain_head SET position = 0, hash = decode(repeat('00', 32), 'hex'), recorded_at = '-infinity'")
			// A new store (no cached head) appends a fresh, self-consistent
			// chain: the plain verify cannot tell.
			store := eventstore.New(f.db.AppPool, f.db.ChainKeys(t), slog.New(slog.DiscardHandler), eventstore.Options{})
			defer store.Close()
			appendEvents(t, store, 30, "forged")
			report, err := store.Verify(ctx, nil)
			require.NoError(t, err)
			require.True(t, report.OK, "the rewritten chain is consistent in itself")
		}, reason: "rewritten"},
		{name: "forged signature", attack: func(_ *testing.T, _ *fixture, c *checkpoint.Checkpoint) {
			c.Signature[10] ^= 0x40
		}, reason: "signature is not valid"},
		{name: "checkpoint of another signer", attack: func(t *testing.T, _ *fixture, c *checkpoint.Checkpoint) {
			*c, _ = checkpoint.Sign(newKey(t), c.Deployment, c.Position, c.Hash, c.RecordedAt)
		}, trusted: true, reason: "not by the expected key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			kept := f.signed(t)
			tc.attack(t, f, &kept)
			var trusted ed25519.PublicKey
			if tc.trusted {
				trusted = f.key.Public().(ed25519.PublicKey)
			}
			// A fresh store, as vaultctl verify opens.
			store := eventstore.New(f.db.AppPool, f.db.ChainKeys(t), slog.New(slog.DiscardHandler), eventstore.Options{})
			defer store.Close()
			report, err := checkpoint.Check(ctx, store, kept, trusted, nil)
			require.NoError(t, err)
			if tc.reason == "" {
				require.True(t, report.OK, "%+v", report)
				require.True(t, report.HashMatches)
				return
			}
			require.False(t, report.OK)
			require.Contains(t, report.Reason, tc.reason)
		})
	}
}

// countingPublisher wraps the real JetStream publisher and counts publishes
// per position, across every signer that shares it.
type countingPublisher struct {
	*checkpoint.JetStreamPublisher
	mu    *sync.Mutex
	count map[int64]int
}

func (p countingPublisher) Publish(ctx context.Context, c checkpoint.Checkpoint) error {
	if err := p.JetStreamPublisher.Publish(ctx, c); err != nil {
		return err
	}
	p.mu.Lock()
	p.count[c.Position]++
	p.mu.Unlock()
	return nil
}

func TestTwoSignersSignAndPublishEachCheckpointOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	ns := natstest.Start(t)
	logger := slog.New(slog.DiscardHandler)
	mu, count := &sync.Mutex{}, map[int64]int{}
	suffix := strings.ToUpper(hex.EncodeToString([]byte(uuid.NewString()[:4])))

	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var js jetstream.JetStream
	for range 2 {
		// Each replica has its own connections, listener and publisher.
		l := pgnotify.NewListener(f.db.URL, logger)
		jp, err := checkpoint.NewJetStreamPublisher(natstest.Connect(t, ns.URL()), "EV_"+suffix, "t"+strings.ToLower(suffix)+".vault.events")
		require.NoError(t, err)
		s, err := checkpoint.NewSigner(f.db.AppPool, f.store, f.key, countingPublisher{jp, mu, count}, l, logger,
			checkpoint.Config{Deployment: "test", Every: 5, PollInterval: 50 * time.Millisecond})
		require.NoError(t, err)
		wg.Go(func() { _ = l.Run(runCtx) })
		wg.Go(func() { _ = s.Run(runCtx) })
		js, err = jetstream.New(natstest.Connect(t, ns.URL()))
		require.NoError(t, err)
	}
	for range 20 {
		appendEvents(t, f.store, 5, "x")
	}
	require.Eventually(t, func() bool {
		var unpublished int
		var last int64
		err := f.db.Pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE published_at IS NULL), COALESCE(max(position), 0) FROM chain_checkpoints").Scan(&unpublished, &last)
		return err == nil && unpublished == 0 && last == 100
	}, waitLimit, 20*time.Millisecond, "the checkpoint at 100 is signed and everything is published")
	cancel()
	wg.Wait()

	var rows int
	require.NoError(t, f.db.Pool.QueryRow(ctx, "SELECT count(*) FROM chain_checkpoints").Scan(&rows))
	require.Len(t, count, rows)
	for pos, n := range count {
		require.Equal(t, 1, n, "checkpoint %d published once", pos)
		require.Zero(t, pos%5)
	}
	stream, err := js.Stream(ctx, "EV_"+suffix+"_CHECKPOINTS")
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(rows), info.State.Msgs)
	last, err := stream.GetLastMsgForSubject(ctx, "t"+strings.ToLower(suffix)+".vault.events-checkpoints.100")
	require.NoError(t, err)
	c, err := checkpoint.Parse(last.Data)
	require.NoError(t, err)
	require.NoError(t, c.VerifySignature(f.key.Public().(ed25519.PublicKey)), "what is on the bus verifies")
}
