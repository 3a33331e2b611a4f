package main

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/securevault/vault/config"
)

// No Docker engine runs where the tests run, so the packaging is checked
// as files: the compose file against what config.Load requires, the .env
// script by running it, the Dockerfile by its stages.

const repoRoot = "../.."

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string                    `yaml:"image"`
	Build       any                       `yaml:"build"`
	Entrypoint  []string                  `yaml:"entrypoint"`
	Command     any                       `yaml:"command"`
	Environment map[string]string         `yaml:"environment"`
	DependsOn   map[string]map[string]any `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes []string `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c))
	return c
}

// devEnvFile runs scripts/dev-env.sh into a fresh file and returns what
// it wrote.
func devEnvFile(t *testing.T) (string, map[string]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	out, err := exec.Command("bash", filepath.Join(repoRoot, "scripts", "dev-env.sh"), path).CombinedOutput() //nolint:gosec // G204: runs the repository's own scripts/dev-env.sh on a temporary file
	require.NoError(t, err, string(out))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read only
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "a .env line is NAME=value: %q", line)
		vars[k] = v
	}
	require.NoError(t, sc.Err())
	return path, vars
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate does what compose does with ${NAME}, ${NAME:-default} and
// ${NAME:?error}, reading NAME from the .env file.
func interpolate(t *testing.T, value string, vars map[string]string) string {
	t.Helper()
	return interpolation.ReplaceAllStringFunc(value, func(m string) string {
		sub := interpolation.FindStringSubmatch(m)
		if v, ok := vars[sub[1]]; ok && v != "" {
			return v
		}
		switch sub[2] {
		case ":-", "-":
			return sub[3]
		case ":?", "?":
			t.Fatalf("compose would stop: %s is not in the .env file (%s)", sub[1], sub[3])
		}
		return ""
	})
}

// TestComposeSetsEveryVariableProductionRequires: the vault service starts
// in production mode with what the compose file and the .env file the
// script creates give it, and sets every variable config marks as required
// in production.
func TestComposeSetsEveryVariableProductionRequires(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	vault, ok := c.Services["vault"]
	require.True(t, ok, "a vault service")
	require.Equal(t, "production", vault.Environment[config.EnvMode])

	for _, v := range config.Describe() {
		if strings.HasPrefix(v.Required, "production") {
			require.NotEmpty(t, vault.Environment[v.Name], "%s is required in production (%s) but the vault service does not set it", v.Name, v.Required)
		}
	}
	for name, value := range vault.Environment {
		if strings.Contains(name, "KEY") && name != config.EnvTLSKey && !strings.HasPrefix(name, "AWS_") {
			require.Regexp(t, `^\$\{[A-Z_]+:\?`, value, "%s comes from .env, never from the compose file", name)
		}
	}

	_, vars := devEnvFile(t)
	env := map[string]string{}
	for name, value := range vault.Environment {
		env[name] = interpolate(t, value, vars)
	}
	_, err := config.LoadFrom(context.Background(), func(name string) (string, bool) { v, ok := env[name]; return v, ok }, nil)
	require.NoError(t, err, "production mode accepts the vault service's environment")
}

// TestComposeRunsVaultdAsANonOwner: migrations run as the database's owner
// in a one-shot service that vaultd waits for; vaultd connects as the login
// role the init script creates in vault_app, and has a healthcheck.
func TestComposeRunsVaultdAsANonOwner(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	_, vars := devEnvFile(t)
	owner := c.Services["postgres"].Environment["POSTGRES_USER"]
	require.NotEmpty(t, owner)

	userOf := func(service string) string {
		raw := interpolate(t, c.Services[service].Environment[config.EnvDatabaseURL], vars)
		u, err := url.Parse(raw)
		require.NoError(t, err, service)
		return u.User.Username()
	}
	require.Equal(t, owner, userOf("vault-migrate"), "migrations run as the owner")
	require.Equal(t, []string{"/usr/local/bin/vaultctl"}, c.Services["vault-migrate"].Entrypoint)
	require.Equal(t, []any{"migrate"}, c.Services["vault-migrate"].Command)
	for name := range c.Services["vault-migrate"].Environment {
		require.NotContains(t, []string{config.EnvSecretKey, config.EnvEncryptionKey, config.EnvChainKey, config.EnvCheckpointKey},
			name, "the migration job holds no key of the vault's")
	}
	app := userOf("vault")
	require.NotEqual(t, owner, app, "vaultd does not connect as the owner")
	initdb, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "compose", "initdb.sh"))
	require.NoError(t, err)
	require.Regexp(t, `CREATE ROLE `+app+` LOGIN PASSWORD :'app_password' IN ROLE vault_app;`, string(initdb),
		"the init script creates the login role as a member of vault_app")
	require.Contains(t, c.Services["postgres"].Volumes, "./scripts/compose/initdb.sh:/docker-entrypoint-initdb.d/10-vault-roles.sh:ro")

	deps := c.Services["vault"].DependsOn
	require.Equal(t, "service_completed_successfully", deps["vault-migrate"]["condition"])
	require.Equal(t, "service_completed_successfully", deps["vault-tls"]["condition"])
	require.NotNil(t, c.Services["vault"].Healthcheck)
	require.Equal(t, []string{"CMD", "/usr/local/bin/vaultctl", "health"}, c.Services["vault"].Healthcheck.Test)
	require.Contains(t, c.Services["vault"].Volumes, "vaulttls:/etc/vault/tls:ro")
	require.Equal(t, "/etc/vault/tls/cert.pem", c.Services["vault"].Environment[config.EnvTLSCert])
}

// TestDevEnvScriptWritesTheKeysOnce: a second run keeps the file, so a
// second `docker compose up` decrypts what the first one stored; the file
// is private and ignored by git and by the image build.
func TestDevEnvScriptWritesTheKeysOnce(t *testing.T) {
	t.Parallel()
	path, vars := devEnvFile(t)
	for _, name := range []string{config.EnvSecretKey, config.EnvEncryptionKey, config.EnvChainKey, config.EnvCheckpointKey, config.EnvAdminPassword} {
		require.NotEmpty(t, vars[name], name)
	}
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	out, err := exec.Command("bash", filepath.Join(repoRoot, "scripts", "dev-env.sh"), path).CombinedOutput() //nolint:gosec // G204: runs the repository's own scripts/dev-env.sh on a temporary file
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "kept")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "never regenerated")

	_, other := devEnvFile(t)
	require.NotEqual(t, vars[config.EnvEncryptionKey], other[config.EnvEncryptionKey], "each new file has keys of its own")
	for _, ignore := range []string{".gitignore", ".dockerignore"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, ignore))
		require.NoError(t, err)
		require.Regexp(t, `(?m)^/?\.env$`, string(b), "%s keeps .env out", ignore)
	}
}

// TestDockerfileIsMultiStageStaticAndNonRoot reads the Dockerfile's stages.
func TestDockerfileIsMultiStageStaticAndNonRoot(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	df := string(raw)
	stages := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(df, -1)
	require.Len(t, stages, 2, "a build stage and a run stage")
	run := df[stages[1][0]:]
	require.Contains(t, df, "CGO_ENABLED=0 go build", "static binaries")
	require.Contains(t, df, "buildinfo.version=${VERSION}", "stamped with the version")
	require.Regexp(t, `(?m)^FROM gcr.io/distroless/static\S*:nonroot$`, run, "a static, shell-less base")
	require.Regexp(t, `(?m)^USER 65532:65532$`, run, "not root")
	require.NotContains(t, run, "go build")
	require.Contains(t, run, `HEALTHCHECK`)
}
