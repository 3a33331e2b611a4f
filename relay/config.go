package relay

import (
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

// Defaults for Config.
const (
	DefaultStream          = "VAULT_EVENTS"
	DefaultSubjectPrefix   = "vault.events"
	DefaultBatchSize       = 500
	DefaultPollInterval    = time.Second
	DefaultLeaderRetry     = 2 * time.Second
	DefaultPublishTimeout  = 5 * time.Second
	DefaultMaxBackoff      = 10 * time.Second
	DefaultDuplicateWindow = 5 * time.Minute
	DefaultUnhealthyAfter  = 3
	DefaultLagBound        = 1000
)

// Config tunes a Relay. Zero values take the defaults.
type Config struct {
	// Stream is the JetStream stream name. It also names the relay's
	// checkpoint and leader lock, so relays of different streams are
	// independent.
	Stream string
	// SubjectPrefix is prepended to <aggregate>.<EventType>; the stream
	// captures <prefix>.>.
	SubjectPrefix string
	// BatchSize is how many events are read and pipelined at once.
	BatchSize int
	// PollInterval is how often the log is checked without a notification.
	PollInterval time.Duration
	// LeaderRetry is how often a follower tries to become the leader.
	LeaderRetry time.Duration
	// PublishTimeout bounds the wait for one acknowledgement and for each
	// JetStream API call.
	PublishTimeout time.Duration
	// MaxBackoff caps the wait between retries while NATS is failing.
	MaxBackoff time.Duration
	// DuplicateWindow is the stream's de-duplication window. The server
	// keeps every message id of the window in memory, so it is minutes,
	// not hours.
	DuplicateWindow time.Duration
	// Replicas of the stream (1 for a single server, 3 for a cluster of
	// three): the stream is created with them and scaled up to them, never
	// down (see ensureStream).
	Replicas int
	// UnhealthyAfter is how many attempts in a row the leader may fail
	// before Check reports it: a NATS server restarting costs one or two.
	UnhealthyAfter int
	// LagBound is how many events the stream may trail the log before
	// Check reports the relay as not keeping up.
	LagBound int64
	// Alarm, when set, is tripped when the stream is ahead of the log and
	// consulted before every batch: once tripped, nothing is published.
	Alarm Alarm
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.LeaderRetry <= 0 {
		c.LeaderRetry = DefaultLeaderRetry
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.UnhealthyAfter <= 0 {
		c.UnhealthyAfter = DefaultUnhealthyAfter
	}
	if c.LagBound <= 0 {
		c.LagBound = DefaultLagBound
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	return c
}

func (c Config) validate() error {
	if strings.ContainsAny(c.Stream, ". *>\t\r\n/\\") {
		return domain.Errorf(domain.EINVALID, "relay stream name %q may not contain '.', '*', '>', slashes or whitespace", c.Stream)
	}
	for _, tok := range strings.Split(c.SubjectPrefix, ".") {
		if tok == "" || strings.ContainsAny(tok, " *>\t\r\n") {
			return domain.Errorf(domain.EINVALID, "relay subject prefix %q is not a valid NATS subject", c.SubjectPrefix)
		}
	}
	return nil
}
