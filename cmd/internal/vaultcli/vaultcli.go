// Package vaultcli is vaultctl as a client of a vault's HTTP API, through
// package client: login and logout, secrets by name, users, roles,
// policies, service accounts, access checks, and `run` and `export`,
// which hand secrets to a process or a tool. It opens no database; the
// vault's authorization and audit apply to the terminal as to any client.
//
// Exit codes (ExitCode) are a contract with scripts; README lists them.
package vaultcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	vaultclient "github.com/securevault/vault/client"
)

// Exit codes of vaultctl. A command that runs a child (vaultctl run)
// exits with the child's code once the child started.
const (
	ExitOK              = 0
	ExitFailure         = 1 // anything not listed below
	ExitUsage           = 2 // bad flags or arguments
	ExitUnauthenticated = 3 // no login, an expired or revoked token, bad credentials
	ExitForbidden       = 4
	ExitNotFound        = 5
	ExitConflict        = 6 // taken name, concurrent change, If-Match not met
	ExitGone            = 7 // deleted secret, destroyed version
	ExitInvalid         = 8 // the vault refused the input (400, 413, 415, 422)
	ExitUnavailable     = 9 // the vault unreachable, overloaded or rate limiting
)

// ExitCode maps an error to vaultctl's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ex *ExitError
	if errors.As(err, &ex) {
		return ex.Code
	}
	var usage *UsageError
	if errors.As(err, &usage) {
		return ExitUsage
	}
	switch vaultclient.Code(err) {
	case "":
		return ExitFailure
	case vaultclient.CodeUnauthorized:
		return ExitUnauthenticated
	case vaultclient.CodeForbidden:
		return ExitForbidden
	case vaultclient.CodeNotFound:
		return ExitNotFound
	case vaultclient.CodeConflict, vaultclient.CodePrecondition:
		return ExitConflict
	case vaultclient.CodeGone:
		return ExitGone
	case vaultclient.CodeInvalid, vaultclient.CodeUnprocessable, vaultclient.CodeTooLarge, vaultclient.CodeUnsupported:
		return ExitInvalid
	case vaultclient.CodeUnavailable, vaultclient.CodeRateLimit:
		return ExitUnavailable
	}
	return ExitFailure
}

// ExitError carries an exit code chosen by the command (a child's).
type ExitError struct {
	Code int
	Err  error
	// Silent: the child already said why; vaultctl prints nothing.
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is a mistake in the command line.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Report prints err as vaultctl does (nothing for a child's own exit
// status) and returns the exit code.
func Report(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var ex *ExitError
	if !errors.As(err, &ex) || !ex.Silent {
		fmt.Fprintln(w, "vaultctl:", err)
	}
	return ExitCode(err)
}

// Usage marks err as a usage error (exit code 2).
func Usage(err error) error { return &UsageError{Err: err} }

func usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// Env is what the commands read and write besides the vault: standard
// streams, the environment, the config directory and the HTTP client. The
// zero value of a field takes the process's own.
type Env struct {
	In       io.Reader
	Out, Err io.Writer
	Getenv   func(string) string
	// ConfigDir is os.UserConfigDir by default; the token file lives in
	// its securevault/ directory.
	ConfigDir func() (string, error)
	HTTP      *http.Client
	// ReadPassword reads a password without echo when stdin is a
	// terminal; ok false means stdin is not one (the password is then the
	// first line of In).
	ReadPassword func() (password []byte, ok bool, err error)
}

func (e *Env) defaults() *Env {
	out := *e
	if out.In == nil {
		out.In = os.Stdin
	}
	if out.Out == nil {
		out.Out = os.Stdout
	}
	if out.Err == nil {
		out.Err = os.Stderr
	}
	if out.Getenv == nil {
		out.Getenv = os.Getenv
	}
	if out.ConfigDir == nil {
		out.ConfigDir = os.UserConfigDir
	}
	if out.HTTP == nil {
		out.HTTP = http.DefaultClient
	}
	if out.ReadPassword == nil {
		out.ReadPassword = terminalPassword
	}
	return &out
}

// Commands are vaultctl's client commands, to add to its root. Each runs
// without the database (annotation db=no).
func Commands(env *Env) []*cobra.Command {
	e := env.defaults()
	cmds := []*cobra.Command{
		loginCmd(e), logoutCmd(e), secretsCmd(e),
		usersCmd(e), rolesCmd(e), policiesCmd(e), serviceAccountsCmd(e), authzCmd(e),
		runCmd(e), exportCmd(e),
	}
	for _, c := range cmds {
		markNoDB(c)
	}
	return cmds
}

func markNoDB(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["db"] = "no"
	for _, sub := range c.Commands() {
		markNoDB(sub)
	}
}

// apiFlags are the flags of every command that talks to the vault.
type apiFlags struct {
	addr   string
	output string
}

func (f *apiFlags) register(c *cobra.Command) {
	c.PersistentFlags().StringVar(&f.addr, "addr", "", "vault address (default: env VAULT_ADDR, then the one logged in to, then http://127.0.0.1:8000)")
	c.PersistentFlags().StringVarP(&f.output, "output", "o", "table", "output: table or json")
}

func (f *apiFlags) json() (bool, error) {
	switch f.output {
	case "table", "":
		return false, nil
	case "json":
		return true, nil
	}
	return false, usagef("--output must be table or json, not %q", f.output)
}

// DefaultAddr is the vault address when nothing else names one.
const DefaultAddr = "http://127.0.0.1:8000"

// connect builds a client from the flags, the environment and the token
// file. done saves a refreshed session; call it when the command ends.
func (e *Env) connect(ctx context.Context, f *apiFlags) (c *vaultclient.Client, done func(), err error) {
	stored, _ := e.loadToken()
	addr := firstNonEmpty(f.addr, e.Getenv("VAULT_ADDR"), stored.Addr, DefaultAddr)
	opts := []vaultclient.Option{vaultclient.WithHTTPClient(e.HTTP), vaultclient.WithUserAgent("vaultctl")}
	session := false
	switch {
	case e.Getenv("VAULT_TOKEN") != "":
		opts = append(opts, vaultclient.WithToken(e.Getenv("VAULT_TOKEN")))
	case stored.AccessToken != "" || stored.RefreshToken != "":
		if stored.Addr != "" && strings.TrimRight(stored.Addr, "/") != strings.TrimRight(addr, "/") {
			return nil, nil, &vaultclient.Error{Code: vaultclient.CodeUnauthorized, Message: fmt.Sprintf("logged in to %s, not %s: run vaultctl login --addr %s", stored.Addr, addr, addr)}
		}
		opts = append(opts, vaultclient.WithSession(stored.tokens()))
		session = true
	}
	c, err = vaultclient.New(addr, opts...)
	if err != nil {
		return nil, nil, Usage(err)
	}
	done = func() {
		if !session {
			return
		}
		if t, ok := c.Session(); ok && t.AccessToken != stored.AccessToken {
			if err := e.saveToken(tokenFile{Addr: addr}.with(t)); err != nil {
				fmt.Fprintln(e.Err, "vaultctl: the renewed session could not be saved:", err)
			}
		}
	}
	return c, done, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiCommand wraps a command body that talks to the vault.
func (e *Env) apiCommand(f *apiFlags, run func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		asJSON, err := f.json()
		if err != nil {
			return err
		}
		c, done, err := e.connect(cmd.Context(), f)
		if err != nil {
			return err
		}
		defer done()
		return run(cmd.Context(), c, asJSON, args)
	}
}

// printJSON writes v indented.
func (e *Env) printJSON(v any) error {
	enc := json.NewEncoder(e.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under a header, aligned.
func (e *Env) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// show prints v as JSON, or its table.
func (e *Env) show(asJSON bool, v any, header []string, rows [][]string) error {
	if asJSON {
		return e.printJSON(v)
	}
	return e.table(header, rows)
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s", names)
		}
		return nil
	}
}
