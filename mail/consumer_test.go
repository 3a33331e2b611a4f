package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/smtptest"
	"github.com/securevault/vault/relay"
)

// users is a fixed set of users, folded from their first events, standing
// in for the log.
type users map[string]*domain.User

func (u users) User(_ context.Context, id string) (*domain.User, error) {
	if x, ok := u[id]; ok {
		return x, nil
	}
	return nil, domain.Errorf(domain.ENOTFOUND, "user not found")
}

// newUsers makes n users (ids derived from seed, so a helper process makes
// the same ones) and the UserCreated envelope of each.
func newUsers(t testing.TB, seed string, n int) (users, []relay.Envelope) {
	t.Helper()
	out := users{}
	var envs []relay.Envelope
	for i := range n {
		id := fmt.Sprintf("%s-0000-4000-8000-%012d", seed, i)
		u, err := domain.NewUser(id, fmt.Sprintf("user%d", i), fmt.Sprintf("user%d@example.com", i), domain.SealedPassword{Version: 1, Sealed: []byte("sealed")})
		require.NoError(t, err)
		var recorded []domain.RecordedEvent
		for v, ev := range u.Changes() {
			recorded = append(recorded, domain.RecordedEvent{
				StreamID: u.StreamID(), Version: int64(v + 1), ID: fmt.Sprintf("%s-0000-4000-9000-%012d", seed, i), Type: ev.Type,
				SchemaVersion: ev.SchemaVersion, Data: ev.Data, RecordedAt: time.Now(),
			})
		}
		loaded, err := domain.LoadUser(recorded)
		require.NoError(t, err)
		out[id] = loaded
		ev := recorded[0]
		envs = append(envs, relay.Envelope{
			Position: int64(i + 1), StreamID: ev.StreamID, Version: ev.Version, EventID: ev.ID, Type: ev.Type,
			SchemaVersion: ev.SchemaVersion, Data: ev.Data, RecordedAt: ev.RecordedAt,
		})
	}
	return out, envs
}

// deadLog records dead letters instead of appending them to a log.
type deadLog struct {
	mu      sync.Mutex
	appends []domain.StreamAppend
}

// waitAppends waits until n dead letters were appended: between attempts a
// retried message waits out its backoff neither pending nor unacknowledged
// on the consumer, so the consumer's counters alone can look settled before
// the last attempt was made.
func (l *deadLog) waitAppends(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.appends) >= n
	}, 60*time.Second, 20*time.Millisecond)
}

func (l *deadLog) AppendStreams(_ context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appends = append(l.appends, appends...)
	return domain.AppendResult{LastPosition: int64(len(l.appends))}, nil
}

type env struct {
	dbURL, natsURL, stream, prefix string
	smtpPort                       int
}

func (e env) config() Config {
	return Config{
		Stream: e.stream, SubjectPrefix: e.prefix, PublicURL: "http://vault.test",
		AckWait: time.Second, FetchWait: 200 * time.Millisecond, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
	}
}

func (e env) consumer(t testing.TB, u users, log Log, sender Sender, cfg Config) (*Consumer, *pgxpool.Pool, *nats.Conn) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), e.dbURL)
	require.NoError(t, err)
	nc, err := nats.Connect(e.natsURL)
	require.NoError(t, err)
	c, err := NewConsumer(Deps{Pool: pool, NATS: nc, Users: u, Log: log, Sender: sender}, cfg)
	require.NoError(t, err)
	return c, pool, nc
}

func publish(t testing.TB, natsURL, prefix string, envs []relay.Envelope) {
	t.Helper()
	nc := natstest.Connect(t, natsURL)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	for _, ev := range envs {
		data, err := json.Marshal(ev)
		require.NoError(t, err)
		_, err = js.Publish(context.Background(), prefix+".user."+ev.Type, data, jetstream.WithMsgID(ev.EventID))
		require.NoError(t, err)
	}
}

func setup(t *testing.T) (env, *smtptest.Server) {
	t.Helper()
	db := pgtest.New(t)
	ns := natstest.Start(t)
	suffix := strings.ReplaceAll(domain.NewID()[:8], "-", "")
	e := env{dbURL: db.URL, natsURL: ns.URL(), stream: "MAIL_TEST_" + suffix, prefix: "mail" + suffix + ".events"}
	js, err := jetstream.New(natstest.Connect(t, e.natsURL))
	require.NoError(t, err)
	_, err = js.CreateStream(context.Background(), jetstream.StreamConfig{Name: e.stream, Subjects: []string{e.prefix + ".>"}})
	require.NoError(t, err)
	srv := smtptest.Start(t)
	e.smtpPort = srv.Port
	return e, srv
}

func smtpSender(t testing.TB, port int) *SMTP {
	t.Helper()
	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, From: "vault@example.com", Security: TLSNone})
	require.NoError(t, err)
	return s
}

// settled waits until the durable consumer has acknowledged everything.
func settled(t *testing.T, e env) {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, e.natsURL))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cons, err := js.Consumer(context.Background(), e.stream, DefaultConsumer)
		if err != nil {
			return false
		}
		info, err := cons.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
	}, 60*time.Second, 50*time.Millisecond)
}

// TestConsumerKilledMidDeliverySendsEachMailOnce kills a consumer process
// (SIGKILL) at the two points that matter, after the mail was sent and
// recorded but before the acknowledgement, and after the token was stored
// but before the send, then restarts it: every mail arrives exactly once.
func TestConsumerKilledMidDeliverySendsEachMailOnce(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"after-commit", "before-send"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			e, srv := setup(t)
			seed := strings.ReplaceAll(domain.NewID()[:8], "-", "")
			u, envs := newUsers(t, seed, 3)
			publish(t, e.natsURL, e.prefix, envs)

			cmd := exec.Command(os.Args[0], "-test.run=^TestConsumerHelperProcess$") //nolint:gosec // G204: re-runs this test binary as a helper process
			cmd.Env = append(os.Environ(), "MAIL_HELPER=1", "MAIL_KILL_AT="+point, "MAIL_SEED="+seed,
				"MAIL_DB="+e.dbURL, "MAIL_NATS="+e.natsURL, "MAIL_STREAM="+e.stream, "MAIL_PREFIX="+e.prefix,
				"MAIL_SMTP_PORT="+strconv.Itoa(e.smtpPort))
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, string(out))
			status, ok := exit.Sys().(syscall.WaitStatus)
			require.True(t, ok && status.Signaled() && status.Signal() == syscall.SIGKILL, "the helper was killed: %s", out)
			sentBefore := len(srv.Mails())
			if point == "after-commit" {
				require.Equal(t, 1, sentBefore, "killed after its first mail")
			} else {
				require.Zero(t, sentBefore, "killed before its first send")
			}

			// The restart: the unacknowledged message comes back.
			c, pool, nc := e.consumer(t, u, &deadLog{}, smtpSender(t, e.smtpPort), e.config())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			srv.Wait(t, 3, 60*time.Second)
			settled(t, e)
			cancel()
			require.NoError(t, <-done)
			nc.Close()

			mails := srv.Mails()
			require.Len(t, mails, 3, "each mail exactly once")
			seen := map[string]bool{}
			for _, m := range mails {
				require.False(t, seen[m.To[0]], "%s got two mails", m.To[0])
				seen[m.To[0]] = true
			}
			var sent int
			require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM mail_deliveries WHERE status = 'sent'").Scan(&sent))
			require.Equal(t, 3, sent)
			pool.Close()
		})
	}
}

// TestConsumerHelperProcess is the consumer the kill test runs as a child
// process and kills; it does nothing in a normal run.
func TestConsumerHelperProcess(t *testing.T) {
	if os.Getenv("MAIL_HELPER") != "1" {
		t.Skip("run by TestConsumerKilledMidDeliverySendsEachMailOnce")
	}
	port, _ := strconv.Atoi(os.Getenv("MAIL_SMTP_PORT"))
	e := env{dbURL: os.Getenv("MAIL_DB"), natsURL: os.Getenv("MAIL_NATS"), stream: os.Getenv("MAIL_STREAM"), prefix: os.Getenv("MAIL_PREFIX"), smtpPort: port}
	u, _ := newUsers(t, os.Getenv("MAIL_SEED"), 3)
	var sender Sender = smtpSender(t, port)
	kill := func(string) { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	if os.Getenv("MAIL_KILL_AT") == "before-send" {
		sender = killingSender{kill: kill}
	}
	c, _, _ := e.consumer(t, u, &deadLog{}, sender, e.config())
	if os.Getenv("MAIL_KILL_AT") == "after-commit" {
		c.afterCommit = kill
	}
	_ = c.Run(context.Background())
}

// killingSender dies when asked to send, after the token was stored.
type killingSender struct{ kill func(string) }

func (k killingSender) Send(context.Context, Message) error { k.kill(""); return nil }

// TestConsumerRetriesThenDeadLetters: a refusal worth retrying is retried
// with backoff until the last attempt, then dead-lettered (an event and a
// record); a permanent refusal is dead-lettered at once. A redelivered
// event whose mail was decided sends nothing.
func TestConsumerRetriesThenDeadLetters(t *testing.T) {
	t.Parallel()
	e, srv := setup(t)
	seed := strings.ReplaceAll(domain.NewID()[:8], "-", "")
	u, envs := newUsers(t, seed, 2)
	srv.FailNext(3, 451)
	publish(t, e.natsURL, e.prefix, envs[:1])
	log := &deadLog{}
	cfg := e.config()
	cfg.MaxAttempts = 3
	c, pool, nc := e.consumer(t, u, log, smtpSender(t, e.smtpPort), cfg)
	defer pool.Close()
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	}()
	log.waitAppends(t, 1)
	settled(t, e)
	require.Empty(t, srv.Mails())
	log.mu.Lock()
	require.Len(t, log.appends, 1)
	dead := log.appends[0]
	log.mu.Unlock()
	require.Equal(t, domain.MailStream(envs[0].EventID), dead.StreamID)
	require.Equal(t, domain.ExpectNoStream, dead.Expected)
	var d domain.MailDeadLettered
	require.NoError(t, json.Unmarshal(dead.Events[0].Data, &d))
	require.Equal(t, 3, d.Attempts)
	require.Contains(t, d.Reason, "451")

	// Permanent: one attempt.
	srv.FailNext(1, 550)
	publish(t, e.natsURL, e.prefix, envs[1:])
	log.waitAppends(t, 2)
	settled(t, e)
	log.mu.Lock()
	require.Len(t, log.appends, 2)
	require.NoError(t, json.Unmarshal(log.appends[1].Events[0].Data, &d))
	log.mu.Unlock()
	require.Equal(t, 1, d.Attempts)

	// Republished under a new message id (the bus dedupes the same id):
	// decided already, so nothing is sent.
	again := envs[1]
	data, _ := json.Marshal(again)
	js, _ := jetstream.New(nc)
	_, err := js.Publish(ctx, e.prefix+".user."+again.Type, data)
	require.NoError(t, err)
	settled(t, e)
	require.Empty(t, srv.Mails())
	var statuses []string
	rows, err := pool.Query(ctx, "SELECT status FROM mail_deliveries ORDER BY status")
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		statuses = append(statuses, s)
	}
	require.Equal(t, []string{"dead", "dead"}, statuses)
}

// TestTwoConsumersShareTheWork runs two consumers (two replicas) on one
// durable consumer while every event is also published a second time under
// another message id: each mail is sent exactly once.
func TestTwoConsumersShareTheWork(t *testing.T) {
	t.Parallel()
	e, srv := setup(t)
	seed := strings.ReplaceAll(domain.NewID()[:8], "-", "")
	u, envs := newUsers(t, seed, 12)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		c, pool, nc := e.consumer(t, u, &deadLog{}, smtpSender(t, e.smtpPort), e.config())
		defer pool.Close()
		defer nc.Close()
		wg.Go(func() { _ = c.Run(ctx) })
	}
	publish(t, e.natsURL, e.prefix, envs)
	js, err := jetstream.New(natstest.Connect(t, e.natsURL))
	require.NoError(t, err)
	for _, ev := range envs {
		data, err := json.Marshal(ev)
		require.NoError(t, err)
		_, err = js.Publish(ctx, e.prefix+".user."+ev.Type, data) // no message id: not deduplicated by the bus
		require.NoError(t, err)
	}
	srv.Wait(t, len(envs), 60*time.Second)
	settled(t, e)
	cancel()
	wg.Wait()
	mails := srv.Mails()
	require.Len(t, mails, len(envs))
	seen := map[string]bool{}
	for _, m := range mails {
		require.False(t, seen[m.To[0]], "%s got two mails", m.To[0])
		seen[m.To[0]] = true
	}
}

// TestAConsumerOfAnOlderVersionFiltersTheNewSubjects: a durable consumer
// created by a version that asked mail for fewer event types is updated in
// place (same consumer, same position) to the subjects this version asks
// for, so an event type added since (EmailVerificationRequested) reaches it.
func TestAConsumerOfAnOlderVersionFiltersTheNewSubjects(t *testing.T) {
	t.Parallel()
	e, _ := setup(t)
	ctx := context.Background()
	js, err := jetstream.New(natstest.Connect(t, e.natsURL))
	require.NoError(t, err)
	p := e.prefix + "." + domain.UserAggregate + "."
	old := []string{p + domain.EventUserCreated, p + domain.EventUserUpdated, p + domain.EventPasswordResetRequested}
	created, err := js.CreateConsumer(ctx, e.stream, jetstream.ConsumerConfig{
		Durable: DefaultConsumer, AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: old,
	})
	require.NoError(t, err)

	c, pool, nc := e.consumer(t, users{}, &deadLog{}, smtpSender(t, e.smtpPort), e.config())
	defer pool.Close()
	defer nc.Close()
	cons, err := c.consumer(ctx)
	require.NoError(t, err)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, c.subjects(), info.Config.FilterSubjects)
	require.Contains(t, info.Config.FilterSubjects, p+domain.EventEmailVerificationRequested)
	require.Equal(t, created.CachedInfo().Created, info.Created, "the same consumer, updated in place")

	again, err := c.consumer(ctx)
	require.NoError(t, err)
	require.Equal(t, info.Created, again.CachedInfo().Created, "nothing to change the second time")
}
