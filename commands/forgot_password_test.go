package commands_test

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/password"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/identity"
)

// countingLog counts what a command asks of the log, by kind.
type countingLog struct {
	*eventstore.Store
	mu     sync.Mutex
	counts map[string]int
}

func (l *countingLog) count(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[kind]++
}

func (l *countingLog) take() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.counts
	l.counts = map[string]int{}
	return out
}

func (l *countingLog) ReadStream(ctx context.Context, streamID string, after int64, limit int) ([]domain.RecordedEvent, error) {
	l.count("read")
	return l.Store.ReadStream(ctx, streamID, after, limit)
}

func (l *countingLog) AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error) {
	l.count("append")
	for range appends {
		l.count("stream appended")
	}
	return l.Store.AppendStreams(ctx, appends...)
}

type countingDirectory struct {
	commands.UserDirectory
	log *countingLog
}

func (d countingDirectory) UserIDsByEmail(ctx context.Context, email string, limit int) ([]string, error) {
	d.log.count("directory")
	return d.UserDirectory.UserIDsByEmail(ctx, email, limit)
}

type noTokens struct{}

func (noTokens) LookupEmailToken(context.Context, []byte) (domain.EmailTokenRecord, error) {
	return domain.EmailTokenRecord{}, domain.Errorf(domain.ENOTFOUND, "none")
}
func (noTokens) ConsumeEmailToken(context.Context, []byte, time.Time) error { return nil }

// newForgotEnv is the identity commands over a real store with the
// identity read model, a counting log and one registered user, dora.
func newForgotEnv(t testing.TB, requestsPerHour int) (*commands.Identity, *countingLog, domain.Caller) {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), vaulttest.Logger(), eventstore.Options{})
	t.Cleanup(store.Close)
	log := &countingLog{Store: store, counts: map[string]int{}}
	waiter := vaulttest.RunProjections(t, db, store, nil, projections.Options{}, identity.New())
	svc := commands.NewService(log, waiter, vaulttest.Logger(), commands.Options{ReadYourWritesTimeout: 10 * time.Second})
	hasher, err := password.New(password.Config{Params: password.Params{Memory: 7168, Iterations: 5, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	require.NoError(t, err)
	tokenKeys, err := authtoken.NewKeyring(rand.Text() + rand.Text())
	require.NoError(t, err)
	tokens, err := authtoken.New(tokenKeys, authtoken.Config{})
	require.NoError(t, err)
	ident, err := commands.NewIdentity(svc, commands.IdentityDeps{Hasher: hasher, Tokens: tokens, DataKeys: vaulttest.DataKeys(t, db)},
		commands.IdentityOptions{LoginIPRate: -1, LoginAccountRate: -1})
	require.NoError(t, err)
	require.NoError(t, ident.EnableAccountEmail(commands.AccountEmailDeps{
		Tokens: noTokens{}, Directory: countingDirectory{UserDirectory: identity.NewReader(db.AppPool), log: log},
	}, commands.AccountEmailOptions{SelfRegistration: true, IPRate: -1, RequestsPerHour: requestsPerHour}))

	caller := domain.Caller{ClientIP: "192.0.2.7"}
	_, _, err = ident.Register(ctx, caller, commands.RegisterInput{Username: "dora", Email: "dora@example.com", Password: "a-long-enough-passphrase"})
	require.NoError(t, err)

	return ident, log, caller
}

// TestAccountMailRequestsDoTheSameWorkForAnyAddress is the no-oracle rule
// without a stopwatch: for a known address and an unknown one,
// forgot-password and resend-verification each ask the directory once,
// read one stream, append one stream once, and answer the same (nil).
func TestAccountMailRequestsDoTheSameWorkForAnyAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ident, log, caller := newForgotEnv(t, 0)
	want := map[string]int{"directory": 1, "read": 1, "append": 1, "stream appended": 1}
	for _, request := range []struct {
		name string
		ask  func(context.Context, domain.Caller, string) error
	}{
		{"forgot-password", ident.ForgotPassword},
		{"resend-verification", ident.ResendVerification},
	} {
		for _, tc := range []struct{ name, email string }{
			{"known address", "dora@example.com"},
			{"unknown address", "nobody@example.com"},
		} {
			t.Run(request.name+"/"+tc.name, func(t *testing.T) {
				log.take()
				require.NoError(t, request.ask(ctx, caller, tc.email))
				require.Equal(t, want, log.take())
			})
		}
	}
}

// BenchmarkForgotPassword times forgot-password for a known and an unknown
// address; the two should match (compare ns/op of the sub-benchmarks).
func BenchmarkForgotPassword(b *testing.B) {
	ident, _, caller := newForgotEnv(b, 1_000_000_000)
	for _, bc := range []struct{ name, email string }{{"known", "dora@example.com"}, {"unknown", "nobody@example.com"}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := ident.ForgotPassword(context.Background(), caller, bc.email); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
