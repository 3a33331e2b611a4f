package vaultcli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	vaultclient "github.com/securevault/vault/client"
)

// tokenFile is what `vaultctl login` keeps, in a 0600 file under the
// user's config directory: the address and the session's tokens (a
// client-credentials login keeps only its access token; the client secret
// is never written).
type tokenFile struct {
	Addr         string    `json:"addr"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

func (f tokenFile) tokens() vaultclient.Tokens {
	return vaultclient.Tokens{AccessToken: f.AccessToken, RefreshToken: f.RefreshToken, TokenType: "Bearer", Expiry: f.Expiry}
}

func (f tokenFile) with(t vaultclient.Tokens) tokenFile {
	f.AccessToken, f.RefreshToken, f.Expiry = t.AccessToken, t.RefreshToken, t.Expiry
	return f
}

// TokenPath is where the token file lives.
func (e *Env) TokenPath() (string, error) {
	dir, err := e.ConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for the token file: %w", err)
	}
	return filepath.Join(dir, "securevault", "token"), nil
}

func (e *Env) loadToken() (tokenFile, error) {
	path, err := e.TokenPath()
	if err != nil {
		return tokenFile{}, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return tokenFile{}, err
	}
	var f tokenFile
	if err := json.Unmarshal(data, &f); err != nil {
		return tokenFile{}, fmt.Errorf("token file %s: %w", path, err)
	}
	return f, nil
}

// saveToken writes the file whole under a temporary name, 0600 from its
// creation, then renames it into place.
func (e *Env) saveToken(f tokenFile) error {
	path, err := e.TokenPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func terminalPassword() ([]byte, bool, error) {
	fd := int(os.Stdin.Fd()) //nolint:gosec // a file descriptor fits an int
	if !term.IsTerminal(fd) {
		return nil, false, nil
	}
	p, err := term.ReadPassword(fd)
	return p, true, err
}

// readSecret reads a password or client secret: from the terminal without
// echo, or the first line of stdin.
func (e *Env) readSecret(prompt string) (string, error) {
	fmt.Fprint(e.Err, prompt)
	p, ok, err := e.ReadPassword()
	if ok {
		fmt.Fprintln(e.Err)
		return string(p), err
	}
	line, err := bufio.NewReader(e.In).ReadString('\n')
	if err != nil && line == "" {
		return "", usagef("no password on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readSecretFile reads a file holding one secret (a trailing newline is
// not part of it).
func readSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", Usage(err)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

func loginCmd(e *Env) *cobra.Command {
	var (
		f                  apiFlags
		username, clientID string
		secretFile         string
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a vault and keep the token in the user's config directory",
		Long: "login authenticates with a username and a password (prompted without echo, or the first\n" +
			"line of stdin), or as a service account with --client-id and --client-secret-file (the\n" +
			"OAuth 2.0 client-credentials grant). The token is kept, 0600, in\n" +
			"<user config dir>/securevault/token; VAULT_ADDR and VAULT_TOKEN override it.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			addr := firstNonEmpty(f.addr, e.Getenv("VAULT_ADDR"), DefaultAddr)
			c, err := vaultclient.New(addr, vaultclient.WithHTTPClient(e.HTTP), vaultclient.WithUserAgent("vaultctl"))
			if err != nil {
				return Usage(err)
			}
			var t vaultclient.Tokens
			switch {
			case clientID != "" && username != "":
				return usagef("give --username or --client-id, not both")
			case clientID != "":
				if secretFile == "" {
					return usagef("--client-id needs --client-secret-file")
				}
				secret, err := readSecretFile(secretFile)
				if err != nil {
					return err
				}
				if t, err = c.ClientCredentialsToken(ctx, clientID, secret); err != nil {
					return err
				}
			default:
				if username == "" {
					return usagef("give --username, or --client-id and --client-secret-file")
				}
				password, err := e.readSecret("Password: ")
				if err != nil {
					return err
				}
				if t, err = c.Login(ctx, username, password); err != nil {
					return err
				}
			}
			if err := e.saveToken(tokenFile{Addr: addr}.with(t)); err != nil {
				return err
			}
			path, _ := e.TokenPath()
			fmt.Fprintf(e.Err, "logged in to %s; token in %s\n", addr, path)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&username, "username", "u", "", "the user to log in as")
	cmd.Flags().StringVar(&clientID, "client-id", "", "a service account's client id")
	cmd.Flags().StringVar(&secretFile, "client-secret-file", "", "a file holding the client secret")
	return cmd
}

func logoutCmd(e *Env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Revoke the session and delete the token file",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := e.connect(cmd.Context(), &f)
			if err != nil {
				return err
			}
			err = c.Logout(cmd.Context())
			path, perr := e.TokenPath()
			if perr == nil {
				if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
					return rerr
				}
			}
			// A token the vault no longer takes is logged out already.
			if vaultclient.Code(err) == vaultclient.CodeUnauthorized {
				err = nil
			}
			return err
		},
	}
	f.register(cmd)
	return cmd
}

// StoredLogin is the address and access token `vaultctl login` kept, for
// the commands that make their own requests (vaultctl audit); empty when
// there is none.
func StoredLogin() (addr, accessToken string) {
	f, err := (&Env{}).defaults().loadToken()
	if err != nil {
		return "", ""
	}
	return f.Addr, f.AccessToken
}
