package config

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	goodSecretKey = "q3Jx9vT2mLw8RkZp4sYb7NcA1eHuG6dF0iOaPjKlMnBv"
)

var (
	goodEncryptionKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuv"))
	goodChainKey      = base64.StdEncoding.EncodeToString([]byte("chain-key:Xq9vT2mLw8RkZp4sYb7NcA"))
	formerChainKey    = base64.StdEncoding.EncodeToString([]byte("former-chain:G6dF0iOaPjKlMnBv71x"))
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func productionEnv(dataDir string) map[string]string {
	return map[string]string{
		EnvMode:          "production",
		EnvDataDir:       dataDir,
		EnvSecretKey:     goodSecretKey,
		EnvEncryptionKey: goodEncryptionKey,
		EnvAdminPassword: "correct-horse-battery-staple",
		EnvDatabaseURL:   "postgres://vault@db.internal:5432/vault?sslmode=require",
		EnvCheckpointKey: "q8wGQ0bH2mLq1Yb0tqg3p9sJp4v4mH6u0s8eY0Xk2Ss=",
		EnvChainKey:      goodChainKey,
		EnvPublicURL:     "https://vault.example.com",
	}
}

func with(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func without(env map[string]string, names ...string) map[string]string {
	out := with(env)
	for _, n := range names {
		delete(out, n)
	}
	return out
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, nil)), buf
}

func TestProductionRefusesMissingOrWeakSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := productionEnv(dir)
	cases := []struct {
		name    string
		env     map[string]string
		naming  string // the variable the error must name; "" means Load succeeds
		message string
	}{
		{"complete production config", base, "", ""},
		{"missing SECRET_KEY", without(base, EnvSecretKey), EnvSecretKey, "required"},
		{"blank SECRET_KEY", with(base, EnvSecretKey, "   "), EnvSecretKey, "required"},
		{"short SECRET_KEY", with(base, EnvSecretKey, "short-but-random-Xq9"), EnvSecretKey, "at least 32"},
		{"one repeated character", with(base, EnvSecretKey, strings.Repeat("a", 48)), EnvSecretKey, "distinct"},
		{"repeated pattern", with(base, EnvSecretKey, strings.Repeat("abcdefghij", 4)), EnvSecretKey, "pattern"},
		{"missing ENCRYPTION_KEY", without(base, EnvEncryptionKey), EnvEncryptionKey, "required"},
		{"ENCRYPTION_KEY not base64", with(base, EnvEncryptionKey, "not base64 at all!"), EnvEncryptionKey, "exactly 32 bytes"},
		{"ENCRYPTION_KEY of 16 bytes", with(base, EnvEncryptionKey, base64.StdEncoding.EncodeToString(make([]byte, 16))), EnvEncryptionKey, "exactly 32 bytes"},
		{"ENCRYPTION_KEY all zero", with(base, EnvEncryptionKey, base64.StdEncoding.EncodeToString(make([]byte, 32))), EnvEncryptionKey, "distinct"},
		{"KMS replaces ENCRYPTION_KEY", with(without(base, EnvEncryptionKey), EnvKMSKeyID, "alias/vault", EnvAWSRegion, "eu-west-1"), "", ""},
		{"KMS without region", with(without(base, EnvEncryptionKey), EnvKMSKeyID, "alias/vault"), EnvAWSRegion, "required"},
		{"missing admin password", without(base, EnvAdminPassword), EnvAdminPassword, "required"},
		{"missing VAULT_CHAIN_KEY", without(base, EnvChainKey), EnvChainKey, "required"},
		{"VAULT_CHAIN_KEY not base64", with(base, EnvChainKey, "not base64 at all!"), EnvChainKey, "at least 32"},
		{"VAULT_CHAIN_KEY of 16 bytes", with(base, EnvChainKey, base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))), EnvChainKey, "at least 32"},
		{"VAULT_CHAIN_KEY all zero", with(base, EnvChainKey, base64.StdEncoding.EncodeToString(make([]byte, 32))), EnvChainKey, "distinct"},
		{"VAULT_CHAIN_KEY repeated pattern", with(base, EnvChainKey, base64.StdEncoding.EncodeToString([]byte(strings.Repeat("abcdefgh", 4)))), EnvChainKey, "pattern"},
		{"former chain keys", with(base, EnvChainKeyPrevious, formerChainKey+", "+goodEncryptionKey), "", ""},
		{"a short former chain key", with(base, EnvChainKeyPrevious, formerChainKey+",c2hvcnQ="), EnvChainKeyPrevious, "entry 2"},
		{"test mode on a real database", with(base, EnvTestMode, "true"), EnvTestMode, `"vault"`},
		{"test mode on a test database", with(base, EnvTestMode, "true", EnvDatabaseURL, "postgres://postgres@127.0.0.1/vault_test_1"), "", ""},
		{"test mode on a key=value DSN", with(base, EnvTestMode, "true", EnvDatabaseURL, "host=127.0.0.1 dbname=prod user=vault"), EnvTestMode, `"prod"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := newLogger()
			cfg, err := LoadFrom(context.Background(), lookupFrom(tc.env), logger)
			if tc.naming == "" {
				require.NoError(t, err)
				require.True(t, cfg.Production())
				require.Empty(t, cfg.DevKeysFile, "production never touches the dev key file")
				_, statErr := os.Stat(filepath.Join(dir, DevKeysFileName))
				require.ErrorIs(t, statErr, os.ErrNotExist)
				return
			}
			require.Error(t, err)
			require.Nil(t, cfg)
			require.Contains(t, err.Error(), tc.naming)
			require.Contains(t, err.Error(), tc.message)
			for _, secret := range []string{tc.env[EnvSecretKey], tc.env[EnvEncryptionKey], tc.env[EnvAdminPassword], tc.env[EnvChainKey], tc.env[EnvChainKeyPrevious]} {
				if len(secret) > 8 {
					require.NotContains(t, err.Error(), secret, "errors never echo a key")
					require.NotContains(t, logs.String(), secret, "logs never echo a key")
				}
			}
		})
	}
}

func TestInvalidValuesNameTheirVariable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name  string
		key   string
		value string
	}{
		{"mode", EnvMode, "staging"},
		{"read-your-writes timeout", EnvReadYourWritesTimeout, "2 seconds"},
		{"min position timeout", EnvMinPositionTimeout, "0s"},
		{"access token ttl", EnvAccessTokenTTL, "-5m"},
		{"refresh not longer than access", EnvRefreshTokenTTL, "10m"},
		{"shutdown timeout", EnvShutdownTimeout, "soon"},
		{"rate limit rps", EnvRateLimitRPS, "fast"},
		{"negative rps", EnvRateLimitRPS, "-1"},
		{"burst", EnvRateLimitBurst, "0"},
		{"max body", EnvMaxBodyBytes, "1MiB"},
		{"log level", EnvLogLevel, "loud"},
		{"log format", EnvLogFormat, "xml"},
		{"trusted proxies", EnvTrustedProxies, "10.0.0.0/8, proxy.internal"},
		{"listen address", EnvListenAddr, "8000"},
		{"metrics address", EnvMetricsAddr, "9100"},
		{"metrics address equal to the API's", EnvMetricsAddr, "127.0.0.1:8000"},
		{"test mode flag", EnvTestMode, "maybe"},
		{"database url", EnvDatabaseURL, "postgres://[::1"},
		{"stream name", EnvJetStreamStream, "vault.events"},
		{"subject prefix", EnvSubjectPrefix, "vault.>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := with(productionEnv(dir), tc.key, tc.value)
			_, err := LoadFrom(context.Background(), lookupFrom(env), nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.key)
		})
	}
	t.Run("all problems are reported at once", func(t *testing.T) {
		t.Parallel()
		env := with(productionEnv(dir), EnvShutdownTimeout, "soon", EnvRateLimitBurst, "x", EnvLogFormat, "xml")
		_, err := LoadFrom(context.Background(), lookupFrom(env), nil)
		require.Error(t, err)
		for _, name := range []string{EnvShutdownTimeout, EnvRateLimitBurst, EnvLogFormat} {
			require.Contains(t, err.Error(), name)
		}
	})
}

func TestDefaultsAndParsing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{"documented defaults", map[string]string{}, func(t *testing.T, c *Config) {
			require.Equal(t, ModeDev, c.Mode)
			require.Equal(t, "postgres://postgres@127.0.0.1:5432/vault?sslmode=disable", c.DatabaseURL)
			require.Equal(t, "127.0.0.1:8000", c.ListenAddr)
			require.Empty(t, c.MetricsAddr, "metrics share the API listener unless VAULT_METRICS_ADDR is set")
			require.Equal(t, "VAULT_EVENTS", c.JetStreamStream)
			require.Equal(t, "vault.events", c.SubjectPrefix)
			require.Empty(t, c.NATSURL)
			require.Equal(t, 2*time.Second, c.ReadYourWritesTimeout)
			require.Equal(t, 5*time.Second, c.MinPositionTimeout)
			require.Equal(t, 15*time.Minute, c.AccessTokenTTL)
			require.Equal(t, 168*time.Hour, c.RefreshTokenTTL)
			require.Equal(t, 30*time.Second, c.ShutdownTimeout)
			require.Equal(t, int64(1<<20), c.MaxBodyBytes)
			require.Equal(t, slog.LevelInfo, c.LogLevel)
			require.Equal(t, "text", c.LogFormat)
			require.False(t, c.TestMode)
			require.Empty(t, c.TrustedProxies)
		}},
		{"explicit values", map[string]string{
			EnvNATSURL:               "nats://127.0.0.1:4222",
			EnvListenAddr:            "0.0.0.0:9000",
			EnvMetricsAddr:           "10.0.0.5:9100",
			EnvLogLevel:              "DEBUG",
			EnvLogFormat:             "JSON",
			EnvTrustedProxies:        "10.0.0.0/8, 192.168.1.7 ,fd00::/8",
			EnvRateLimitRPS:          "2.5",
			EnvRateLimitBurst:        "7",
			EnvMaxBodyBytes:          "4096",
			EnvReadYourWritesTimeout: "750ms",
			EnvAccessTokenTTL:        "5m",
			EnvRefreshTokenTTL:       "24h",
			EnvTestMode:              "true",
			EnvDatabaseURL:           "postgres://postgres@127.0.0.1/vault_test",
		}, func(t *testing.T, c *Config) {
			require.Equal(t, "nats://127.0.0.1:4222", c.NATSURL)
			require.Equal(t, "0.0.0.0:9000", c.ListenAddr)
			require.Equal(t, "10.0.0.5:9100", c.MetricsAddr)
			require.Equal(t, slog.LevelDebug, c.LogLevel)
			require.Equal(t, "json", c.LogFormat)
			require.Equal(t, []netip.Prefix{
				netip.MustParsePrefix("10.0.0.0/8"),
				netip.MustParsePrefix("192.168.1.7/32"),
				netip.MustParsePrefix("fd00::/8"),
			}, c.TrustedProxies)
			require.Equal(t, 2.5, c.RateLimitRPS)
			require.Equal(t, 7, c.RateLimitBurst)
			require.Equal(t, int64(4096), c.MaxBodyBytes)
			require.Equal(t, 750*time.Millisecond, c.ReadYourWritesTimeout)
			require.Equal(t, 5*time.Minute, c.AccessTokenTTL)
			require.Equal(t, 24*time.Hour, c.RefreshTokenTTL)
			require.True(t, c.TestMode)
		}},
		{"rate limit can be disabled", map[string]string{EnvRateLimitRPS: "0"}, func(t *testing.T, c *Config) {
			require.Zero(t, c.RateLimitRPS)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := with(tc.env, EnvDataDir, t.TempDir())
			cfg, err := LoadFrom(context.Background(), lookupFrom(env), nil)
			require.NoError(t, err)
			tc.check(t, cfg)
		})
	}
}

func TestDevModeGeneratesKeysOnce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{EnvDataDir: dir}

	logger, logs := newLogger()
	first, err := LoadFrom(context.Background(), lookupFrom(env), logger)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(first.SecretKey), MinSecretKeyBytes)
	require.Len(t, first.EncryptionKey, EncryptionKeySize)
	require.Empty(t, weakness(first.SecretKey, MinSecretKeyBytes))
	require.Len(t, first.ChainKey, MinChainKeyBytes)
	require.Empty(t, weakness(first.ChainKey, MinChainKeyBytes))

	path := filepath.Join(dir, DevKeysFileName)
	require.Equal(t, path, first.DevKeysFile)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.Contains(t, logs.String(), "DEV MODE")
	require.Contains(t, logs.String(), `"level":"WARN"`)

	second, err := LoadFrom(context.Background(), lookupFrom(env), logger)
	require.NoError(t, err)
	require.Equal(t, first.SecretKey.Bytes(), second.SecretKey.Bytes(), "keys are reused, not regenerated")
	require.Equal(t, first.EncryptionKey.Bytes(), second.EncryptionKey.Bytes())
	require.Equal(t, first.ChainKey.Bytes(), second.ChainKey.Bytes(), "the chain key is reused: the log stays verifiable")

	for _, secret := range []string{string(first.SecretKey), base64.StdEncoding.EncodeToString(first.EncryptionKey), base64.StdEncoding.EncodeToString(first.ChainKey)} {
		require.NotContains(t, logs.String(), secret, "the warning never prints a key")
	}

	t.Run("environment wins over the file", func(t *testing.T) {
		cfg, err := LoadFrom(context.Background(), lookupFrom(with(env, EnvSecretKey, goodSecretKey)), nil)
		require.NoError(t, err)
		require.Equal(t, goodSecretKey, string(cfg.SecretKey))
		require.Equal(t, first.EncryptionKey.Bytes(), cfg.EncryptionKey.Bytes())
	})
	t.Run("weak key is only a warning in dev", func(t *testing.T) {
		logger, logs := newLogger()
		cfg, err := LoadFrom(context.Background(), lookupFrom(with(env, EnvSecretKey, strings.Repeat("x", 40))), logger)
		require.NoError(t, err)
		require.NotNil(t, cfg)
		require.Contains(t, logs.String(), EnvSecretKey)
		require.NotContains(t, logs.String(), strings.Repeat("x", 40))
	})
	t.Run("a short chain key is refused even in dev", func(t *testing.T) {
		_, err := LoadFrom(context.Background(), lookupFrom(with(env, EnvChainKey, "c2hvcnQ=")), nil)
		require.ErrorContains(t, err, EnvChainKey)
	})
	t.Run("a key file from before the chain was keyed gains a chain key and keeps the others", func(t *testing.T) {
		dir := t.TempDir()
		old := fmt.Sprintf("%s=%s\n%s=%s\n", EnvSecretKey, goodSecretKey, EnvEncryptionKey, goodEncryptionKey)
		require.NoError(t, os.WriteFile(filepath.Join(dir, DevKeysFileName), []byte(old), 0o600))
		cfg, err := LoadFrom(context.Background(), lookupFrom(map[string]string{EnvDataDir: dir}), nil)
		require.NoError(t, err)
		require.Equal(t, goodSecretKey, string(cfg.SecretKey))
		require.Equal(t, goodEncryptionKey, base64.StdEncoding.EncodeToString(cfg.EncryptionKey))
		require.Len(t, cfg.ChainKey, MinChainKeyBytes)
		again, err := LoadFrom(context.Background(), lookupFrom(map[string]string{EnvDataDir: dir}), nil)
		require.NoError(t, err)
		require.Equal(t, cfg.ChainKey.Bytes(), again.ChainKey.Bytes())
	})
	t.Run("a wrong-size encryption key is refused even in dev", func(t *testing.T) {
		_, err := LoadFrom(context.Background(), lookupFrom(with(env, EnvEncryptionKey, "c2hvcnQ=")), nil)
		require.ErrorContains(t, err, EnvEncryptionKey)
	})
}

func TestDevKeysAgreeUnderConcurrentStarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{EnvDataDir: dir}
	const starts = 8
	keys := make([][]byte, starts)
	errs := make([]error, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Go(func() {
			cfg, err := LoadFrom(context.Background(), lookupFrom(env), nil)
			errs[i] = err
			if err == nil {
				keys[i] = cfg.EncryptionKey
			}
		})
	}
	wg.Wait()
	for i := range starts {
		require.NoError(t, errs[i])
		require.Equal(t, keys[0], keys[i], "every process must end up with the same master key")
	}
}

func TestSecretsNeverFormat(t *testing.T) {
	t.Parallel()
	cfg, err := LoadFrom(context.Background(), lookupFrom(productionEnv(t.TempDir())), nil)
	require.NoError(t, err)
	encB64 := goodEncryptionKey
	jsonBytes, err := json.Marshal(cfg)
	require.NoError(t, err)
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "config", cfg, "secret", cfg.SecretKey)
	var textBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&textBuf, nil)).Info("config", "key", cfg.EncryptionKey, "chain", cfg.ChainKey)

	renderings := map[string]string{
		"%v":        fmt.Sprintf("%v", cfg),
		"%+v":       fmt.Sprintf("%+v", cfg),
		"%#v":       fmt.Sprintf("%#v", cfg),
		"%s":        fmt.Sprintf("key=%s", cfg.SecretKey),
		"%x":        fmt.Sprintf("%x", cfg.EncryptionKey),
		"json":      string(jsonBytes),
		"slog json": logBuf.String(),
		"slog text": textBuf.String(),
	}
	for name, out := range renderings {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NotContains(t, out, goodSecretKey)
			require.NotContains(t, out, "correct-horse-battery-staple")
			require.NotContains(t, out, encB64)
			require.NotContains(t, out, "0123456789abcdefghijklmnopqrstuv")
			require.NotContains(t, out, hex.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuv")))
			require.NotContains(t, out, goodChainKey)
			require.NotContains(t, out, "chain-key:Xq9vT2mLw8RkZp4sYb7NcA")
		})
	}
}

func TestDescribeCoversEveryVariable(t *testing.T) {
	t.Parallel()
	described := map[string]Var{}
	for _, v := range Describe() {
		_, dup := described[v.Name]
		require.False(t, dup, "%s described twice", v.Name)
		require.NotEmpty(t, v.Description, v.Name)
		require.NotEmpty(t, v.Required, v.Name)
		described[v.Name] = v
	}

	var mu sync.Mutex
	read := map[string]bool{}
	recording := func(name string) (string, bool) {
		mu.Lock()
		read[name] = true
		mu.Unlock()
		return "", false
	}
	_, err := LoadFrom(context.Background(), func(name string) (string, bool) {
		if name == EnvDataDir {
			recording(name)
			return t.TempDir(), true
		}
		return recording(name)
	}, nil)
	require.NoError(t, err)

	for name := range read {
		require.Contains(t, described, name, "Load reads %s but Describe does not list it", name)
	}
	for name := range described {
		require.True(t, read[name], "Describe lists %s but Load never reads it", name)
	}

	var table bytes.Buffer
	require.NoError(t, WriteTable(&table))
	for name := range described {
		require.Contains(t, table.String(), "`"+name+"`")
	}
}
