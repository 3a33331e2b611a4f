package vaultcli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	vaultclient "github.com/securevault/vault/client"
)

// injectFlags choose the secrets `run` and `export` reveal, how they are
// named, and how the command authenticates.
type injectFlags struct {
	api              apiFlags
	prefix           string
	names            []string
	maps             []string
	clientID, secret string
}

func (f *injectFlags) register(c *cobra.Command) {
	f.api.register(c)
	c.Flags().StringVar(&f.prefix, "prefix", "", "reveal every secret under this prefix you may reveal, such as app/prod/")
	c.Flags().StringArrayVar(&f.names, "name", nil, "reveal this secret (repeat; instead of --prefix)")
	c.Flags().StringArrayVar(&f.maps, "map", nil, "NAME=VAR: give secret NAME (full, or relative to --prefix) the variable VAR (repeat)")
	c.Flags().StringVar(&f.clientID, "client-id", "", "authenticate as this service account client (with --client-secret-file) instead of the stored login")
	c.Flags().StringVar(&f.secret, "client-secret-file", "", "a file holding the client secret")
}

// EnvName maps a secret name to an environment variable: the part after
// prefix, every run of characters other than letters and digits an
// underscore, upper case ("app/prod/db-password" under "app/prod/" is
// DB_PASSWORD).
func EnvName(prefix, name string) string {
	rel := strings.TrimPrefix(name, prefix)
	var b strings.Builder
	underscore := false
	for _, r := range rel {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			underscore = false
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			underscore = false
		default:
			if !underscore && b.Len() > 0 {
				b.WriteByte('_')
			}
			underscore = true
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if out != "" && out[0] >= '0' && out[0] <= '9' {
		out = "_" + out
	}
	return out
}

// reveal makes the one batch request and maps the values to variables.
func (e *Env) reveal(ctx context.Context, f *injectFlags) (map[string]string, error) {
	if (f.prefix == "") == (len(f.names) == 0) {
		return nil, usagef("give --prefix or --name")
	}
	overrides := map[string]string{}
	for _, m := range f.maps {
		name, v, ok := strings.Cut(m, "=")
		if !ok || name == "" || !validEnvName(v) {
			return nil, usagef("--map %q: want NAME=VAR with VAR a variable name", m)
		}
		overrides[strings.ToLower(name)] = v
	}
	c, done, err := e.injectClient(ctx, f)
	if err != nil {
		return nil, err
	}
	defer done()
	var res vaultclient.RevealedSecrets
	if f.prefix != "" {
		res, err = c.RevealPrefix(ctx, f.prefix)
	} else {
		res, err = c.RevealSecrets(ctx, f.names)
	}
	if err != nil {
		return nil, err
	}
	for _, r := range res.Refused {
		fmt.Fprintf(e.Err, "vaultctl: %s: %s\n", r.Name, strings.ReplaceAll(r.Reason, "_", " "))
	}
	if f.prefix == "" && len(res.Refused) > 0 {
		return nil, &ExitError{Code: ExitForbidden, Err: errors.New("some secrets asked for by name were not revealed")}
	}
	env := map[string]string{}
	from := map[string]string{}
	for _, s := range res.Items {
		v, ok := overrides[s.Name]
		if !ok {
			v, ok = overrides[strings.TrimPrefix(s.Name, f.prefix)]
		}
		if !ok {
			v = EnvName(f.prefix, s.Name)
		}
		if v == "" {
			return nil, usagef("secret %s maps to no variable name: give it one with --map", s.Name)
		}
		if other, taken := from[v]; taken {
			return nil, &ExitError{Code: ExitConflict, Err: fmt.Errorf("secrets %s and %s both map to %s: tell them apart with --map", other, s.Name, v)}
		}
		env[v], from[v] = s.Value, s.Name
	}
	return env, nil
}

func validEnvName(v string) bool {
	if v == "" || (v[0] >= '0' && v[0] <= '9') {
		return false
	}
	for _, r := range v {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// injectClient authenticates with the given client credentials, or as
// every other command does.
func (e *Env) injectClient(ctx context.Context, f *injectFlags) (*vaultclient.Client, func(), error) {
	if f.clientID == "" {
		if f.secret != "" {
			return nil, nil, usagef("--client-secret-file needs --client-id")
		}
		return e.connect(ctx, &f.api)
	}
	if f.secret == "" {
		return nil, nil, usagef("--client-id needs --client-secret-file")
	}
	secret, err := readSecretFile(f.secret)
	if err != nil {
		return nil, nil, err
	}
	c, err := vaultclient.New(firstNonEmpty(f.api.addr, e.Getenv("VAULT_ADDR"), DefaultAddr),
		vaultclient.WithHTTPClient(e.HTTP), vaultclient.WithUserAgent("vaultctl"), vaultclient.WithClientCredentials(f.clientID, secret))
	if err != nil {
		return nil, nil, Usage(err)
	}
	return c, func() {}, nil
}

func runCmd(e *Env) *cobra.Command {
	var f injectFlags
	cmd := &cobra.Command{
		Use:   "run --prefix PREFIX [--map NAME=VAR] -- COMMAND [ARGS...]",
		Short: "Run a command with the secrets you may reveal as environment variables",
		Long: "run reveals the secrets under --prefix (or each --name) in one request, each reveal audited,\n" +
			"and starts COMMAND with them added to its environment: names relative to the prefix, in\n" +
			"UPPER_SNAKE (app/prod/db-password is DB_PASSWORD), --map renames one. Nothing is written to\n" +
			"disk. Signals are passed on to the command, and vaultctl exits with its exit code.",
		Example: "  vaultctl run --prefix app/prod/ -- ./server --port 8080\n" +
			"  vaultctl run --prefix app/prod/ --map app/prod/db/url=DATABASE_URL -- env",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("give the command to run after --")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := e.reveal(cmd.Context(), &f)
			if err != nil {
				return err
			}
			return e.runChild(args, env)
		},
	}
	f.register(cmd)
	// Flags end at the command: `vaultctl run --prefix p/ env -i` passes -i to env.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// runChild starts the command with env added to vaultctl's environment,
// passes signals on, and returns its exit status as an ExitError.
func (e *Env) runChild(args []string, env map[string]string) error {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return &ExitError{Code: 127, Err: err}
	}
	child := exec.Command(path, args[1:]...) //nolint:gosec // running the user's command is the point
	child.Env = os.Environ()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		child.Env = append(child.Env, k+"="+env[k])
	}
	child.Stdin, child.Stdout, child.Stderr = e.In, e.Out, e.Err
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	if err := child.Start(); err != nil {
		return &ExitError{Code: 126, Err: err}
	}
	go func() {
		for s := range signals {
			_ = child.Process.Signal(s)
		}
	}()
	err = child.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		code := exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return &ExitError{Code: code, Err: fmt.Errorf("%s: %w", args[0], err), Silent: true}
	}
	return err
}

func exportCmd(e *Env) *cobra.Command {
	var (
		f      injectFlags
		format string
	)
	cmd := &cobra.Command{
		Use:   "export --prefix PREFIX --format dotenv|json|yaml",
		Short: "Print the secrets you may reveal as a dotenv, JSON or YAML document (audited like reveals)",
		Example: "  vaultctl export --prefix app/prod/ --format dotenv > .env\n" +
			"  vaultctl export --prefix app/prod/ --format json | jq .DB_PASSWORD",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "dotenv" && format != "json" && format != "yaml" {
				return usagef("--format must be dotenv, json or yaml")
			}
			env, err := e.reveal(cmd.Context(), &f)
			if err != nil {
				return err
			}
			return e.export(format, env)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&format, "format", "dotenv", "dotenv, json or yaml")
	return cmd
}

func (e *Env) export(format string, env map[string]string) error {
	switch format {
	case "json":
		return e.printJSON(env)
	case "yaml":
		data, err := yaml.Marshal(env)
		if err != nil {
			return err
		}
		_, err = e.Out.Write(data)
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if _, err := fmt.Fprintf(e.Out, "%s=%s\n", k, dotenvQuote(env[k])); err != nil {
			return err
		}
	}
	return nil
}

// dotenvQuote writes a value in double quotes with \, ", $, ` and line
// breaks escaped, which dotenv readers (docker compose, python-dotenv,
// godotenv) read back unchanged.
func dotenvQuote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`", "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(v) + `"`
}
