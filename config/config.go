// Package config reads the service's configuration from the environment.
// Every problem names the variable it comes from, and in production a
// missing or weak key stops start-up instead of being papered over.
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/securevault/vault/domain"
)

// Mode is the deployment mode.
type Mode string

const (
	ModeDev        Mode = "dev"
	ModeProduction Mode = "production"
)

// Key sizes.
const (
	MinSecretKeyBytes = 32
	EncryptionKeySize = 32
	MinChainKeyBytes  = 32
)

// Secret holds key material or a password. It formats and logs as a fixed
// placeholder so a Config can be printed or logged without leaking it; use
// Bytes or []byte(s) where the value is really needed.
type Secret []byte

const redacted = "[REDACTED]"

func (s Secret) String() string { return redacted }

// GoString keeps %#v from printing the bytes.
func (s Secret) GoString() string { return redacted }

// LogValue keeps slog from printing the bytes.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps encoders (JSON, YAML) from printing the bytes.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Bytes returns the secret's value.
func (s Secret) Bytes() []byte { return s }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return len(s) > 0 }

// Config is the whole service configuration.
type Config struct {
	Mode        Mode
	DatabaseURL string
	SecretKey   Secret // JWT signing
	// SecretKeysPrevious are former signing keys, still accepted for
	// verification during a rotation.
	SecretKeysPrevious []Secret
	EncryptionKey      Secret // decoded local master key, exactly 32 bytes (unset with KMS)
	AdminPassword      Secret
	NATSURL            string // empty: embedded JetStream
	ListenAddr         string
	MetricsAddr        string // empty: /metrics is served on ListenAddr
	// TLS files of both listeners; empty serves plain HTTP.
	TLSCertFile, TLSKeyFile, TLSClientCAFile string
	// TLSDisable states that a proxy terminates TLS in front of vaultd.
	TLSDisable bool
	DataDir    string
	// StateDir is where this process keeps local state (generated keys,
	// embedded JetStream data): in dev mode the dev database's own
	// directory under DevRoot, otherwise VAULT_DATA_DIR.
	StateDir string

	JetStreamStream   string
	SubjectPrefix     string
	JetStreamReplicas int

	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	TrustedProxies []netip.Prefix
	RateLimitRPS   float64
	RateLimitBurst int
	MaxBodyBytes   int64

	ReadYourWritesTimeout time.Duration
	MinPositionTimeout    time.Duration
	AccessTokenTTL        time.Duration
	RefreshTokenTTL       time.Duration
	ShutdownTimeout       time.Duration
	// ClientGrant tunes the client-credentials grant of service accounts.
	ClientGrant

	KMSKeyID    string
	AWSRegion   string
	KMSEndpoint string

	TestMode bool

	Argon2MemoryKiB   int
	Argon2Iterations  int
	Argon2Parallelism int
	PasswordMinLength int
	LoginIPRate       float64
	LoginIPBurst      int
	LoginAccountRate  float64
	LoginAccountBurst int
	LockoutThreshold  int
	LockoutBase       time.Duration
	LockoutMax        time.Duration
	// LockoutAccountThreshold and LockoutAccountWindow are the
	// account-wide ceiling (see domain.LockoutPolicy).
	LockoutAccountThreshold int
	LockoutAccountWindow    time.Duration
	SecretKeepVersions      int
	// Files is encrypted file storage (config/files.go).
	Files FileStorage

	// CheckpointKey is the Ed25519 seed (base64) signing chain checkpoints;
	// the checkpoint package parses it (and generates one in dev mode).
	CheckpointKey   Secret
	CheckpointEvery int
	// CheckpointInterval also makes a checkpoint when events have waited
	// this long without one.
	CheckpointInterval time.Duration

	// ChainKey is the decoded key (at least 32 bytes) the event log's
	// links are HMAC-SHA256s under; the database never holds it.
	// ChainKeysPrevious are former chain keys: links they made still
	// verify after a rotation.
	ChainKey          Secret
	ChainKeysPrevious []Secret

	// Email is account e-mail (email.go).
	Email Email

	// DevKeysFile is set when keys were read from, or generated into, the
	// dev key file, so the caller can say so.
	DevKeysFile string
	devKeyVars  []string
	devDB       *DevDatabase
}

// Production reports whether the service runs in production mode.
func (c *Config) Production() bool { return c.Mode == ModeProduction }

// TLS reports whether vaultd serves HTTPS itself.
func (c *Config) TLS() bool { return c.TLSCertFile != "" }

// Load reads the configuration from the process environment.
func Load(ctx context.Context, logger *slog.Logger) (*Config, error) {
	return LoadWith(ctx, Options{Logger: logger})
}

// LoadFrom reads the configuration through lookup (os.LookupEnv in
// production, a map in tests).
func LoadFrom(ctx context.Context, lookup func(string) (string, bool), logger *slog.Logger) (*Config, error) {
	return LoadWith(ctx, Options{Lookup: lookup, Logger: logger})
}

// LoadWith reads the configuration. All problems are reported together,
// each naming its variable, so an operator fixes them in one round.
func LoadWith(ctx context.Context, opts Options) (*Config, error) {
	if opts.Lookup == nil {
		opts.Lookup = os.LookupEnv
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lookup, logger := opts.Lookup, opts.Logger
	p := &parser{lookup: lookup}
	c := &Config{
		Mode:            Mode(strings.ToLower(p.str(EnvMode))),
		DatabaseURL:     p.str(EnvDatabaseURL),
		NATSURL:         p.str(EnvNATSURL),
		ListenAddr:      p.str(EnvListenAddr),
		MetricsAddr:     p.str(EnvMetricsAddr),
		TLSCertFile:     p.str(EnvTLSCert),
		TLSKeyFile:      p.str(EnvTLSKey),
		TLSClientCAFile: p.str(EnvTLSClientCA),
		DataDir:         p.str(EnvDataDir),
		JetStreamStream: p.str(EnvJetStreamStream),
		SubjectPrefix:   p.str(EnvSubjectPrefix),
		LogFormat:       strings.ToLower(p.str(EnvLogFormat)),
		KMSKeyID:        p.str(EnvKMSKeyID),
		AWSRegion:       p.str(EnvAWSRegion),
		KMSEndpoint:     p.str(EnvKMSEndpoint),
		AdminPassword:   Secret(p.str(EnvAdminPassword)),

		LogLevel:       p.logLevel(EnvLogLevel),
		TrustedProxies: p.prefixes(EnvTrustedProxies),
		RateLimitRPS:   p.float(EnvRateLimitRPS),
		RateLimitBurst: p.int(EnvRateLimitBurst, 1),
		MaxBodyBytes:   int64(p.int(EnvMaxBodyBytes, 1024)),
		TestMode:       p.bool(EnvTestMode),
		TLSDisable:     p.bool(EnvTLSDisable),

		Argon2MemoryKiB:         p.int(EnvArgon2MemoryKiB, 1024),
		Argon2Iterations:        p.int(EnvArgon2Iterations, 1),
		Argon2Parallelism:       p.int(EnvArgon2Parallelism, 1),
		PasswordMinLength:       p.int(EnvPasswordMinLength, 8),
		LoginIPRate:             p.float(EnvLoginIPRate),
		LoginIPBurst:            p.int(EnvLoginIPBurst, 1),
		LoginAccountRate:        p.float(EnvLoginAccountRate),
		LoginAccountBurst:       p.int(EnvLoginAccountBurst, 1),
		LockoutThreshold:        p.int(EnvLockoutThreshold, 1),
		LockoutBase:             p.duration(EnvLockoutBase),
		LockoutMax:              p.duration(EnvLockoutMax),
		LockoutAccountThreshold: p.int(EnvLockoutAccountThreshold, 0),
		LockoutAccountWindow:    p.duration(EnvLockoutAccountWindow),
		SecretKeepVersions:      p.int(EnvSecretKeepVersions, 1),
		JetStreamReplicas:       p.int(EnvJetStreamReplicas, 1),
		CheckpointEvery:         p.int(EnvCheckpointEvery, 1),

		CheckpointInterval:    p.duration(EnvCheckpointInterval),
		ReadYourWritesTimeout: p.duration(EnvReadYourWritesTimeout),
		MinPositionTimeout:    p.duration(EnvMinPositionTimeout),
		AccessTokenTTL:        p.duration(EnvAccessTokenTTL),
		RefreshTokenTTL:       p.duration(EnvRefreshTokenTTL),
		ShutdownTimeout:       p.duration(EnvShutdownTimeout),
	}
	c.ClientGrant = p.clientGrant()

	switch c.Mode {
	case ModeDev, ModeProduction:
	default:
		p.fail(EnvMode, "must be %q or %q, got %q", ModeDev, ModeProduction, c.Mode)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		p.fail(EnvLogFormat, "must be \"text\" or \"json\", got %q", c.LogFormat)
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		p.fail(EnvListenAddr, "must be host:port: %v", err)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p.fail(EnvMetricsAddr, "must be host:port: %v", err)
		} else if c.MetricsAddr == c.ListenAddr {
			p.fail(EnvMetricsAddr, "must differ from %s (leave it empty to serve /metrics there)", EnvListenAddr)
		}
	}
	c.checkTLS(p)
	c.loadEmail(p, logger)
	c.parseFiles(p)
	if c.JetStreamStream == "" || strings.ContainsAny(c.JetStreamStream, " .*>\t") {
		p.fail(EnvJetStreamStream, "must be a non-empty JetStream stream name without spaces, dots or wildcards")
	}
	if c.JetStreamReplicas > 5 {
		p.fail(EnvJetStreamReplicas, "must be at most 5 (JetStream's limit)")
	}
	if !validSubjectPrefix(c.SubjectPrefix) {
		p.fail(EnvSubjectPrefix, "must be dot-separated NATS subject tokens without wildcards, like vault.events")
	}
	if c.AccessTokenTTL > 0 && c.RefreshTokenTTL > 0 && c.RefreshTokenTTL <= c.AccessTokenTTL {
		p.fail(EnvRefreshTokenTTL, "must be longer than %s", EnvAccessTokenTTL)
	}
	if raw, ok := p.lookup(EnvCheckpointKey); ok && strings.TrimSpace(raw) != "" {
		c.CheckpointKey = Secret(strings.TrimSpace(raw))
	} else if c.Mode == ModeProduction {
		p.fail(EnvCheckpointKey, "is required in production (base64 of a 32-byte Ed25519 seed)")
	}
	if raw, ok := p.lookup(EnvSecretKeyPrevious); ok && strings.TrimSpace(raw) != "" {
		for _, k := range strings.Split(raw, ",") {
			c.SecretKeysPrevious = append(c.SecretKeysPrevious, Secret(strings.TrimSpace(k)))
		}
	}
	if c.Argon2Parallelism > 255 {
		p.fail(EnvArgon2Parallelism, "must be at most 255")
	}
	if c.LockoutBase > 0 && c.LockoutMax > 0 && c.LockoutMax < c.LockoutBase {
		p.fail(EnvLockoutMax, "must be at least %s", EnvLockoutBase)
	}
	if c.LockoutAccountThreshold > domain.MaxLockoutAccountThreshold {
		p.fail(EnvLockoutAccountThreshold, "must be at most %d", domain.MaxLockoutAccountThreshold)
	}
	if c.LockoutAccountWindow > domain.MaxLockoutAccountWindow {
		p.fail(EnvLockoutAccountWindow, "must be at most %s", domain.MaxLockoutAccountWindow)
	}
	if c.KMSKeyID != "" && c.AWSRegion == "" {
		p.fail(EnvAWSRegion, "is required when %s is set", EnvKMSKeyID)
	}
	dbName, err := databaseName(c.DatabaseURL)
	if err != nil {
		p.fail(EnvDatabaseURL, "is not a valid PostgreSQL connection string")
	}
	if c.Mode == ModeProduction {
		c.checkProduction(p, dbName)
	}
	if err := p.err(); err != nil && c.Mode == ModeDev {
		// In dev mode a configuration that is wrong already neither touches
		// the database nor writes key files; production reports the keys'
		// problems with the rest.
		return nil, err
	}
	if err := c.resolveStateDir(ctx, opts, logger); err != nil {
		return nil, err
	}
	if err := c.loadKeys(ctx, p, logger); err != nil {
		return nil, err
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	c.warnDev(logger, dbName)
	return c, nil
}

// checkProduction refuses settings that are tolerable on a laptop only.
func (c *Config) checkProduction(p *parser, dbName string) {
	if !c.AdminPassword.IsSet() {
		p.fail(EnvAdminPassword, "is required in production")
	}
	if c.TestMode && !looksLikeTestDatabase(dbName) {
		p.fail(EnvTestMode, "is true but database %q does not look like a test database (its name must contain \"test\")", dbName)
	}
}

// loadKeys decodes the keys. In production a missing or weak key is an
// error; in dev mode missing keys come from (or are generated into) the dev
// key file, and weak ones only draw a warning.
func (c *Config) loadKeys(_ context.Context, p *parser, logger *slog.Logger) error {
	secretKey, hasSecret := p.lookup(EnvSecretKey)
	encKey, hasEnc := p.lookup(EnvEncryptionKey)
	chainKey, _ := p.lookup(EnvChainKey)
	chainKey = strings.TrimSpace(chainKey)
	needEnc := c.KMSKeyID == ""

	if c.Mode == ModeDev && (secretKey == "" || (needEnc && encKey == "") || chainKey == "") {
		file, err := c.loadDevKeys(logger, devKeyNeeds{encryption: needEnc && encKey == "", chain: chainKey == ""})
		if err != nil {
			return err
		}
		c.DevKeysFile = file.path
		if secretKey == "" {
			secretKey, hasSecret = file.secretKey, true
			c.devKeyVars = append(c.devKeyVars, EnvSecretKey)
		}
		if needEnc && encKey == "" {
			encKey, hasEnc = file.encryptionKey, true
			c.devKeyVars = append(c.devKeyVars, EnvEncryptionKey)
		}
		if chainKey == "" {
			chainKey = file.chainKey
			c.devKeyVars = append(c.devKeyVars, EnvChainKey)
		}
	}
	c.loadChainKeys(p, logger, chainKey)

	switch {
	case !hasSecret || secretKey == "":
		p.fail(EnvSecretKey, "is required in production (at least %d bytes of random text)", MinSecretKeyBytes)
	default:
		c.SecretKey = Secret(secretKey)
		if problem := weakness([]byte(secretKey), MinSecretKeyBytes); problem != "" {
			p.weak(c.Mode, logger, EnvSecretKey, problem)
		}
	}

	if !hasEnc || encKey == "" {
		if needEnc {
			p.fail(EnvEncryptionKey, "is required in production unless %s is set (base64 of %d random bytes)", EnvKMSKeyID, EncryptionKeySize)
		}
		return nil
	}
	key, err := decodeBase64(encKey)
	if err != nil || len(key) != EncryptionKeySize {
		// A key of the wrong size cannot be used in any mode.
		p.fail(EnvEncryptionKey, "must be base64 of exactly %d bytes", EncryptionKeySize)
		return nil
	}
	c.EncryptionKey = Secret(key)
	if problem := weakness(key, EncryptionKeySize); problem != "" {
		p.weak(c.Mode, logger, EnvEncryptionKey, problem)
	}
	return nil
}

// loadChainKeys decodes the chain key and its predecessors. A key shorter
// than MinChainKeyBytes is refused in every mode: it would be used as it is
// for the life of the log.
func (c *Config) loadChainKeys(p *parser, logger *slog.Logger, chainKey string) {
	if chainKey == "" {
		p.fail(EnvChainKey, "is required in production (base64 of %d random bytes: `openssl rand -base64 32`)", MinChainKeyBytes)
	} else if key, err := decodeBase64(chainKey); err != nil || len(key) < MinChainKeyBytes {
		p.fail(EnvChainKey, "must be base64 of at least %d random bytes", MinChainKeyBytes)
	} else {
		c.ChainKey = Secret(key)
		if problem := weakness(key, MinChainKeyBytes); problem != "" {
			p.weak(c.Mode, logger, EnvChainKey, problem)
		}
	}
	raw, _ := p.lookup(EnvChainKeyPrevious)
	for i, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		key, err := decodeBase64(item)
		if err != nil || len(key) < MinChainKeyBytes {
			p.fail(EnvChainKeyPrevious, "entry %d must be base64 of at least %d bytes", i+1, MinChainKeyBytes)
			continue
		}
		c.ChainKeysPrevious = append(c.ChainKeysPrevious, Secret(key))
	}
}

func (c *Config) warnDev(logger *slog.Logger, dbName string) {
	if c.Mode != ModeDev {
		if c.NATSURL == "" {
			logger.Warn("production mode without NATS_URL: running an embedded JetStream server; events on the bus are only as durable as this host's disk")
		}
		return
	}
	if c.DevKeysFile != "" {
		logger.Warn("DEV MODE: keys not set in the environment are taken from a generated local file; never use them for real data",
			"variables", strings.Join(c.devKeyVars, ","), "file", c.DevKeysFile)
	}
	if c.TestMode && !looksLikeTestDatabase(dbName) {
		logger.Warn("VAULT_TEST_MODE is on against a database that does not look like a test database", "database", dbName)
	}
}

// weakness explains why key is not fit to be a key, or returns "". Length
// first; then the mistakes people make by hand: one repeated character, a
// short repeated pattern, or too few distinct bytes to be random.
func weakness(key []byte, minLen int) string {
	if len(key) < minLen {
		return fmt.Sprintf("is %d bytes; at least %d are required", len(key), minLen)
	}
	distinct := map[byte]struct{}{}
	for _, b := range key {
		distinct[b] = struct{}{}
	}
	if len(distinct) < 8 {
		return fmt.Sprintf("has only %d distinct bytes; use random bytes", len(distinct))
	}
	for period := 1; period <= len(key)/4; period++ {
		if periodic(key, period) {
			return fmt.Sprintf("repeats a %d-byte pattern; use random bytes", period)
		}
	}
	return ""
}

func periodic(key []byte, period int) bool {
	for i := period; i < len(key); i++ {
		if key[i] != key[i-period] {
			return false
		}
	}
	return true
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func databaseName(url string) (string, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "", err
	}
	return cfg.Database, nil
}

func looksLikeTestDatabase(name string) bool {
	return strings.Contains(strings.ToLower(name), "test")
}

func validSubjectPrefix(prefix string) bool {
	if prefix == "" {
		return false
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || strings.ContainsAny(tok, " \t*>") {
			return false
		}
	}
	return true
}
