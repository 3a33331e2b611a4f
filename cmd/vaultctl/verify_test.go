package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/checkpoint"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/tamper"
	"github.com/securevault/vault/relay"
)

// published is a deployment whose log (12 events) is on JetStream, with a
// signed checkpoint at position 10 on the checkpoint stream.
type published struct {
	db     *pgtest.Database
	nats   *natstest.Server
	stream string
	seed   []byte
}

func newPublished(t *testing.T) *published {
	t.Helper()
	ctx := context.Background()
	p := &published{db: pgtest.New(t), nats: natstest.Start(t), stream: "VAULT_CTL_" + strings.ToUpper(uuid.NewString()[:8]), seed: make([]byte, 32)}
	_, err := rand.Read(p.seed)
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	store := eventstore.New(p.db.AppPool, p.db.ChainKeys(t), logger, eventstore.Options{})
	defer store.Close()
	for i := range 12 {
		_, err := store.Append(ctx, "policy-"+uuid.NewString(), domain.ExpectNoStream, domain.NewEvent{
			ID: uuid.NewString(), Type: domain.EventPolicyCreated, SchemaVersion: 1,
			Data: json.RawMessage(`{"effect":"deny","n":` + strings.Repeat("1", i+1) + `}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
		})
		require.NoError(t, err)
	}
	nc := natstest.Connect(t, p.nats.URL())
	r, err := relay.New(p.db.AppPool, store, nc, nil, logger, nil, relay.Config{
		Stream: p.stream, SubjectPrefix: strings.ToLower(p.stream) + ".events", PollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := js.Stream(ctx, p.stream)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 12
	}, 60*time.Second, 20*time.Millisecond)
	stop()
	require.NoError(t, <-done)

	jp, err := checkpoint.NewJetStreamPublisher(nc, p.stream, strings.ToLower(p.stream)+".events")
	require.NoError(t, err)
	signer, err := checkpoint.NewSigner(p.db.AppPool, store, ed25519.NewKeyFromSeed(p.seed), jp, nil, logger, checkpoint.Config{Deployment: p.stream, Every: 5})
	require.NoError(t, err)
	pos, err := signer.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(10), pos)
	return p
}

// verify runs `vaultctl verify` against the deployment, as an operator would.
func (p *published) verify(t *testing.T) (string, error) {
	t.Helper()
	for name, value := range map[string]string{
		config.EnvMode:            "dev",
		config.EnvDatabaseURL:     p.db.URL,
		config.EnvNATSURL:         p.nats.URL(),
		config.EnvChainKey:        base64.StdEncoding.EncodeToString(p.db.ChainKey),
		config.EnvCheckpointKey:   base64.StdEncoding.EncodeToString(p.seed),
		config.EnvDataDir:         t.TempDir(),
		config.EnvJetStreamStream: p.stream,
		config.EnvSubjectPrefix:   strings.ToLower(p.stream) + ".events",
	} {
		t.Setenv(name, value)
	}
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs([]string{"verify"})
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestVerifyReportsTheObservedAttacks: the two rewrites of the log that
// `vaultctl verify` used to call intact.
func TestVerifyReportsTheObservedAttacks(t *testing.T) { // not parallel: it sets the environment
	t.Run("intact log and witnesses", func(t *testing.T) {
		p := newPublished(t)
		out, err := p.verify(t)
		require.NoError(t, err, out)
		require.Contains(t, out, "OK: 12 events verified")
		require.Contains(t, out, "ends with event")
		require.Contains(t, out, "checkpoint (position 10")
	})
	t.Run("forged event with a recomputed SHA-256 chain", func(t *testing.T) {
		p := newPublished(t)
		tamper.Rechain(t, p.db.Superuser(t), 4, func(data string) string { return strings.Replace(data, "deny", "allow", 1) })
		out, err := p.verify(t)
		require.Error(t, err, out)
		require.Contains(t, out, "TAMPERED: first bad position 4")
	})
	t.Run("truncated tail with the head moved back", func(t *testing.T) {
		p := newPublished(t)
		tamper.TruncateTail(t, p.db.Superuser(t), 8)
		out, err := p.verify(t)
		require.Error(t, err, out)
		require.Contains(t, out, "OK: 8 events verified", "the shortened chain is consistent in itself")
		require.Contains(t, out, "TAMPERED: position 9: JetStream stream "+p.stream+" ends with event")
		require.Contains(t, out, "the log lost its tail")
		require.Contains(t, out, "TAMPERED: published checkpoint at position 10")
	})
}
