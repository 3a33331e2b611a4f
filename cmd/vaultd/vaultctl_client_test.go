package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/securevault/vault/cmd/internal/vaultcli"
	"github.com/securevault/vault/domain"
)

// ctl runs vaultctl's client commands in-process against the harness's
// vaultd, with its own environment and config directory.
type ctl struct {
	t         *testing.T
	h         *harness
	env       map[string]string
	configDir string
}

func newCtl(t *testing.T, h *harness) *ctl {
	return &ctl{t: t, h: h, env: map[string]string{"VAULT_ADDR": h.URL}, configDir: t.TempDir()}
}

// run executes one command line; stdin feeds prompts and --value-file -.
func (c *ctl) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	env := &vaultcli.Env{
		In: strings.NewReader(stdin), Out: &out, Err: &errOut,
		Getenv:       func(k string) string { return c.env[k] },
		ConfigDir:    func() (string, error) { return c.configDir, nil },
		ReadPassword: func() ([]byte, bool, error) { return nil, false, nil },
	}
	root := &cobra.Command{Use: "vaultctl", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(vaultcli.Commands(env)...)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return vaultcli.Usage(err) })
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	code = vaultcli.Report(&errOut, err)
	return out.String(), errOut.String(), code
}

// ok runs a command that must succeed.
func (c *ctl) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	require.Equal(c.t, 0, code, "vaultctl %s: %s", strings.Join(args, " "), errOut)
	return out
}

// TestVaultctlAsAClient: login keeps a 0600 token, the secrets commands
// work by name, output is a table or JSON, and the exit codes are the
// documented ones.
func TestVaultctlAsAClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := newCtl(t, h)

	_, _, code := c.run("", "secrets", "list")
	require.Equal(t, vaultcli.ExitUnauthenticated, code, "not logged in")
	_, _, code = c.run("not-the-password\n", "login", "--username", "admin")
	require.Equal(t, vaultcli.ExitUnauthenticated, code)
	c.ok(testAdminPassword+"\n", "login", "--username", "admin")
	info, err := os.Stat(filepath.Join(c.configDir, "securevault", "token"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	c.ok("s3cr3t-v1\n", "secrets", "put", "app/prod/db-password", "--value-file", "-", "--description", "the database", "--tag", "env:prod")
	out := c.ok("", "secrets", "get", "app/prod/db-password")
	require.Contains(t, out, "NAME")
	require.Contains(t, out, "the database")
	require.Equal(t, "s3cr3t-v1\n", c.ok("", "secrets", "reveal", "app/prod/db-password"))
	c.ok("s3cr3t-v2", "secrets", "put", "app/prod/db-password", "--value-file", "-")
	c.ok("", "secrets", "rotate", "app/prod/db-password", "--generate", "32", "--charset", "hex")
	c.ok("", "secrets", "rollback", "app/prod/db-password", "--version", "1")
	var revealed struct {
		Value   string `json:"value"`
		Version int64  `json:"version"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.ok("", "secrets", "reveal", "app/prod/db-password", "-o", "json")), &revealed))
	require.Equal(t, "s3cr3t-v1", revealed.Value)
	require.EqualValues(t, 4, revealed.Version)
	var listed []map[string]any
	require.NoError(t, json.Unmarshal([]byte(c.ok("", "secrets", "list", "app/", "-o", "json")), &listed))
	require.Len(t, listed, 1)
	require.Contains(t, c.ok("", "secrets", "history", "app/prod/db-password"), domain.EventSecretRolledBack)
	require.Contains(t, c.ok("", "secrets", "diff", "app/prod/db-password", "--from", "1"), "version added")
	c.ok("", "secrets", "delete", "app/prod/db-password")
	_, _, code = c.run("", "secrets", "reveal", "app/prod/db-password")
	require.Equal(t, vaultcli.ExitGone, code)
	c.ok("", "secrets", "restore", "app/prod/db-password")

	// Identities and access checks.
	c.ok("", "policies", "create", "app-reader", "--allow", "read,list:secrets/app/**")
	c.ok("", "roles", "create", "app-reader", "--policy", "app-reader")
	c.ok("", "users", "create", "carol", "--role", "app-reader", "--password-file", writeFile(t, "staple-horse-of-2026"))
	require.Contains(t, c.ok("", "users", "list"), "carol")
	require.Contains(t, c.ok("", "roles", "get", "app-reader"), "app-reader")
	c.ok("", "authz", "check", "--user", "carol", "--action", "read", "--resource", "secrets/app/x")
	_, _, code = c.run("", "authz", "check", "--user", "carol", "--action", "reveal", "--resource", "secrets/app/x")
	require.Equal(t, vaultcli.ExitForbidden, code)

	// Updates change what their flags name and nothing else.
	_, _, code = c.run("", "authz", "check", "--user", "carol", "--action", "read", "--resource", "secrets/shared/x")
	require.Equal(t, vaultcli.ExitForbidden, code)
	c.ok("", "policies", "update", "app-reader", "--allow", "read,list:secrets/app/**", "--allow", "read:secrets/shared/*", "--description", "app secrets")
	c.ok("", "authz", "check", "--user", "carol", "--action", "read", "--resource", "secrets/shared/x")
	var pol struct {
		Description string `json:"description"`
		Statements  []struct {
			Actions []string `json:"actions"`
		} `json:"statements"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.ok("", "policies", "get", "app-reader", "-o", "json")), &pol))
	require.Equal(t, "app secrets", pol.Description)
	require.Len(t, pol.Statements, 2)
	require.ElementsMatch(t, []string{"read", "list"}, pol.Statements[0].Actions)
	c.ok("", "roles", "update", "app-reader", "--description", "reads app secrets")
	var role struct {
		Description string   `json:"description"`
		Policies    []string `json:"policies"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.ok("", "roles", "get", "app-reader", "-o", "json")), &role))
	require.Equal(t, "reads app secrets", role.Description)
	require.Len(t, role.Policies, 1, "a description change keeps the policies")
	c.ok("", "users", "update", "carol", "--role", "")
	_, _, code = c.run("", "authz", "check", "--user", "carol", "--action", "read", "--resource", "secrets/app/x")
	require.Equal(t, vaultcli.ExitForbidden, code, "carol's roles were removed")
	c.ok("", "users", "update", "carol", "--role", "app-reader", "--email", "carol@example.com")
	var carolJSON struct {
		Email    string   `json:"email"`
		Roles    []string `json:"roles"`
		Disabled bool     `json:"disabled"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.ok("", "users", "get", "carol", "-o", "json")), &carolJSON))
	require.Equal(t, "carol@example.com", carolJSON.Email)
	require.Len(t, carolJSON.Roles, 1)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"users", "update", "carol"}, vaultcli.ExitUsage},
		{[]string{"users", "update", "carol", "--disable", "--enable"}, vaultcli.ExitUsage},
		{[]string{"roles", "update", "app-reader"}, vaultcli.ExitUsage},
		{[]string{"policies", "update", "app-reader", "--allow", "no-colon"}, vaultcli.ExitUsage},
		{[]string{"users", "update", "nobody", "--enable"}, vaultcli.ExitNotFound},
		{[]string{"roles", "update", "app-reader", "--policy", "no-such-policy"}, vaultcli.ExitNotFound},
	} {
		_, errOut, code := c.run("", tc.args...)
		require.Equal(t, tc.code, code, "vaultctl %s: %s", strings.Join(tc.args, " "), errOut)
	}

	// Exit codes.
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"secrets", "get", "app/none"}, vaultcli.ExitNotFound},
		{[]string{"secrets", "get", "app/../etc"}, vaultcli.ExitInvalid},
		{[]string{"users", "create", "carol", "--password-file", writeFile(t, "another-password-of-2026")}, vaultcli.ExitConflict},
		{[]string{"secrets", "get"}, vaultcli.ExitUsage},
		{[]string{"secrets", "list", "--output", "xml"}, vaultcli.ExitUsage},
		{[]string{"secrets", "list", "--addr", "http://127.0.0.1:1"}, vaultcli.ExitUnauthenticated},
	} {
		_, errOut, code := c.run("", tc.args...)
		require.Equal(t, tc.code, code, "vaultctl %s: %s", strings.Join(tc.args, " "), errOut)
	}

	// Another user's login: forbidden where its policy ends.
	carol := newCtl(t, h)
	carol.ok("staple-horse-of-2026\n", "login", "--username", "carol")
	carol.ok("", "secrets", "get", "app/prod/db-password")
	_, _, code = carol.run("", "secrets", "reveal", "app/prod/db-password")
	require.Equal(t, vaultcli.ExitForbidden, code)

	// VAULT_TOKEN overrides the file; a logout revokes and forgets it.
	token := readToken(t, c.configDir)
	carol.env["VAULT_TOKEN"] = token
	carol.ok("", "secrets", "reveal", "app/prod/db-password")
	c.ok("", "logout")
	_, err = os.Stat(filepath.Join(c.configDir, "securevault", "token"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, _, code = carol.run("", "secrets", "list")
	require.Equal(t, vaultcli.ExitUnauthenticated, code, "the revoked token is refused")
	_, _, code = c.run("", "secrets", "list")
	require.Equal(t, vaultcli.ExitUnauthenticated, code)
}

// TestVaultctlRunAndExport: one batch reveal, names in UPPER_SNAKE with
// --map overrides, the child's exit code passed on, nothing written to
// disk, and export in three formats.
func TestVaultctlRunAndExport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	db := h.secret("app/prod/db-password", "pw-1")
	key := h.secret("app/prod/api/key", "key-1")
	h.secret("app/staging/db-password", "staging")
	c := newCtl(t, h)
	c.ok(testAdminPassword+"\n", "login", "--username", "admin")
	before := dirFiles(t, c.configDir)

	out := c.ok("", "run", "--prefix", "app/prod/", "--map", "api/key=API_TOKEN", "--", "env")
	require.Contains(t, out, "DB_PASSWORD=pw-1\n")
	require.Contains(t, out, "API_TOKEN=key-1\n")
	require.NotContains(t, out, "staging")
	require.Equal(t, before, dirFiles(t, c.configDir), "run writes nothing")
	for _, id := range []string{db.ID, key.ID} {
		events, err := h.inst.app.store.ReadStream(h.ctx(), domain.SecretAccessStream(id), 0, 10)
		require.NoError(t, err)
		require.Len(t, events, 1, "one audited reveal per secret")
	}

	_, _, code := c.run("", "run", "--prefix", "app/prod/", "--", "sh", "-c", "test \"$DB_PASSWORD\" = pw-1 && exit 7")
	require.Equal(t, 7, code, "the child's exit code")
	_, _, code = c.run("", "run", "--prefix", "app/prod/", "--", "sh", "-c", "kill -TERM $$")
	require.Equal(t, 128+15, code, "killed by a signal")
	h.secret("dup/a-b", "1")
	h.secret("dup/a_b", "2")
	_, errOut, code := c.run("", "run", "--prefix", "dup/", "--", "env")
	require.Equal(t, vaultcli.ExitConflict, code, "two names, one variable: %s", errOut)
	require.Contains(t, errOut, "both map to A_B")

	dotenv := c.ok("", "export", "--prefix", "app/prod/", "--format", "dotenv")
	require.Equal(t, "API_KEY=\"key-1\"\nDB_PASSWORD=\"pw-1\"\n", dotenv)
	var asJSON map[string]string
	require.NoError(t, json.Unmarshal([]byte(c.ok("", "export", "--prefix", "app/prod/", "--format", "json")), &asJSON))
	require.Equal(t, map[string]string{"API_KEY": "key-1", "DB_PASSWORD": "pw-1"}, asJSON)
	var asYAML map[string]string
	require.NoError(t, yaml.Unmarshal([]byte(c.ok("", "export", "--name", "app/prod/db-password", "--format", "yaml")), &asYAML))
	require.Equal(t, map[string]string{"APP_PROD_DB_PASSWORD": "pw-1"}, asYAML)
	_, _, code = c.run("", "export", "--name", "app/prod/none", "--format", "json")
	require.Equal(t, vaultcli.ExitForbidden, code, "a name asked for and not revealed fails the export")
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(path, []byte(content+"\n"), 0o600))
	return path
}

func readToken(t *testing.T, configDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(configDir, "securevault", "token"))
	require.NoError(t, err)
	var f struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(data, &f))
	return f.AccessToken
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		out = append(out, path)
		return err
	}))
	return out
}
