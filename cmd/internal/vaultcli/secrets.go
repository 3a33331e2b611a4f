package vaultcli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	vaultclient "github.com/securevault/vault/client"
)

func secretsCmd(e *Env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{Use: "secrets", Short: "Read and change secrets, by name"}
	f.register(cmd)
	cmd.AddCommand(
		secretsListCmd(e, &f), secretsGetCmd(e, &f), secretsRevealCmd(e, &f), secretsPutCmd(e, &f),
		secretsRotateCmd(e, &f), secretsRollbackCmd(e, &f), secretsDeleteCmd(e, &f, true), secretsDeleteCmd(e, &f, false),
		secretsHistoryCmd(e, &f), secretsDiffCmd(e, &f),
	)
	return cmd
}

// atFlags select a past instant.
type atFlags struct {
	asOf       string
	atPosition int64
}

func (a *atFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&a.asOf, "as-of", "", "show the state at an RFC 3339 time")
	c.Flags().Int64Var(&a.atPosition, "at-position", 0, "show the state at a log position")
}

func (a *atFlags) at() (vaultclient.At, error) {
	var at vaultclient.At
	if a.asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, a.asOf)
		if err != nil {
			return at, usagef("--as-of must be an RFC 3339 time: %v", err)
		}
		at.AsOf = t
	}
	at.AtPosition = a.atPosition
	return at, nil
}

func secretRows(items ...vaultclient.Secret) [][]string {
	rows := make([][]string, 0, len(items))
	for _, s := range items {
		rows = append(rows, []string{s.Name, strconv.FormatInt(s.CurrentVersion, 10), s.State, strings.Join(s.Tags, ","),
			s.UpdatedAt.UTC().Format(time.RFC3339), s.Description})
	}
	return rows
}

var secretHeader = []string{"NAME", "VERSION", "STATE", "TAGS", "UPDATED", "DESCRIPTION"}

func secretsListCmd(e *Env, f *apiFlags) *cobra.Command {
	var (
		o  vaultclient.ListSecretsOptions
		at atFlags
	)
	cmd := &cobra.Command{
		Use:   "list [PREFIX]",
		Short: "List the secrets you may list",
		Args:  cobra.MaximumNArgs(1),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			if len(args) == 1 {
				o.Prefix = args[0]
			}
			var err error
			if o.At, err = at.at(); err != nil {
				return err
			}
			items, err := c.AllSecrets(ctx, o)
			if err != nil {
				return err
			}
			if items == nil {
				items = []vaultclient.Secret{}
			}
			return e.show(asJSON, items, secretHeader, secretRows(items...))
		}),
	}
	cmd.Flags().StringVar(&o.Tag, "tag", "", "only secrets with this tag")
	cmd.Flags().BoolVar(&o.IncludeDeleted, "include-deleted", false, "include deleted secrets")
	at.register(cmd)
	return cmd
}

func secretsGetCmd(e *Env, f *apiFlags) *cobra.Command {
	var at atFlags
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a secret's metadata (never its value)",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			a, err := at.at()
			if err != nil {
				return err
			}
			s, err := c.GetSecretByName(ctx, args[0], a)
			if err != nil {
				return err
			}
			return e.show(asJSON, s, secretHeader, secretRows(s))
		}),
	}
	at.register(cmd)
	return cmd
}

func secretsRevealCmd(e *Env, f *apiFlags) *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "reveal NAME",
		Short: "Print a secret's value (audited)",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			r, err := c.RevealSecretByName(ctx, args[0], version)
			if err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(map[string]any{"name": args[0], "version": r.Version, "value": r.Value})
			}
			_, err = fmt.Fprintln(e.Out, r.Value)
			return err
		}),
	}
	cmd.Flags().Int64Var(&version, "version", 0, "the version to reveal (default: the current one)")
	return cmd
}

// valueFlags give a value: --value-file (- for stdin) or --value.
type valueFlags struct {
	value, file string
	generate    int
	charset     string
}

func (v *valueFlags) register(c *cobra.Command, generate bool) {
	c.Flags().StringVar(&v.file, "value-file", "", "read the value from a file (- for stdin)")
	c.Flags().StringVar(&v.value, "value", "", "the value (visible to other users of this machine: prefer --value-file)")
	if generate {
		c.Flags().IntVar(&v.generate, "generate", 0, "have the vault generate a value of this length")
		c.Flags().StringVar(&v.charset, "charset", "", "alphanumeric, ascii-printable, hex or base64url (with --generate)")
	}
}

func (v *valueFlags) read(e *Env) (string, bool, error) {
	switch {
	case v.file != "" && v.value != "":
		return "", false, usagef("give --value or --value-file, not both")
	case v.file == "-":
		data, err := io.ReadAll(io.LimitReader(e.In, 1<<20))
		return strings.TrimRight(string(data), "\r\n"), true, err
	case v.file != "":
		data, err := os.ReadFile(v.file)
		if err != nil {
			return "", false, Usage(err)
		}
		return strings.TrimRight(string(data), "\r\n"), true, nil
	case v.value != "":
		return v.value, true, nil
	}
	return "", false, nil
}

func secretsPutCmd(e *Env, f *apiFlags) *cobra.Command {
	var (
		v           valueFlags
		description string
		tags        []string
	)
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:   "put NAME",
		Short: "Create a secret, or give an existing one a new value, description or tags",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			value, hasValue, err := v.read(e)
			if err != nil {
				return err
			}
			name := args[0]
			existing, err := c.GetSecretByName(ctx, name)
			var s vaultclient.Secret
			switch {
			case vaultclient.IsNotFound(err):
				if !hasValue {
					return usagef("a new secret needs --value-file or --value")
				}
				s, _, err = c.CreateSecret(ctx, vaultclient.CreateSecretInput{Name: name, Value: value, Description: description, Tags: tags})
				if err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				s = existing
				if hasValue {
					if s, _, err = c.RotateSecret(ctx, existing.ID, vaultclient.RotateSecretInput{Value: value}); err != nil {
						return err
					}
				}
				in := vaultclient.UpdateSecretInput{}
				if cmd.Flags().Changed("description") {
					in.Description = &description
				}
				if len(tags) > 0 {
					in.Tags = &tags
				}
				if in.Description != nil || in.Tags != nil {
					if s, _, err = c.UpdateSecret(ctx, existing.ID, in); err != nil {
						return err
					}
				}
			}
			return e.show(asJSON, s, secretHeader, secretRows(s))
		}),
	}
	v.register(cmd, false)
	cmd.Flags().StringVar(&description, "description", "", "the description")
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "a tag (repeat, or comma-separate; replaces the tags)")
	return cmd
}

func secretsRotateCmd(e *Env, f *apiFlags) *cobra.Command {
	var v valueFlags
	cmd := &cobra.Command{
		Use:   "rotate NAME",
		Short: "Give a secret a new version, given or generated",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			value, hasValue, err := v.read(e)
			if err != nil {
				return err
			}
			in := vaultclient.RotateSecretInput{Value: value}
			switch {
			case v.generate > 0 && hasValue:
				return usagef("give a value or --generate, not both")
			case v.generate > 0:
				in.Generate = &vaultclient.Generate{Length: v.generate, Charset: v.charset}
			case !hasValue:
				return usagef("give --value-file, --value or --generate")
			}
			s, err := c.GetSecretByName(ctx, args[0])
			if err != nil {
				return err
			}
			in.IfMatch = &s.CurrentVersion
			if s, _, err = c.RotateSecret(ctx, s.ID, in); err != nil {
				return err
			}
			return e.show(asJSON, s, secretHeader, secretRows(s))
		}),
	}
	v.register(cmd, true)
	return cmd
}

func secretsRollbackCmd(e *Env, f *apiFlags) *cobra.Command {
	var version int64
	cmd := &cobra.Command{
		Use:   "rollback NAME --version N",
		Short: "Make a new version holding version N's value (server-side; needs rotate, not reveal)",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			if version < 1 {
				return usagef("--version must be a positive version number")
			}
			s, err := c.GetSecretByName(ctx, args[0])
			if err != nil {
				return err
			}
			if s, _, err = c.RollbackSecret(ctx, s.ID, version, &s.CurrentVersion); err != nil {
				return err
			}
			return e.show(asJSON, s, secretHeader, secretRows(s))
		}),
	}
	cmd.Flags().Int64Var(&version, "version", 0, "the version whose value the new version takes")
	return cmd
}

func secretsDeleteCmd(e *Env, f *apiFlags, del bool) *cobra.Command {
	use, short := "restore NAME", "Undo a delete"
	if del {
		use, short = "delete NAME", "Soft-delete a secret (restore undoes it)"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			s, err := c.GetSecretByName(ctx, args[0])
			if err != nil {
				return err
			}
			if del {
				_, err = c.DeleteSecret(ctx, s.ID)
			} else {
				_, _, err = c.RestoreSecret(ctx, s.ID)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return e.printJSON(map[string]any{"name": s.Name, "id": s.ID, "deleted": del})
			}
			verb := "restored"
			if del {
				verb = "deleted"
			}
			_, err = fmt.Fprintf(e.Out, "%s %s\n", verb, s.Name)
			return err
		}),
	}
}

func secretsHistoryCmd(e *Env, f *apiFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "A secret's timeline, oldest first: who changed, revealed or destroyed what",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			s, err := c.GetSecretByName(ctx, args[0])
			if err != nil {
				return err
			}
			var items []vaultclient.HistoryEntry
			o := vaultclient.HistoryOptions{}
			for {
				p, err := c.SecretHistory(ctx, s.ID, o)
				if err != nil {
					return err
				}
				items = append(items, p.Items...)
				if p.NextCursor == "" || (limit > 0 && len(items) >= limit) {
					break
				}
				o.Cursor = p.NextCursor
			}
			if limit > 0 && len(items) > limit {
				items = items[:limit]
			}
			rows := make([][]string, 0, len(items))
			for _, h := range items {
				actor := firstNonEmpty(h.Actor.Name, h.Actor.ID)
				rows = append(rows, []string{strconv.FormatInt(h.Position, 10), h.Timestamp.UTC().Format(time.RFC3339), h.Type, actor, h.IP})
			}
			if items == nil {
				items = []vaultclient.HistoryEntry{}
			}
			return e.show(asJSON, items, []string{"POSITION", "TIME", "EVENT", "ACTOR", "IP"}, rows)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many entries (default: all)")
	return cmd
}

func secretsDiffCmd(e *Env, f *apiFlags) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "diff NAME --from TIME|POSITION [--to TIME|POSITION]",
		Short: "What changed in a secret between two instants",
		Args:  exactArgs(1, "the secret's name"),
		RunE: e.apiCommand(f, func(ctx context.Context, c *vaultclient.Client, asJSON bool, args []string) error {
			if from == "" {
				return usagef("--from is required")
			}
			s, err := c.GetSecretByName(ctx, args[0])
			if err != nil {
				return err
			}
			d, err := c.DiffSecret(ctx, s.ID, from, to)
			if err != nil {
				return err
			}
			var rows [][]string
			for field, ch := range d.Changes {
				rows = append(rows, []string{field, fmt.Sprint(ch.From), fmt.Sprint(ch.To)})
			}
			for _, v := range d.VersionsAdded {
				rows = append(rows, []string{"version added", "", strconv.FormatInt(v.Version, 10)})
			}
			for _, v := range d.VersionsDestroyed {
				rows = append(rows, []string{"version destroyed", strconv.FormatInt(v.Version, 10), ""})
			}
			for _, r := range d.Reveals {
				rows = append(rows, []string{"revealed", strconv.FormatInt(r.Version, 10), firstNonEmpty(r.Actor.Name, r.Actor.ID)})
			}
			return e.show(asJSON, d, []string{"CHANGE", "FROM", "TO"}, rows)
		}),
	}
	cmd.Flags().StringVar(&from, "from", "", "an RFC 3339 time or a log position")
	cmd.Flags().StringVar(&to, "to", "", "an RFC 3339 time or a log position (default: now)")
	return cmd
}
