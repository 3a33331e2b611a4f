package vaultcli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	vaultclient "github.com/securevault/vault/client"
	"github.com/securevault/vault/domain"
)

// lookup finds an identity by id, or by exact name through the listing's
// name prefix filter.
func lookup[T any](ctx context.Context, ref string, get func(string) (T, error),
	list func(vaultclient.ListOptions) (vaultclient.Page[T], error), name func(T) string) (T, error) {
	if domain.IsID(ref) {
		return get(ref)
	}
	o := vaultclient.ListOptions{Name: ref, Limit: domain.SecretListMaxLimit}
	for {
		p, err := list(o)
		if err != nil {
			var zero T
			return zero, err
		}
		for _, it := range p.Items {
			if strings.EqualFold(name(it), ref) {
				return it, nil
			}
		}
		if p.NextCursor == "" {
			var zero T
			return zero, &vaultclient.Error{Code: vaultclient.CodeNotFound, Message: fmt.Sprintf("no %q", ref)}
		}
		o.Cursor = p.NextCursor
	}
}

func findUser(ctx context.Context, c *vaultclient.Client, ref string) (vaultclient.User, error) {
	return lookup(ctx, ref, func(id string) (vaultclient.User, error) { return c.GetUser(ctx, id) },
		func(o vaultclient.ListOptions) (vaultclient.Page[vaultclient.User], error) {
			return c.ListUsers(ctx, o)
		},
		func(u vaultclient.User) string { return u.Username })
}

func findRole(ctx context.Context, c *vaultclient.Client, ref string) (vaultclient.Role, error) {
	return lookup(ctx, ref, func(id string) (vaultclient.Role, error) { return c.GetRole(ctx, id) },
		func(o vaultclient.ListOptions) (vaultclient.Page[vaultclient.Role], error) {
			return c.ListRoles(ctx, o)
		},
		func(r vaultclient.Role) string { return r.Name })
}

func findPolicy(ctx context.Context, c *vaultclient.Client, ref string) (vaultclient.Policy, error) {
	return lookup(ctx, ref, func(id string) (vaultclient.Policy, error) { return c.GetPolicy(ctx, id) },
		func(o vaultclient.ListOptions) (vaultclient.Page[vaultclient.Policy], error) {
			return c.ListPolicies(ctx, o)
		},
		func(p vaultclient.Policy) string { return p.Name })
}

func findAccount(ctx context.Context, c *vaultclient.Client, ref string) (vaultclient.Account, error) {
	return lookup(ctx, ref, func(id string) (vaultclient.Account, error) { return c.GetServiceAccount(ctx, id) },
		func(o vaultclient.ListOptions) (vaultclient.Page[vaultclient.Account], error) {
			return c.ListServiceAccounts(ctx, o)
		},
		func(a vaultclient.Account) string { return a.Name })
}

// roleIDs resolves role names (or ids).
func roleIDs(ctx context.Context, c *vaultclient.Client, refs []string) ([]string, error) {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		role, err := findRole(ctx, c, r)
		if err != nil {
			return nil, err
		}
		out = append(out, role.ID)
	}
	return out, nil
}

// all follows a listing's cursors.
func all[T any](list func(vaultclient.ListOptions) (vaultclient.Page[T], error)) ([]T, error) {
	out := []T{}
	o := vaultclient.ListOptions{}
	for {
		p, err := list(o)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out, nil
		}
		o.Cursor = p.NextCursor
	}
}

// ts prints a time for a table; "-" when the answer carried none (a
// create answers without timestamps).
func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// crud builds the list/get/delete subcommands every identity kind has.
type crud[T any] struct {
	e      *Env
	f      *apiFlags
	noun   string
	header []string
	row    func(T) []string
	list   func(context.Context, *vaultclient.Client, vaultclient.ListOptions) (vaultclient.Page[T], error)
	find   func(context.Context, *vaultclient.Client, string) (T, error)
	id     func(T) string
	del    func(context.Context, *vaultclient.Client, string) (vaultclient.Written, error)
}

func (k crud[T]) commands() []*cobra.Command {
	e, f := k.e, k.f
	rows := func(items []T) [][]string {
		out := make([][]string, 0, len(items))
		for _, it := range items {
			out = append(out, k.row(it))
		}
		return out
	}
	return []*cobra.Command{
		{
			Use: "list", Short: "List " + k.noun + "s", Args: exactArgs(0, "no arguments"),
			RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, _ []string) error {
				items, err := all(func(o vaultclient.ListOptions) (vaultclient.Page[T], error) { return k.list(ctx, c, o) })
				if err != nil {
					return err
				}
				return e.show(asJSON, items, k.header, rows(items))
			}),
		},
		{
			Use: "get NAME|ID", Short: "Show a " + k.noun, Args: exactArgs(1, "a name or an id"),
			RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
				v, err := k.find(ctx, c, args[0])
				if err != nil {
					return err
				}
				return e.show(asJSON, v, k.header, rows([]T{v}))
			}),
		},
		{
			Use: "delete NAME|ID", Short: "Delete a " + k.noun, Args: exactArgs(1, "a name or an id"),
			RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
				v, err := k.find(ctx, c, args[0])
				if err != nil {
					return err
				}
				if _, err := k.del(ctx, c, k.id(v)); err != nil {
					return err
				}
				if asJSON {
					return e.printJSON(map[string]any{"id": k.id(v), "deleted": true})
				}
				_, err = fmt.Fprintf(e.Out, "deleted %s %s\n", k.noun, args[0])
				return err
			}),
		},
	}
}

func usersCmd(e *Env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "users", Short: "Manage users"}
	f.register(cmd)
	k := crud[vaultclient.User]{e: e, f: &f, noun: "user", header: []string{"USERNAME", "ID", "EMAIL", "ROLES", "DISABLED", "UPDATED"},
		row: func(u vaultclient.User) []string {
			return []string{u.Username, u.ID, u.Email, strings.Join(u.Roles, ","), strconv.FormatBool(u.Disabled), ts(u.UpdatedAt)}
		},
		list: func(ctx context.Context, c *vaultclient.Client, o vaultclient.ListOptions) (vaultclient.Page[vaultclient.User], error) {
			return c.ListUsers(ctx, o)
		},
		find: findUser, id: func(u vaultclient.User) string { return u.ID },
		del: func(ctx context.Context, c *vaultclient.Client, id string) (vaultclient.Written, error) {
			return c.DeleteUser(ctx, id)
		},
	}
	cmd.AddCommand(k.commands()...)
	var (
		in           vaultclient.CreateUserInput
		roles        []string
		passwordFile string
	)
	create := &cobra.Command{
		Use: "create USERNAME", Short: "Create a user (password prompted, or --password-file)", Args: exactArgs(1, "the username"),
		RunE: e.apiCommand(&f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			in.Username = args[0]
			var err error
			if passwordFile != "" {
				in.Password, err = readSecretFile(passwordFile)
			} else {
				in.Password, err = e.readSecret("Password for " + args[0] + ": ")
			}
			if err != nil {
				return err
			}
			if in.Roles, err = roleIDs(ctx, c, roles); err != nil {
				return err
			}
			u, _, err := c.CreateUser(ctx, in)
			if err != nil {
				return err
			}
			return e.show(asJSON, u, k.header, [][]string{k.row(u)})
		}),
	}
	create.Flags().StringVar(&in.Email, "email", "", "e-mail address")
	create.Flags().StringSliceVar(&roles, "role", nil, "a role name or id (repeat)")
	create.Flags().StringVar(&passwordFile, "password-file", "", "read the password from a file")
	cmd.AddCommand(create, updateUserCmd(e, &f, k))
	return cmd
}

func rolesCmd(e *Env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "roles", Short: "Manage roles"}
	f.register(cmd)
	k := crud[vaultclient.Role]{e: e, f: &f, noun: "role", header: []string{"NAME", "ID", "POLICIES", "UPDATED", "DESCRIPTION"},
		row: func(r vaultclient.Role) []string {
			return []string{r.Name, r.ID, strings.Join(r.Policies, ","), ts(r.UpdatedAt), r.Description}
		},
		list: func(ctx context.Context, c *vaultclient.Client, o vaultclient.ListOptions) (vaultclient.Page[vaultclient.Role], error) {
			return c.ListRoles(ctx, o)
		},
		find: findRole, id: func(r vaultclient.Role) string { return r.ID },
		del: func(ctx context.Context, c *vaultclient.Client, id string) (vaultclient.Written, error) {
			return c.DeleteRole(ctx, id)
		},
	}
	cmd.AddCommand(k.commands()...)
	var (
		description string
		policies    []string
	)
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a role holding policies", Args: exactArgs(1, "the role's name"),
		RunE: e.apiCommand(&f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			ids, err := policyIDs(ctx, c, policies)
			if err != nil {
				return err
			}
			r, _, err := c.CreateRole(ctx, vaultclient.RoleInput{Name: &args[0], Description: &description, Policies: &ids})
			if err != nil {
				return err
			}
			return e.show(asJSON, r, k.header, [][]string{k.row(r)})
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the role is for")
	create.Flags().StringSliceVar(&policies, "policy", nil, "a policy name or id (repeat)")
	cmd.AddCommand(create, updateRoleCmd(e, &f, k))
	return cmd
}

func policiesCmd(e *Env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "policies", Short: "Manage policies"}
	f.register(cmd)
	k := crud[vaultclient.Policy]{e: e, f: &f, noun: "policy", header: []string{"NAME", "ID", "STATEMENTS", "UPDATED", "DESCRIPTION"},
		row: func(p vaultclient.Policy) []string {
			st := make([]string, 0, len(p.Statements))
			for _, s := range p.Statements {
				st = append(st, s.Effect+" "+strings.Join(s.Actions, "|")+" on "+strings.Join(s.Resources, "|"))
			}
			return []string{p.Name, p.ID, strings.Join(st, "; "), ts(p.UpdatedAt), p.Description}
		},
		list: func(ctx context.Context, c *vaultclient.Client, o vaultclient.ListOptions) (vaultclient.Page[vaultclient.Policy], error) {
			return c.ListPolicies(ctx, o)
		},
		find: findPolicy, id: func(p vaultclient.Policy) string { return p.ID },
		del: func(ctx context.Context, c *vaultclient.Client, id string) (vaultclient.Written, error) {
			return c.DeletePolicy(ctx, id)
		},
	}
	cmd.AddCommand(k.commands()...)
	var (
		description, file string
		allows            []string
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a policy from --allow ACTIONS:RESOURCE statements or a JSON file of statements",
		Example: "  vaultctl policies create app-prod --allow 'reveal,list:secrets/app/prod/**'\n" +
			"  vaultctl policies create app-prod --file statements.json",
		Args: exactArgs(1, "the policy's name"),
		RunE: e.apiCommand(&f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			st, err := statementsFrom(file, allows)
			if err != nil {
				return err
			}
			p, _, err := c.CreatePolicy(ctx, vaultclient.PolicyInput{Name: &args[0], Description: &description, Statements: &st})
			if err != nil {
				return err
			}
			return e.show(asJSON, p, k.header, [][]string{k.row(p)})
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the policy is for")
	create.Flags().StringArrayVar(&allows, "allow", nil, "an allow statement ACTIONS:RESOURCE, such as reveal,list:secrets/app/** (repeat)")
	create.Flags().StringVar(&file, "file", "", "a JSON file of statements")
	cmd.AddCommand(create, updatePolicyCmd(e, &f, k))
	return cmd
}

func authzCmd(e *Env) *cobra.Command {
	var (
		f                      apiFlags
		user, action, resource string
		asOf                   string
	)
	cmd := &cobra.Command{Use: "authz", Short: "Access checks"}
	f.register(cmd)
	check := &cobra.Command{
		Use:   "check --user NAME|ID --action ACTION --resource RESOURCE",
		Short: "Would this user be allowed? (exit 0 when allowed, 4 when not)",
		Args:  exactArgs(0, "no arguments"),
		RunE: e.apiCommand(&f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, _ []string) error {
			if user == "" || action == "" || resource == "" {
				return usagef("--user, --action and --resource are required")
			}
			u, err := findUser(ctx, c, user)
			if err != nil {
				return err
			}
			var at []time.Time
			if asOf != "" {
				t, err := time.Parse(time.RFC3339Nano, asOf)
				if err != nil {
					return usagef("--as-of: %v", err)
				}
				at = append(at, t)
			}
			r, err := c.CheckAccess(ctx, u.ID, action, resource, at...)
			if err != nil {
				return err
			}
			verdict := "denied"
			if r.Decision.Allowed {
				verdict = "allowed"
			}
			if err := e.show(asJSON, r, []string{"USER", "ACTION", "RESOURCE", "DECISION", "POLICY", "REASON"},
				[][]string{{r.Username, r.Action, r.Resource, verdict, r.Decision.PolicyName, r.Decision.Reason}}); err != nil {
				return err
			}
			if !r.Decision.Allowed {
				return &ExitError{Code: ExitForbidden, Err: fmt.Errorf("%s may not %s %s", r.Username, action, resource)}
			}
			return nil
		}),
	}
	check.Flags().StringVar(&user, "user", "", "the user (name or id)")
	check.Flags().StringVar(&action, "action", "", "read, list, write, rotate, delete, reveal, destroy, admin")
	check.Flags().StringVar(&resource, "resource", "", "such as secrets/app/prod/db")
	check.Flags().StringVar(&asOf, "as-of", "", "decide as of an RFC 3339 time")
	cmd.AddCommand(check)
	return cmd
}
