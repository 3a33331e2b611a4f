package vaultcli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	vaultclient "github.com/securevault/vault/client"
)

func serviceAccountsCmd(e *Env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "service-accounts", Aliases: []string{"sa"}, Short: "Manage service accounts and their client credentials"}
	f.register(cmd)
	k := crud[vaultclient.Account]{e: e, f: &f, noun: "service account", header: []string{"NAME", "ID", "ROLES", "CREDENTIALS", "DISABLED", "DESCRIPTION"},
		row: func(a vaultclient.Account) []string {
			return []string{a.Name, a.ID, strings.Join(a.Roles, ","), strconv.Itoa(a.Credentials), strconv.FormatBool(a.Disabled), a.Description}
		},
		list: func(ctx context.Context, c *vaultclient.Client, o vaultclient.ListOptions) (vaultclient.Page[vaultclient.Account], error) {
			return c.ListServiceAccounts(ctx, o)
		},
		find: findAccount, id: func(a vaultclient.Account) string { return a.ID },
		del: func(ctx context.Context, c *vaultclient.Client, id string) (vaultclient.Written, error) {
			return c.DeleteServiceAccount(ctx, id)
		},
	}
	cmd.AddCommand(k.commands()...)
	var (
		description string
		roles       []string
	)
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a service account holding roles", Args: exactArgs(1, "the account's name"),
		RunE: e.apiCommand(&f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			ids, err := roleIDs(ctx, c, roles)
			if err != nil {
				return err
			}
			a, _, err := c.CreateServiceAccount(ctx, vaultclient.AccountInput{Name: &args[0], Description: &description, Roles: &ids})
			if err != nil {
				return err
			}
			return e.show(asJSON, a, k.header, [][]string{k.row(a)})
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the account is for")
	create.Flags().StringSliceVar(&roles, "role", nil, "a role name or id (repeat)")
	cmd.AddCommand(create, credentialsCmd(e, &f))
	return cmd
}

var credentialHeader = []string{"NAME", "ID", "CLIENT ID", "CREATED", "EXPIRES", "ALLOWED CIDRS"}

func credentialRow(c vaultclient.Credential) []string {
	expires := "never"
	if c.ExpiresAt != nil {
		expires = ts(*c.ExpiresAt)
	}
	return []string{c.Name, c.ID, c.ClientID, ts(c.CreatedAt), expires, strings.Join(c.AllowedCIDRs, ",")}
}

func credentialsCmd(e *Env, f *apiFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "credentials", Short: "Client credentials of a service account"}
	var (
		name      string
		expiresIn time.Duration
		cidrs     []string
	)
	create := &cobra.Command{
		Use:   "create ACCOUNT --name NAME",
		Short: "Issue a client credential; its secret is shown once",
		Args:  exactArgs(1, "the account (name or id)"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			a, err := findAccount(ctx, c, args[0])
			if err != nil {
				return err
			}
			in := vaultclient.CredentialInput{Name: name, AllowedCIDRs: cidrs}
			if expiresIn > 0 {
				t := time.Now().Add(expiresIn).UTC()
				in.ExpiresAt = &t
			}
			cred, err := c.CreateCredential(ctx, a.ID, in)
			if err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(cred)
			}
			if err := e.table(credentialHeader, [][]string{credentialRow(cred.Credential)}); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "\nclient_id:     %s\nclient_secret: %s\n", cred.ClientID, cred.ClientSecret)
			fmt.Fprintln(e.Err, "the client secret is shown once; store it now")
			return nil
		}),
	}
	create.Flags().StringVar(&name, "name", "", "what the credential is for")
	create.Flags().DurationVar(&expiresIn, "expires-in", 0, "expire after this long (default: never)")
	create.Flags().StringSliceVar(&cidrs, "cidr", nil, "a client address range it may be used from (repeat)")
	list := &cobra.Command{
		Use: "list ACCOUNT", Short: "List an account's credentials (never a secret)", Args: exactArgs(1, "the account (name or id)"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			a, err := findAccount(ctx, c, args[0])
			if err != nil {
				return err
			}
			creds, err := c.ListCredentials(ctx, a.ID)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(creds))
			for _, cr := range creds {
				rows = append(rows, credentialRow(cr))
			}
			if creds == nil {
				creds = []vaultclient.Credential{}
			}
			return e.show(asJSON, creds, credentialHeader, rows)
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke ACCOUNT CREDENTIAL_ID", Short: "Revoke a credential, at once on every replica", Args: exactArgs(2, "the account and the credential id"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			a, err := findAccount(ctx, c, args[0])
			if err != nil {
				return err
			}
			if _, err := c.RevokeCredential(ctx, a.ID, args[1]); err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(map[string]any{"id": args[1], "revoked": true})
			}
			_, err = fmt.Fprintf(e.Out, "revoked credential %s\n", args[1])
			return err
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
