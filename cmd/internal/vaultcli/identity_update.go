package vaultcli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	vaultclient "github.com/securevault/vault/client"
	"github.com/securevault/vault/domain"
)

// The update subcommands of users, roles and policies: each sends only
// what its flags name, so an update never resets a field the caller did
// not mention.

// updateUserCmd changes what its flags name and nothing else: --role
// replaces the user's roles, --password (prompted) or --password-file sets
// a new password, --disable and --enable switch the account.
func updateUserCmd(e *Env, f *apiFlags, k crud[vaultclient.User]) *cobra.Command {
	var (
		email, passwordFile       string
		roles                     []string
		password, disable, enable bool
		update                    *cobra.Command
	)
	update = &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Change a user's e-mail, roles, password or state (only what the flags name)",
		Example: "  vaultctl users update carol --role app-reader --role app-writer\n" +
			"  vaultctl users update carol --disable",
		Args: exactArgs(1, "a name or an id"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			if disable && enable {
				return usagef("--disable and --enable exclude each other")
			}
			if password && passwordFile != "" {
				return usagef("--password and --password-file exclude each other")
			}
			u, err := findUser(ctx, c, args[0])
			if err != nil {
				return err
			}
			var in vaultclient.UpdateUserInput
			changed := false
			if update.Flags().Changed("email") {
				in.Email, changed = &email, true
			}
			if update.Flags().Changed("role") {
				ids, err := roleIDs(ctx, c, nonEmpty(roles))
				if err != nil {
					return err
				}
				in.Roles, changed = &ids, true
			}
			if password || passwordFile != "" {
				var pw string
				if passwordFile != "" {
					pw, err = readSecretFile(passwordFile)
				} else {
					pw, err = e.readSecret("New password for " + u.Username + ": ")
				}
				if err != nil {
					return err
				}
				in.Password, changed = &pw, true
			}
			if disable || enable {
				in.Disabled, changed = &disable, true
			}
			if !changed {
				return usagef("nothing to change: give --email, --role, --password, --password-file, --disable or --enable")
			}
			updated, _, err := c.UpdateUser(ctx, u.ID, in)
			if err != nil {
				return err
			}
			return e.show(asJSON, updated, k.header, [][]string{k.row(updated)})
		}),
	}
	update.Flags().StringVar(&email, "email", "", "the new e-mail address (empty removes it)")
	update.Flags().StringSliceVar(&roles, "role", nil, "a role name or id (repeat); replaces the user's roles (--role '' removes them all)")
	update.Flags().BoolVar(&password, "password", false, "prompt for a new password")
	update.Flags().StringVar(&passwordFile, "password-file", "", "read the new password from a file")
	update.Flags().BoolVar(&disable, "disable", false, "disable the account (its sessions end)")
	update.Flags().BoolVar(&enable, "enable", false, "enable the account again")
	return update
}

// updateRoleCmd changes what its flags name: --name renames, --policy
// replaces the role's policies.
func updateRoleCmd(e *Env, f *apiFlags, k crud[vaultclient.Role]) *cobra.Command {
	var (
		name, description string
		policies          []string
		update            *cobra.Command
	)
	update = &cobra.Command{
		Use:     "update NAME|ID",
		Short:   "Rename a role, change its description or replace its policies (only what the flags name)",
		Example: "  vaultctl roles update app-reader --policy app-reader --policy app-audit",
		Args:    exactArgs(1, "a name or an id"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			r, err := findRole(ctx, c, args[0])
			if err != nil {
				return err
			}
			var in vaultclient.RoleInput
			if update.Flags().Changed("name") {
				in.Name = &name
			}
			if update.Flags().Changed("description") {
				in.Description = &description
			}
			if update.Flags().Changed("policy") {
				ids, err := policyIDs(ctx, c, nonEmpty(policies))
				if err != nil {
					return err
				}
				in.Policies = &ids
			}
			if in == (vaultclient.RoleInput{}) {
				return usagef("nothing to change: give --name, --description or --policy")
			}
			updated, _, err := c.UpdateRole(ctx, r.ID, in)
			if err != nil {
				return err
			}
			return e.show(asJSON, updated, k.header, [][]string{k.row(updated)})
		}),
	}
	update.Flags().StringVar(&name, "name", "", "the role's new name")
	update.Flags().StringVar(&description, "description", "", "what the role is for")
	update.Flags().StringSliceVar(&policies, "policy", nil, "a policy name or id (repeat); replaces the role's policies (--policy '' removes them all)")
	return update
}

// policyIDs resolves policy names (or ids).
func policyIDs(ctx context.Context, c *vaultclient.Client, refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		p, err := findPolicy(ctx, c, r)
		if err != nil {
			return nil, err
		}
		out = append(out, p.ID)
	}
	return out, nil
}

// updatePolicyCmd changes what its flags name: --name renames, --allow or
// --file replace the statements.
func updatePolicyCmd(e *Env, f *apiFlags, k crud[vaultclient.Policy]) *cobra.Command {
	var (
		name, description, file string
		allows                  []string
		update                  *cobra.Command
	)
	update = &cobra.Command{
		Use:   "update NAME|ID",
		Short: "Rename a policy, change its description or replace its statements (only what the flags name)",
		Example: "  vaultctl policies update app-prod --allow 'reveal,list:secrets/app/prod/**' --allow 'read:secrets/app/shared/*'\n" +
			"  vaultctl policies update app-prod --file statements.json",
		Args: exactArgs(1, "a name or an id"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			p, err := findPolicy(ctx, c, args[0])
			if err != nil {
				return err
			}
			var in vaultclient.PolicyInput
			if update.Flags().Changed("name") {
				in.Name = &name
			}
			if update.Flags().Changed("description") {
				in.Description = &description
			}
			if file != "" || len(allows) > 0 {
				st, err := statementsFrom(file, allows)
				if err != nil {
					return err
				}
				in.Statements = &st
			}
			if in == (vaultclient.PolicyInput{}) {
				return usagef("nothing to change: give --name, --description, --allow or --file")
			}
			updated, _, err := c.UpdatePolicy(ctx, p.ID, in)
			if err != nil {
				return err
			}
			return e.show(asJSON, updated, k.header, [][]string{k.row(updated)})
		}),
	}
	update.Flags().StringVar(&name, "name", "", "the policy's new name")
	update.Flags().StringVar(&description, "description", "", "what the policy is for")
	update.Flags().StringArrayVar(&allows, "allow", nil, "an allow statement ACTIONS:RESOURCE (repeat); with --file, added to its statements; replaces the policy's statements")
	update.Flags().StringVar(&file, "file", "", "a JSON file of statements; replaces the policy's statements")
	return update
}

// statementsFrom reads a JSON file of statements (when file is set) and
// adds one allow statement per ACTIONS:RESOURCE in allows.
func statementsFrom(file string, allows []string) ([]vaultclient.Statement, error) {
	var st []vaultclient.Statement
	if file != "" {
		data, err := os.ReadFile(filepath.Clean(file))
		if err != nil {
			return nil, Usage(err)
		}
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, usagef("%s: a JSON array of statements: %v", file, err)
		}
	}
	for _, a := range allows {
		actions, resource, ok := strings.Cut(a, ":")
		if !ok {
			return nil, usagef("--allow %q: want ACTIONS:RESOURCE", a)
		}
		st = append(st, vaultclient.Statement{Effect: domain.EffectAllow, Actions: strings.Split(actions, ","), Resources: []string{resource}})
	}
	return st, nil
}

// nonEmpty drops empty references, so `--role ”` or `--policy ”` means
// "none".
func nonEmpty(refs []string) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
