package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/securevault/vault/backoff"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/mail/internal/maildb"
	"github.com/securevault/vault/relay"
)

// Defaults of Config.
const (
	DefaultConsumer       = "vault-mail"
	DefaultMaxAttempts    = 8
	DefaultAckWait        = 60 * time.Second
	DefaultFetchWait      = 5 * time.Second
	DefaultInitialBackoff = 2 * time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	defaultLockTimeout    = 5 * time.Second
)

// Config tunes a Consumer. Zero values take the defaults.
type Config struct {
	// Stream and SubjectPrefix are the relay's.
	Stream        string
	SubjectPrefix string
	// Consumer is the durable consumer every replica shares: JetStream
	// hands each message to one of them.
	Consumer    string
	MaxAttempts int
	// ResetTTL and VerifyTTL are the tokens' lifetimes. An event older
	// than its mail's lifetime is not mailed any more: the user has given
	// up, or a new consumer is meeting old history.
	ResetTTL, VerifyTTL time.Duration
	// PublicURL is the API's base (verification links), FrontendURL the
	// UI's (reset links).
	PublicURL, FrontendURL string
	// AckWait is how long a delivery may take before JetStream hands it to
	// another replica (which then waits on the delivery's row lock).
	AckWait                    time.Duration
	FetchWait                  time.Duration
	InitialBackoff, MaxBackoff time.Duration
}

func (c Config) withDefaults() Config {
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.ResetTTL <= 0 {
		c.ResetTTL = 30 * time.Minute
	}
	if c.VerifyTTL <= 0 {
		c.VerifyTTL = 24 * time.Hour
	}
	if c.FrontendURL == "" {
		c.FrontendURL = c.PublicURL
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.FetchWait <= 0 {
		c.FetchWait = DefaultFetchWait
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = DefaultInitialBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	return c
}

// Users loads a user as the log has it now; *fold.Loader satisfies it.
type Users interface {
	User(ctx context.Context, userID string) (*domain.User, error)
}

// Log appends the dead-letter events; *eventstore.Store satisfies it.
type Log interface {
	AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error)
}

// Consumer reacts to the events that ask for mail (UserCreated and
// UserUpdated with an address, PasswordResetRequested) and sends it.
//
// Exactly once. Each event's mail is decided in one PostgreSQL transaction
// that first claims the event's row in mail_deliveries (a second replica or
// a redelivery of the same event waits on that row lock, then finds the
// outcome), then mints the token and stores its hashes, sends, records
// "sent" and commits; only then is the message acknowledged. A crash before
// the commit rolls everything back, the token included (a mail that went
// and the redelivered message sends again; a crash after the commit and
// before the acknowledgement finds "sent" and sends nothing. The token's
// hashes are committed just before the send, on their own, so a link works
// the moment its mail arrives. The one window left is a crash after the
// provider accepted the mail and before the commit: the mail is then sent
// twice (both links work until one is used). No mail is ever lost.
//
// Failures are retried with exponential backoff (NAK with a delay); after
// MaxAttempts deliveries, or at once on a permanent refusal, the mail is
// dead-lettered: MailDeadLettered on the mail-<event id> stream (in the
// audit log), "dead" in mail_deliveries, and the dead-letter metric.
type Consumer struct {
	pool      *pgxpool.Pool
	store     *Store
	js        jetstream.JetStream
	users     Users
	log       Log
	sender    Sender
	templates *Templates
	logger    *slog.Logger
	metrics   *metrics
	cfg       Config
	backoff   *backoff.Backoff
	now       func() time.Time
	// afterCommit runs between the commit and the acknowledgement (tests
	// kill the process there).
	afterCommit func(eventID string)
}

// Deps are the Consumer's collaborators.
type Deps struct {
	Pool    *pgxpool.Pool
	NATS    *nats.Conn
	Users   Users
	Log     Log
	Sender  Sender
	Logger  *slog.Logger
	Metrics *Metrics
}

// NewConsumer prepares a consumer; Run does the work.
func NewConsumer(deps Deps, cfg Config) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if deps.Pool == nil || deps.NATS == nil || deps.Users == nil || deps.Log == nil || deps.Sender == nil {
		return nil, errors.New("mail: the consumer needs a pool, NATS, users, the log and a sender")
	}
	if cfg.Stream == "" || cfg.SubjectPrefix == "" || cfg.PublicURL == "" {
		return nil, errors.New("mail: the consumer needs the stream, its subject prefix and the public URL")
	}
	js, err := jetstream.New(deps.NATS)
	if err != nil {
		return nil, fmt.Errorf("mail: jetstream: %w", err)
	}
	tpl, err := LoadTemplates()
	if err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	return &Consumer{
		pool: deps.Pool, store: NewStore(deps.Pool), js: js, users: deps.Users, log: deps.Log, sender: deps.Sender,
		templates: tpl, logger: deps.Logger.With("consumer", cfg.Consumer), metrics: deps.Metrics.m,
		cfg: cfg, backoff: backoff.New(cfg.InitialBackoff, cfg.MaxBackoff), now: time.Now,
	}, nil
}

// subjects are the event types that ask for mail.
func (c *Consumer) subjects() []string {
	p := c.cfg.SubjectPrefix + "." + domain.UserAggregate + "."
	return []string{p + domain.EventUserCreated, p + domain.EventUserUpdated, p + domain.EventEmailVerificationRequested,
		p + domain.EventPasswordResetRequested}
}

// withSubjects makes an existing consumer filter the subjects this version
// asks mail for: a consumer created by an older version keeps the subjects
// it was created with, and would never deliver an event type added since.
// Nothing else of its configuration (its position above all) changes.
func (c *Consumer) withSubjects(ctx context.Context, stream jetstream.Stream, cons jetstream.Consumer) (jetstream.Consumer, error) {
	cfg := cons.CachedInfo().Config
	want := c.subjects()
	if slices.Equal(sortedCopy(cfg.FilterSubjects), sortedCopy(want)) {
		return cons, nil
	}
	cfg.FilterSubject, cfg.FilterSubjects = "", want
	updated, err := stream.UpdateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update the subjects of consumer %s: %w", c.cfg.Consumer, err)
	}
	c.logger.Info("mail consumer now filters the subjects of this version", "subjects", want)
	return updated, nil
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// Run consumes until ctx ends. NATS or database failures are retried,
// never returned.
func (c *Consumer) Run(ctx context.Context) error {
	retry := backoff.New(100*time.Millisecond, 30*time.Second)
	go c.purgeLoop(ctx)
	for ctx.Err() == nil {
		cons, err := c.consumer(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.logger.Warn("mail consumer cannot open its JetStream consumer; retrying", "error", err)
				retry.Wait(ctx)
			}
			continue
		}
		retry.Reset()
		if err := c.pump(ctx, cons); err != nil && ctx.Err() == nil {
			c.logger.Warn("mail consumer lost its JetStream consumer; reopening", "error", err)
			retry.Wait(ctx)
		}
	}
	return nil
}

// consumer opens the durable consumer, creating it on first use so that it
// starts with the events of the last VerifyTTL: older ones would be skipped
// as stale anyway.
func (c *Consumer) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := c.js.Stream(cctx, c.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", c.cfg.Stream, err)
	}
	if cons, err := stream.Consumer(cctx, c.cfg.Consumer); err == nil {
		return c.withSubjects(cctx, stream, cons)
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("look up consumer %s: %w", c.cfg.Consumer, err)
	}
	start := c.now().Add(-c.cfg.VerifyTTL)
	cons, err := stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		Durable:        c.cfg.Consumer,
		Description:    "Secure Vault account mail",
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.cfg.AckWait,
		MaxDeliver:     -1, // the consumer dead-letters itself, with an event
		FilterSubjects: c.subjects(),
		MaxAckPending:  64,
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return stream.Consumer(cctx, c.cfg.Consumer)
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", c.cfg.Consumer, err)
	}
	c.logger.Info("created the durable mail consumer")
	return cons, nil
}

func (c *Consumer) pump(ctx context.Context, cons jetstream.Consumer) error {
	failures := backoff.New(100*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		batch, err := cons.Fetch(8, jetstream.FetchMaxWait(c.cfg.FetchWait))
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return err
			}
			if ctx.Err() == nil {
				failures.Wait(ctx)
			}
			continue
		}
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				// Handed back now rather than after AckWait.
				_ = msg.Nak()
				continue
			}
			c.handle(ctx, msg)
		}
		failures.Reset()
	}
	return nil
}

// job is what one event asks for.
type job struct {
	env     relay.Envelope
	userID  string
	purpose string
	// email is the address a verification mail goes to, and emailVersion
	// the stream version of the event that set it (UserCreated,
	// UserUpdated: the event itself; EmailVerificationRequested names it);
	// passwordVersion the password a reset may replace.
	email           string
	emailVersion    int64
	passwordVersion int64
}

func jobOf(env relay.Envelope) (job, bool, error) {
	if domain.AggregateOf(env.StreamID) != domain.UserAggregate {
		return job{}, false, nil
	}
	j := job{env: env, userID: strings.TrimPrefix(env.StreamID, domain.UserAggregate+"-")}
	if !domain.IsID(j.userID) || !domain.IsID(env.EventID) {
		return job{}, false, errors.New("the event names no user or has no id")
	}
	switch env.Type {
	case domain.EventUserCreated, domain.EventUserUpdated:
		var e struct {
			Email string `json:"email"`
		}
		if err := json.Unmarshal(env.Data, &e); err != nil {
			return job{}, false, err
		}
		if e.Email == "" {
			return job{}, false, nil
		}
		j.purpose, j.email, j.emailVersion = domain.TokenPurposeVerifyEmail, e.Email, env.Version
	case domain.EventEmailVerificationRequested:
		var e domain.EmailVerificationRequested
		if err := json.Unmarshal(env.Data, &e); err != nil {
			return job{}, false, err
		}
		j.purpose, j.email, j.emailVersion = domain.TokenPurposeVerifyEmail, e.Email, e.EmailVersion
	case domain.EventPasswordResetRequested:
		var e domain.PasswordResetRequested
		if err := json.Unmarshal(env.Data, &e); err != nil {
			return job{}, false, err
		}
		j.purpose, j.passwordVersion = domain.TokenPurposeResetPassword, e.PasswordVersion
	default:
		return job{}, false, nil
	}
	return j, true, nil
}

// handle decides one message: ack when done (sent, skipped, dead-lettered
// or a duplicate), NAK with a delay to retry.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	var env relay.Envelope
	if err := json.Unmarshal(msg.Data(), &env); err != nil {
		c.logger.Error("mail consumer dropped a message that is not an event envelope", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	j, ok, err := jobOf(env)
	if err != nil {
		c.logger.Error("mail consumer dropped a malformed event", "event_id", env.EventID, "type", env.Type, "error", err)
		_ = msg.Term()
		return
	}
	if !ok {
		_ = msg.Ack()
		return
	}
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(min(md.NumDelivered, math.MaxInt32)) //nolint:gosec // G115: bounded by min
	}
	err = c.deliver(ctx, j, attempt)
	switch {
	case err == nil:
		if c.afterCommit != nil {
			c.afterCommit(env.EventID)
		}
		_ = msg.Ack()
	case errors.Is(err, errBusy):
		// Another replica holds the delivery; it decides.
		_ = msg.NakWithDelay(c.cfg.InitialBackoff)
	case ctx.Err() != nil:
		_ = msg.Nak()
	case Permanent(err) || attempt >= c.cfg.MaxAttempts:
		c.metrics.failures.Inc()
		if derr := c.deadLetter(ctx, j, attempt, err); derr != nil {
			c.logger.Error("mail consumer could not dead-letter a mail; retrying", "event_id", env.EventID, "error", derr)
			_ = msg.NakWithDelay(c.backoff.Ceiling(attempt))
			return
		}
		_ = msg.Ack()
	default:
		c.metrics.failures.Inc()
		delay := backoff.Jitter(c.backoff.Ceiling(attempt))
		c.logger.Warn("mail not sent; retrying", "event_id", env.EventID, "purpose", j.purpose,
			"attempt", attempt, "max_attempts", c.cfg.MaxAttempts, "retry_in", delay, "error", scrub(err.Error(), ""))
		_ = msg.NakWithDelay(delay)
	}
}

var errBusy = errors.New("mail: another replica is delivering this mail")

// deliver is the one transaction of a delivery (see Consumer).
func (c *Consumer) deliver(ctx context.Context, j job, attempt int) (err error) {
	eventID, err := parseUUID(j.env.EventID)
	if err != nil {
		return &PermanentError{Err: err}
	}
	userID, err := parseUUID(j.userID)
	if err != nil {
		return &PermanentError{Err: err}
	}
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", defaultLockTimeout.Milliseconds())); err != nil {
		return err
	}
	q := maildb.New()
	if err := q.ClaimDelivery(ctx, tx, maildb.ClaimDeliveryParams{EventID: eventID, EventType: j.env.Type, UserID: userID}); err != nil {
		if lockTimeout(err) {
			return errBusy
		}
		return err
	}
	status, err := q.DeliveryStatus(ctx, tx, eventID)
	if err != nil {
		if lockTimeout(err) {
			return errBusy
		}
		return err
	}
	if status != "sending" {
		c.metrics.duplicates.Inc()
		return tx.Commit(ctx)
	}
	finish := func(status, detail string) error {
		if err := q.FinishDelivery(ctx, tx, maildb.FinishDeliveryParams{
			EventID: eventID, Status: status, Attempts: attempts32(attempt), Detail: detail,
		}); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	u, err := c.users.User(ctx, j.userID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		c.metrics.skipped.Inc()
		return finish("skipped", "the user does not exist any more")
	}
	if err != nil {
		return err
	}
	if why := c.stale(j, u); why != "" {
		c.metrics.skipped.Inc()
		c.logger.Info("mail not needed any more", "event_id", j.env.EventID, "purpose", j.purpose, "reason", why)
		return finish("skipped", why)
	}
	tok, err := domain.NewEmailToken(j.purpose, u)
	if err != nil {
		return &PermanentError{Err: err}
	}
	ttl, link := c.cfg.VerifyTTL, c.cfg.PublicURL+"/api/v1/auth/verify-email?token="+tok.Raw
	if j.purpose == domain.TokenPurposeResetPassword {
		ttl, link = c.cfg.ResetTTL, c.cfg.FrontendURL+"/reset-password?token="+tok.Raw
	}
	// Stored (and committed) before the send, so the link works the moment
	// the mail arrives, and also if this process dies before recording it.
	if err := c.store.IssueToken(ctx, Grant{
		Token: tok, Purpose: j.purpose, UserID: u.ID(), SourceEventID: j.env.EventID, ExpiresAt: c.now().Add(ttl),
	}); err != nil {
		return err
	}
	m, err := c.templates.Render(j.purpose, u.Email(), u.Username(), link, ttl, j.env.EventID+"@securevault")
	if err != nil {
		return &PermanentError{Err: err}
	}
	if err := c.sender.Send(ctx, m); err != nil {
		// The provider's words, without the link should it quote it.
		if Permanent(err) {
			return &PermanentError{Err: errors.New(scrub(err.Error(), tok.Raw))}
		}
		return errors.New(scrub(err.Error(), tok.Raw))
	}
	if err := finish("sent", ""); err != nil {
		c.logger.Error("a mail was sent but its delivery could not be recorded; a redelivery will send it again", "event_id", j.env.EventID, "error", err)
		return err
	}
	c.metrics.sent.WithLabelValues(j.purpose).Inc()
	c.logger.Info("mail sent", "event_id", j.env.EventID, "purpose", j.purpose, "user_id", u.ID(), "attempt", attempt)
	return nil
}

// stale says why the mail an event asked for is not needed any more, or "".
func (c *Consumer) stale(j job, u *domain.User) string {
	age := c.now().Sub(j.env.RecordedAt)
	switch {
	case u.Deleted():
		return "the user was deleted"
	case u.Disabled():
		return "the user is disabled"
	case u.Email() == "":
		return "the user has no address any more"
	}
	switch j.purpose {
	case domain.TokenPurposeVerifyEmail:
		if u.Email() != j.email || u.EmailVersion() != j.emailVersion {
			return "the address changed since"
		}
		if u.EmailVerified() {
			return "the address is verified already"
		}
		if age > c.cfg.VerifyTTL {
			return "the request is older than a verification link lives"
		}
	case domain.TokenPurposeResetPassword:
		if u.Password().Version != j.passwordVersion {
			return "the password changed since"
		}
		if age > c.cfg.ResetTTL {
			return "the request is older than a reset link lives"
		}
	}
	return ""
}

// deadLetter records a mail given up on: the event first (audit), then the
// delivery row, then the metric.
func (c *Consumer) deadLetter(ctx context.Context, j job, attempt int, cause error) error {
	reason := scrub(cause.Error(), "")
	ev := domain.NewMailDeadLettered(domain.MailDeadLettered{
		SourceEventID: j.env.EventID, SourceType: j.env.Type, UserID: j.userID, Purpose: j.purpose,
		Attempts: attempt, Reason: reason,
	}, domain.Metadata{Actor: domain.SystemActor, ActorName: "mail", CausationID: j.env.EventID, CorrelationID: j.env.Metadata.CorrelationID})
	_, err := c.log.AppendStreams(ctx, domain.StreamAppend{
		StreamID: domain.MailStream(j.env.EventID), Expected: domain.ExpectNoStream, Events: []domain.NewEvent{ev},
	})
	if err != nil && domain.ErrorCode(err) != domain.ECONFLICT { // a conflict: another replica recorded it
		return err
	}
	eventID, _ := parseUUID(j.env.EventID)
	userID, _ := parseUUID(j.userID)
	if err := maildb.New().RecordDelivery(ctx, c.pool, maildb.RecordDeliveryParams{
		EventID: eventID, EventType: j.env.Type, UserID: userID, Status: "dead", Attempts: attempts32(attempt), Detail: reason,
	}); err != nil {
		return err
	}
	c.metrics.deadLetters.WithLabelValues(j.purpose).Inc()
	c.logger.Error("mail dead-lettered", "event_id", j.env.EventID, "purpose", j.purpose, "attempts", attempt, "reason", reason)
	return nil
}

func lockTimeout(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "55P03" // lock_not_available
}

// scrub keeps a provider's error fit for a log line and an event: no token
// (should the provider quote the mail), bounded.
func scrub(s, token string) string {
	if token != "" {
		s = strings.ReplaceAll(s, token, "[token]")
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// purgeLoop deletes expired tokens hourly.
func (c *Consumer) purgeLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.store.PurgeExpired(ctx, c.now().Add(-time.Hour)); err != nil && ctx.Err() == nil {
				c.logger.Warn("could not purge expired e-mail tokens", "error", err)
			}
		}
	}
}

// attempts32 is a delivery count as the int32 column holds it, saturating
// rather than wrapping (counts are bounded by MaxAttempts long before).
func attempts32(n int) int32 {
	if n < 0 {
		return 0
	}
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(n)
}
