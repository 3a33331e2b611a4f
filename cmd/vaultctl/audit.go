package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/cmd/internal/vaultcli"
	"github.com/securevault/vault/domain"
)

// auditOptions are the flags of `vaultctl audit`.
type auditOptions struct {
	url, token                string
	user, action, outcome, ip string
	resourceType, resourceID  string
	since, until              string
	format                    string
	limit                     int
	timeout                   time.Duration
}

// auditCmd reads the audit API, not the database: an operator needs only a
// token allowed `read` on `audit`, and the server's authorization and its
// record of who read the log apply to the terminal as to any client.
func auditCmd(e *env) *cobra.Command {
	o := auditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log through the vault's API (newest first)",
		Long: "Reads GET /api/v1/audit/logs, following cursors until --limit entries are printed.\n" +
			"--since and --until take an RFC 3339 time or a duration back from now (24h, 90m).\n" +
			"The token comes from --token, VAULT_TOKEN or `vaultctl login`.",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"db": "no"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.token == "" && os.Getenv("VAULT_TOKEN") == "" {
				// The login `vaultctl login` kept, and the vault it is for.
				if addr, token := vaultcli.StoredLogin(); token != "" {
					o.token = token
					if !cmd.Flags().Changed("url") && os.Getenv("VAULT_URL") == "" && os.Getenv("VAULT_ADDR") == "" {
						o.url = addr
					}
				}
			}
			return runAudit(cmd.Context(), e.out, o, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", envDefault("VAULT_URL", envDefault("VAULT_ADDR", vaultcli.DefaultAddr)), "base URL of the vault API (env VAULT_URL)")
	f.StringVar(&o.token, "token", "", "access token (default: env VAULT_TOKEN)")
	f.StringVar(&o.user, "user", "", "user id or username")
	f.StringVar(&o.action, "action", "", "action, such as secret.reveal or auth.login")
	f.StringVar(&o.outcome, "outcome", "", "allowed, denied or failed")
	f.StringVar(&o.ip, "ip", "", "client IP address or CIDR prefix")
	f.StringVar(&o.resourceType, "resource-type", "", "resource type: secrets, users, roles, policies, audit, sessions")
	f.StringVar(&o.resourceID, "resource-id", "", "resource id (or, on denied attempts, the resource name)")
	f.StringVar(&o.since, "since", "", "oldest time, inclusive: RFC 3339 or a duration back from now")
	f.StringVar(&o.until, "until", "", "newest time, exclusive: RFC 3339 or a duration back from now")
	f.StringVar(&o.format, "format", "table", "output: table, json or csv")
	f.IntVar(&o.limit, "limit", 100, "entries to print at most; 0 prints every matching entry")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of each API request")
	return cmd
}

func envDefault(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func runAudit(ctx context.Context, out io.Writer, o auditOptions, now time.Time) error {
	if o.token == "" {
		o.token = os.Getenv("VAULT_TOKEN")
	}
	if o.token == "" {
		return errors.New("no token: pass --token or set VAULT_TOKEN to an access token allowed to read the audit log")
	}
	if o.limit < 0 {
		return fmt.Errorf("--limit must be 0 (everything) or positive, not %d", o.limit)
	}
	base, err := url.Parse(strings.TrimRight(o.url, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--url must be an http(s) URL such as http://127.0.0.1:8000")
	}
	q := url.Values{}
	for name, v := range map[string]string{
		"user": o.user, "action": o.action, "outcome": o.outcome, "ip": o.ip,
		"resource_type": o.resourceType, "resource_id": o.resourceID,
	} {
		if v != "" {
			q.Set(name, v)
		}
	}
	for name, v := range map[string]string{"since": o.since, "until": o.until} {
		t, err := cliTime(name, v, now)
		if err != nil {
			return err
		}
		if t != "" {
			q.Set(name, t)
		}
	}
	var p auditPrinter
	switch o.format {
	case "table":
		p = newTablePrinter(out)
	case "json":
		p = &jsonPrinter{out: out}
	case "csv":
		p = &csvPrinter{w: csv.NewWriter(out)}
	default:
		return fmt.Errorf("--format must be table, json or csv, not %q", o.format)
	}
	client := &http.Client{Timeout: o.timeout}
	printed := 0
	for cursor := ""; ; {
		pageSize := domain.AuditMaxLimit
		if o.limit > 0 {
			pageSize = min(pageSize, o.limit-printed)
		}
		q.Set("limit", strconv.Itoa(pageSize))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page, err := fetchAuditPage(ctx, client, base.String()+"/api/v1/audit/logs?"+q.Encode(), o.token)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := p.print(it); err != nil {
				return err
			}
			printed++
		}
		if page.NextCursor == "" || (o.limit > 0 && printed >= o.limit) {
			break
		}
		cursor = page.NextCursor
	}
	return p.close()
}

// cliTime turns a flag into the RFC 3339 time the API takes; a duration
// counts back from now.
func cliTime(name, v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return "", fmt.Errorf("--%s: a duration counts back from now and must be positive", name)
		}
		return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		return "", fmt.Errorf("--%s must be an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (24h)", name)
	}
	return v, nil
}

type auditPage struct {
	Items      []domain.AuditEntry `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

func fetchAuditPage(ctx context.Context, client *http.Client, u, token string) (auditPage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return auditPage{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vaultctl")
	res, err := client.Do(req)
	if err != nil {
		return auditPage{}, fmt.Errorf("audit API: %w", err)
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, 64<<20)
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.NewDecoder(body).Decode(&e) == nil && e.Error.Message != "" {
			return auditPage{}, fmt.Errorf("audit API answered %d %s: %s", res.StatusCode, e.Error.Code, e.Error.Message)
		}
		return auditPage{}, fmt.Errorf("audit API answered %s", res.Status)
	}
	var page auditPage
	if err := json.NewDecoder(body).Decode(&page); err != nil {
		return auditPage{}, fmt.Errorf("audit API: unreadable answer: %w", err)
	}
	return page, nil
}

type auditPrinter interface {
	print(domain.AuditEntry) error
	close() error
}

type tablePrinter struct{ tw *tabwriter.Writer }

func newTablePrinter(out io.Writer) *tablePrinter {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tUSER\tACTION\tRESOURCE\tOUTCOME\tIP\tPOSITION")
	return &tablePrinter{tw: tw}
}

func (p *tablePrinter) print(e domain.AuditEntry) error {
	user := e.Username
	if user == "" {
		user = e.UserID
	}
	resource := e.ResourceType
	if e.ResourceID != "" {
		resource += "/" + e.ResourceID
	}
	_, err := fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", e.Timestamp.Local().Format(time.RFC3339),
		terminalSafe(user), terminalSafe(e.Action), terminalSafe(resource), e.Outcome, e.IP, e.Position)
	return err
}

func (p *tablePrinter) close() error { return p.tw.Flush() }

// terminalSafe keeps escape sequences in logged client input (a user agent,
// a resource name) from driving the operator's terminal.
func terminalSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// jsonPrinter writes one JSON array, item by item, so memory stays flat
// whatever --limit is.
type jsonPrinter struct {
	out io.Writer
	n   int
}

func (p *jsonPrinter) print(e domain.AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	sep := ",\n  "
	if p.n == 0 {
		sep = "[\n  "
	}
	p.n++
	_, err = fmt.Fprintf(p.out, "%s%s", sep, b)
	return err
}

func (p *jsonPrinter) close() error {
	if p.n == 0 {
		_, err := fmt.Fprintln(p.out, "[]")
		return err
	}
	_, err := fmt.Fprintln(p.out, "\n]")
	return err
}

type csvPrinter struct {
	w      *csv.Writer
	header bool
}

func (p *csvPrinter) print(e domain.AuditEntry) error {
	if !p.header {
		p.header = true
		if err := p.w.Write(api.AuditCSVHeader()); err != nil {
			return err
		}
	}
	return p.w.Write(api.AuditCSVRecord(e))
}

func (p *csvPrinter) close() error {
	if !p.header {
		_ = p.w.Write(api.AuditCSVHeader())
	}
	p.w.Flush()
	return p.w.Error()
}
