package config

import (
	"fmt"
	"io"
	"strings"
)

// Var describes one environment variable: the table the README and
// `vaultd --help-env` print, and the defaults Load applies.
type Var struct {
	Name        string
	Default     string
	Required    string // "no", "yes", or the condition under which it is
	Description string
}

// Variable names.
const (
	EnvDatabaseURL             = "DATABASE_URL"
	EnvSecretKey               = "SECRET_KEY"
	EnvEncryptionKey           = "ENCRYPTION_KEY"
	EnvNATSURL                 = "NATS_URL"
	EnvMode                    = "VAULT_ENV"
	EnvListenAddr              = "VAULT_LISTEN_ADDR"
	EnvMetricsAddr             = "VAULT_METRICS_ADDR"
	EnvTLSCert                 = "VAULT_TLS_CERT"
	EnvTLSKey                  = "VAULT_TLS_KEY"
	EnvTLSClientCA             = "VAULT_TLS_CLIENT_CA"
	EnvTLSDisable              = "VAULT_TLS_DISABLE"
	EnvAdminPassword           = "VAULT_ADMIN_PASSWORD"
	EnvDataDir                 = "VAULT_DATA_DIR"
	EnvJetStreamStream         = "VAULT_JETSTREAM_STREAM"
	EnvSubjectPrefix           = "VAULT_SUBJECT_PREFIX"
	EnvJetStreamReplicas       = "VAULT_JETSTREAM_REPLICAS"
	EnvLogLevel                = "VAULT_LOG_LEVEL"
	EnvLogFormat               = "VAULT_LOG_FORMAT"
	EnvTrustedProxies          = "VAULT_TRUSTED_PROXIES"
	EnvRateLimitRPS            = "VAULT_RATE_LIMIT_RPS"
	EnvRateLimitBurst          = "VAULT_RATE_LIMIT_BURST"
	EnvMaxBodyBytes            = "VAULT_MAX_BODY_BYTES"
	EnvReadYourWritesTimeout   = "VAULT_READ_YOUR_WRITES_TIMEOUT"
	EnvMinPositionTimeout      = "VAULT_MIN_POSITION_TIMEOUT"
	EnvAccessTokenTTL          = "VAULT_ACCESS_TOKEN_TTL"
	EnvRefreshTokenTTL         = "VAULT_REFRESH_TOKEN_TTL"
	EnvShutdownTimeout         = "VAULT_SHUTDOWN_TIMEOUT"
	EnvKMSKeyID                = "KMS_KEY_ID"
	EnvAWSRegion               = "AWS_REGION"
	EnvKMSEndpoint             = "KMS_ENDPOINT"
	EnvTestMode                = "VAULT_TEST_MODE"
	EnvArgon2MemoryKiB         = "VAULT_ARGON2_MEMORY_KIB"
	EnvArgon2Iterations        = "VAULT_ARGON2_ITERATIONS"
	EnvArgon2Parallelism       = "VAULT_ARGON2_PARALLELISM"
	EnvPasswordMinLength       = "VAULT_PASSWORD_MIN_LENGTH"
	EnvLoginIPRate             = "VAULT_LOGIN_IP_RATE"
	EnvLoginIPBurst            = "VAULT_LOGIN_IP_BURST"
	EnvLoginAccountRate        = "VAULT_LOGIN_ACCOUNT_RATE"
	EnvLoginAccountBurst       = "VAULT_LOGIN_ACCOUNT_BURST"
	EnvLockoutThreshold        = "VAULT_LOCKOUT_THRESHOLD"
	EnvLockoutBase             = "VAULT_LOCKOUT_BASE"
	EnvLockoutMax              = "VAULT_LOCKOUT_MAX"
	EnvLockoutAccountThreshold = "VAULT_LOCKOUT_ACCOUNT_THRESHOLD"
	EnvLockoutAccountWindow    = "VAULT_LOCKOUT_ACCOUNT_WINDOW"
	EnvSecretKeepVersions      = "VAULT_SECRET_KEEP_VERSIONS"
	EnvSecretKeyPrevious       = "SECRET_KEY_PREVIOUS" //nolint:gosec // G101: the name of an environment variable, not its value
	EnvCheckpointKey           = "VAULT_CHECKPOINT_KEY"
	EnvCheckpointEvery         = "VAULT_CHECKPOINT_EVERY"
	EnvCheckpointInterval      = "VAULT_CHECKPOINT_INTERVAL"
	EnvChainKey                = "VAULT_CHAIN_KEY"
	EnvChainKeyPrevious        = "VAULT_CHAIN_KEY_PREVIOUS"
)

// Describe lists every variable Load reads, in the order an operator meets
// them. It is built on each call so callers cannot change Load's defaults.
func Describe() []Var {
	return append([]Var{
		{EnvMode, "dev", "no", "`dev` or `production`. Production refuses missing or weak keys instead of generating them."},
		{EnvDatabaseURL, "postgres://postgres@127.0.0.1:5432/vault?sslmode=disable", "no", "PostgreSQL connection URL (pgx syntax). The database is created if missing (dev mode) and migrated on start-up. `pool_max_conns=N` in the URL sizes the connection pool (default 24)."},
		{EnvSecretKey, "", "production", "JWT signing key, at least 32 bytes of high-entropy text. Generated once into the dev database's `dev-keys.env` in dev mode (see VAULT_DATA_DIR)."},
		{EnvEncryptionKey, "", "production, unless KMS_KEY_ID is set", "Local master key wrapping data keys: base64 of exactly 32 random bytes (`openssl rand -base64 32`). Generated once in dev mode."},
		{EnvSecretKeyPrevious, "", "no", "Comma-separated former SECRET_KEY values: tokens they signed stay valid until they expire, so the signing key rotates without logging everyone out."},
		{EnvAdminPassword, "", "production", "Password of the `admin` user created on first start with an empty store."},
		{EnvListenAddr, "127.0.0.1:8000", "no", "host:port the HTTP API listens on."},
		{EnvMetricsAddr, "", "no", "host:port of a listener of its own serving only `/metrics` (and `/healthz`), for example on an internal interface; the API listener then answers `/metrics` with 404. Empty serves `/metrics` on VAULT_LISTEN_ADDR."},
		{EnvTLSCert, "", "production, on a non-loopback address, unless VAULT_TLS_DISABLE=true", "PEM file of the server certificate chain (leaf first). With VAULT_TLS_KEY, both listeners serve HTTPS only: TLS 1.2 or 1.3, ECDHE with AEAD suites, HSTS on every answer. SIGHUP reloads both files without dropping connections; a pair that cannot be used is refused and the current one kept (the log says why)."},
		{EnvTLSKey, "", "with VAULT_TLS_CERT", "PEM file of the certificate's private key."},
		{EnvTLSClientCA, "", "no", "PEM file of the CA(s) client certificates must chain to. When set, every client of both listeners (probes and scrapers included) must present such a certificate; reloaded on SIGHUP too."},
		{EnvTLSDisable, "false", "no", "`true` states that a proxy in front terminates TLS, so production mode may serve plain HTTP on a non-loopback address. The proxy then sets Strict-Transport-Security."},
		{EnvNATSURL, "", "no", "NATS server with JetStream. Empty runs an embedded JetStream server in-process (dev mode only), with its data in the dev database's state directory (see VAULT_DATA_DIR)."},
		{EnvJetStreamStream, "VAULT_EVENTS", "no", "JetStream stream the relay publishes to."},
		{EnvSubjectPrefix, "vault.events", "no", "Subject prefix; events go to `<prefix>.<aggregate>.<EventType>`."},
		{EnvJetStreamReplicas, "1", "no", "Replicas of the event stream and of its checkpoint stream (1 to 5; 3 on a NATS cluster of three, so a lost server loses no acknowledged event). Streams are created with them and scaled up to them, never down."},
		{EnvDataDir, "", "no", "Dev mode: where dev state is kept, one directory per dev database (named by its cluster's system identifier, its name and oid): the generated keys (`dev-keys.env`, `checkpoint-key`) and the embedded JetStream data. Empty: `<user config dir>/securevault/dev` (`~/.config/securevault/dev` on Linux), so a second clone finds the keys of the database the first one created. Elsewhere: the embedded JetStream data."},
		{EnvLogLevel, "info", "no", "`debug`, `info`, `warn` or `error`."},
		{EnvLogFormat, "text", "no", "`text` or `json`."},
		{EnvTrustedProxies, "", "no", "Comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For is believed."},
		{EnvRateLimitRPS, "50", "no", "General per-client-IP request rate (requests/second); 0 disables it."},
		{EnvRateLimitBurst, "100", "no", "Burst allowed above the per-client rate."},
		{EnvMaxBodyBytes, "1048576", "no", "Largest JSON request body in bytes; larger bodies answer 413."},
		{EnvReadYourWritesTimeout, "2s", "no", "How long a command waits for its read models before answering 202 with the position."},
		{EnvMinPositionTimeout, "5s", "no", "How long a query with X-Vault-Min-Position waits before answering 503."},
		{EnvAccessTokenTTL, "15m", "no", "Lifetime of JWT access tokens."},
		{EnvRefreshTokenTTL, "168h", "no", "Lifetime of refresh tokens."},
		{EnvShutdownTimeout, "30s", "no", "How long SIGTERM waits for in-flight requests, the relay and projections."},
		{EnvKMSKeyID, "", "no", "AWS KMS key id or ARN. When set, data keys are wrapped by KMS instead of ENCRYPTION_KEY."},
		{EnvAWSRegion, "", "with KMS_KEY_ID", "AWS region of the KMS key."},
		{EnvKMSEndpoint, "", "no", "KMS endpoint override (a KMS-compatible server); empty uses AWS."},
		{EnvTestMode, "false", "no", "Test shortcuts (cheaper password hashing). Refused in production unless the database name contains `test`."},
		{EnvArgon2MemoryKiB, "65536", "no", "Argon2id memory per password hash, in KiB. With the iterations it must reach the OWASP minimum (for example 19456 KiB at 2 iterations)."},
		{EnvArgon2Iterations, "3", "no", "Argon2id iterations (time cost)."},
		{EnvArgon2Parallelism, "2", "no", "Argon2id lanes. Hashes run at most cores/lanes at a time, so logins never starve other requests."},
		{EnvPasswordMinLength, "12", "no", "Shortest accepted password; passwords may not contain the username."},
		{EnvLoginIPRate, "1", "no", "Login attempts per second allowed per client IP (token bucket; 429 with Retry-After beyond it)."},
		{EnvLoginIPBurst, "20", "no", "Login attempts a client IP may make in a burst."},
		{EnvLoginAccountRate, "0.1", "no", "Login attempts per second allowed per username (existing or not) from one client IP."},
		{EnvLoginAccountBurst, "10", "no", "Login attempts per username from one client IP in a burst."},
		{EnvLockoutThreshold, "5", "no", "Consecutive failed logins from one address (an IPv6 /64 counts as one) that lock that address out of the account; the owner at another address is not locked."},
		{EnvLockoutBase, "1m", "no", "First lockout; it doubles with every further failure."},
		{EnvLockoutMax, "1h", "no", "Longest lockout."},
		{EnvLockoutAccountThreshold, "20", "no", "Wrong passwords for one account, from any addresses, within VAULT_LOCKOUT_ACCOUNT_WINDOW after which one failure locks an address (at most 100; 0 turns the ceiling off). An address with no recent failure can always try."},
		{EnvLockoutAccountWindow, "1h", "no", "Window of the account-wide ceiling (at most 24h)."},
		{EnvCheckpointKey, "", "production", "Ed25519 key (base64 of a 32-byte seed) that signs the periodic chain-head checkpoints. Generated once into the dev database's `checkpoint-key` in dev mode (see VAULT_DATA_DIR)."},
		{EnvCheckpointEvery, "1000", "no", "Sign and publish a checkpoint of the hash chain every N events."},
		{EnvCheckpointInterval, "60s", "no", "Also sign and publish a checkpoint of the head when events have waited this long without one, so a truncated tail is witnessed outside the database within this time."},
		{EnvChainKey, "", "production", "Key of the event log's chain: each event's link is HMAC-SHA256 under it, so someone with only database access cannot forge or re-chain events. Base64 of 32 random bytes (`openssl rand -base64 32`); never stored in the database (events record only its id). Generated once into the dev database's `dev-keys.env` in dev mode (see VAULT_DATA_DIR). Losing it makes the log unverifiable."},
		{EnvChainKeyPrevious, "", "no", "Comma-separated former VAULT_CHAIN_KEY values, for rotation: new links use VAULT_CHAIN_KEY, old links verify with the key their id names. Keep every key any stored link was made with."},
		{EnvSecretKeepVersions, "10", "no", "Versions a secret keeps; rotating past it destroys (crypto-shreds) the oldest."},
	}, append(append(emailVars(), clientGrantVars()...), fileVars()...)...)
}

// WriteTable prints Describe as a Markdown table, for the README and
// `vaultd --help-env`.
func WriteTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| Variable | Default | Required | Description |\n|---|---|---|---|\n")
	for _, v := range Describe() {
		def := "—"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, def, v.Required, v.Description)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func defaultOf(name string) string {
	for _, v := range Describe() {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}
