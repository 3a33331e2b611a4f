package queries_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/internal/vaulttest"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/audit"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/queries"
)

// auditEnv is the real stack behind audit queries: the event store, the
// audit and secrets projections run by the runner, and real secret commands
// to produce reveals.
type auditEnv struct {
	db      *pgtest.Database
	store   *eventstore.Store
	waiter  *projections.Waiter
	secrets *commands.Secrets
	audit   *queries.Audit
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discardLogger(), eventstore.Options{})
	t.Cleanup(store.Close)
	waiter := vaulttest.RunProjections(t, db, store, nil, projections.Options{PageSize: 25}, audit.New(), secrets.New())
	svc := commands.NewService(store, waiter, discardLogger(), commands.Options{ReadYourWritesTimeout: 30 * time.Second})
	return &auditEnv{
		db: db, store: store, waiter: waiter, secrets: vaulttest.SecretCommands(t, db, svc, 0),
		audit: vaulttest.NewReads(t, db, store, waiter, nil, queries.Options{}).Audit,
	}
}

// auditCaller is an authenticated caller whose one policy holds statements.
func auditCaller(name string, statements ...domain.Statement) domain.Caller {
	return domain.Caller{
		Principal: domain.Principal{
			UserID: domain.NewID(), Username: name,
			Policies: []domain.PolicyView{{ID: domain.NewID(), Name: name + "-policy", Statements: statements}},
		},
		ClientIP: "198.51.100.4", UserAgent: "audit-tests", RequestID: "req-" + name,
	}
}

func auditor() domain.Caller {
	return auditCaller("auditor", domain.Statement{Effect: domain.EffectAllow, Actions: []string{"read"}, Resources: []string{"audit"}})
}

func secretAdmin() domain.Caller {
	return auditCaller("secretadmin", domain.Statement{Effect: domain.EffectAllow, Actions: []string{"*"}, Resources: []string{"secrets/**"}})
}

// caughtUp waits until the audit projection applied the head of the log.
func (e *auditEnv) caughtUp(t *testing.T) int64 {
	t.Helper()
	head, err := e.store.HeadPosition(context.Background())
	require.NoError(t, err)
	require.NoError(t, e.waiter.WaitFor(context.Background(), head, time.Minute, domain.ReadModelAudit))
	return head
}

// touch appends n events as caller, one per stream.
func (e *auditEnv) touch(t *testing.T, caller domain.Caller, n int) {
	t.Helper()
	for i := range n {
		_, err := e.store.Append(context.Background(), domain.StreamID("thing", domain.NewID()), domain.ExpectAny, domain.NewEvent{
			ID: domain.NewID(), Type: "Touched", SchemaVersion: 1, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Metadata: caller.Metadata(),
		})
		require.NoError(t, err)
	}
}

// Reading the audit log needs `read` on `audit`; a refusal is itself a row
// of the log, with the attempted action and resource.
func TestListAuditAuthorization(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		caller domain.Caller
		code   string
	}{
		{"anonymous", domain.Caller{ClientIP: "198.51.100.4"}, domain.EUNAUTHORIZED},
		{"no policy", auditCaller("nobody"), domain.EFORBIDDEN},
		{"read on secrets only", auditCaller("reader", domain.Statement{Effect: domain.EffectAllow, Actions: []string{"read"}, Resources: []string{"secrets/**"}}), domain.EFORBIDDEN},
		{"list on audit is not read", auditCaller("lister", domain.Statement{Effect: domain.EffectAllow, Actions: []string{"list"}, Resources: []string{"audit"}}), domain.EFORBIDDEN},
		{"explicit deny wins", auditCaller("denied",
			domain.Statement{Effect: domain.EffectAllow, Actions: []string{"*"}, Resources: []string{"**"}},
			domain.Statement{Effect: domain.EffectDeny, Actions: []string{"read"}, Resources: []string{"audit"}}), domain.EFORBIDDEN},
		{"auditor", auditor(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.audit.List(ctx, tt.caller, queries.AuditInput{})
			require.Equal(t, tt.code, domain.ErrorCode(err), "%v", err)
			err = e.audit.Export(ctx, tt.caller, queries.AuditInput{}, func(domain.AuditEntry) error { return nil })
			require.Equal(t, tt.code, domain.ErrorCode(err), "%v", err)
		})
	}

	e.caughtUp(t)
	nobody := tests[1].caller
	page, err := e.audit.List(ctx, auditor(), queries.AuditInput{User: nobody.Principal.UserID})
	require.NoError(t, err)
	require.Len(t, page.Items, 2, "the list and the export attempt are both on record")
	for _, row := range page.Items {
		require.Equal(t, "audit.read", row.Action)
		require.Equal(t, domain.AuditDenied, row.Outcome)
		require.Equal(t, "audit", row.ResourceType)
		require.Equal(t, "nobody", row.Username)
		require.Equal(t, "198.51.100.4", row.IP)
		require.Equal(t, "audit-tests", row.UserAgent)
		require.Equal(t, "req-nobody", row.RequestID)
	}
}

// A canary value stored, rotated and revealed never reaches an audit row,
// while the reveal itself is on record.
func TestSecretValuesNeverReachTheAuditLog(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	ctx := context.Background()
	const canary = "CANARY-7f3a9c-do-not-log"
	res, err := e.secrets.CreateSecret(ctx, secretAdmin(), commands.CreateSecretInput{Name: "prod/canary", Value: []byte(canary + "-v1")})
	require.NoError(t, err)
	_, err = e.secrets.RotateSecret(ctx, secretAdmin(), commands.RotateSecretInput{ID: res.Secret.ID, Value: []byte(canary + "-v2")})
	require.NoError(t, err)
	rev, _, err := e.secrets.RevealSecret(ctx, secretAdmin(), res.Secret.ID, 0)
	require.NoError(t, err)
	require.Equal(t, canary+"-v2", string(rev.Value))
	_, _, err = e.secrets.RevealSecret(ctx, auditCaller("snoop"), res.Secret.ID, 0)
	require.Equal(t, domain.EFORBIDDEN, domain.ErrorCode(err))
	e.caughtUp(t)

	var leaks int
	require.NoError(t, e.db.Pool.QueryRow(ctx,
		`SELECT count(*) FROM audit_log a WHERE a::text LIKE '%' || $1 || '%'`, canary).Scan(&leaks))
	require.Zero(t, leaks)

	page, err := e.audit.List(ctx, auditor(), queries.AuditInput{ResourceType: "secrets", ResourceID: res.Secret.ID})
	require.NoError(t, err)
	raw, err := json.Marshal(page)
	require.NoError(t, err)
	require.NotContains(t, string(raw), canary)
	var actions []string
	for _, row := range page.Items {
		actions = append(actions, row.Action+" "+row.Outcome)
	}
	// The name reservation is part of the creating append, after its events.
	require.Equal(t, []string{"secret.reveal allowed", "secret.add_version allowed", "secret.reserve_name allowed", "secret.add_version allowed", "secret.create allowed"}, actions)

	denied, err := e.audit.List(ctx, auditor(), queries.AuditInput{User: "snoop", Outcome: domain.AuditDenied})
	require.NoError(t, err)
	require.Len(t, denied.Items, 1)
	require.Equal(t, "secret.reveal", denied.Items[0].Action)
	require.Equal(t, "secrets", denied.Items[0].ResourceType)
	require.Equal(t, "prod/canary", denied.Items[0].ResourceID)
}

// Paging with the cursor while other writers append yields every entry that
// existed when the first page was read, each once, newest first.
func TestCursorPagesHaveNoGapsOrDuplicatesWhileEventsArrive(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	ctx := context.Background()
	writer := auditCaller("writer")
	e.touch(t, writer, 60)
	e.caughtUp(t)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Not require: FailNow must not run outside the test goroutine.
			if _, writeErr = e.store.Append(ctx, domain.StreamID("thing", domain.NewID()), domain.ExpectAny, domain.NewEvent{
				ID: domain.NewID(), Type: "Touched", SchemaVersion: 1, Data: json.RawMessage(`{}`), Metadata: writer.Metadata(),
			}); writeErr != nil {
				return
			}
		}
	})

	in := queries.AuditInput{Limit: 7}
	var seen []int64
	var top int64
	for pages := 0; ; pages++ {
		require.Less(t, pages, 100, "paging does not end")
		page, err := e.audit.List(ctx, auditor(), in)
		require.NoError(t, err)
		if pages == 0 {
			top = page.Items[0].Position
		}
		for _, row := range page.Items {
			seen = append(seen, row.Position)
		}
		if page.NextCursor == "" {
			break
		}
		require.Len(t, page.Items, 7, "only the last page is short")
		in.Cursor = page.NextCursor
		e.touch(t, writer, 3) // and more arrive between pages
	}
	close(stop)
	wg.Wait()
	require.NoError(t, writeErr)

	require.GreaterOrEqual(t, top, int64(60))
	want := make([]int64, 0, top)
	for p := top; p >= 1; p-- {
		want = append(want, p)
	}
	require.Equal(t, want, seen)
}

// The export emits exactly what paging through the same filter returns.
func TestExportMatchesThePages(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	ctx := context.Background()
	a, b := auditCaller("alice"), auditCaller("bob")
	e.touch(t, a, 30)
	e.touch(t, b, 10)
	e.touch(t, a, 15)
	e.caughtUp(t)

	tests := []struct {
		name string
		in   queries.AuditInput
		want int
	}{
		{"everything", queries.AuditInput{}, 55},
		{"one user by id", queries.AuditInput{User: a.Principal.UserID}, 45},
		{"one user by name", queries.AuditInput{User: "BOB"}, 10},
		{"nothing", queries.AuditInput{Outcome: domain.AuditFailed}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var exported []domain.AuditEntry
			require.NoError(t, e.audit.Export(ctx, auditor(), tt.in, func(row domain.AuditEntry) error {
				exported = append(exported, row)
				return nil
			}))
			var paged []domain.AuditEntry
			in := tt.in
			in.Limit = 4
			for {
				page, err := e.audit.List(ctx, auditor(), in)
				require.NoError(t, err)
				paged = append(paged, page.Items...)
				if page.NextCursor == "" {
					break
				}
				in.Cursor = page.NextCursor
			}
			require.Len(t, exported, tt.want)
			require.Equal(t, paged, exported)
		})
	}

	// An emit error stops the export and is returned as is.
	boom := fmt.Errorf("client went away")
	n := 0
	err := e.audit.Export(ctx, auditor(), queries.AuditInput{}, func(domain.AuditEntry) error {
		n++
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 1, n)
}

func TestListAuditRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newAuditEnv(t)
	ctx := context.Background()
	e.touch(t, auditCaller("w"), 5)
	e.caughtUp(t)
	first, err := e.audit.List(ctx, auditor(), queries.AuditInput{Limit: 2})
	require.NoError(t, err)
	require.NotEmpty(t, first.NextCursor)
	mid := len(first.NextCursor) / 2
	tampered := first.NextCursor[:mid] + flip(first.NextCursor[mid]) + first.NextCursor[mid+1:]

	tests := []struct {
		name    string
		in      queries.AuditInput
		message string
	}{
		{"limit too large", queries.AuditInput{Limit: 1001}, "limit must be 1 to 1000"},
		{"negative limit", queries.AuditInput{Limit: -1}, "limit must be 1 to 1000"},
		{"malformed since", queries.AuditInput{Since: "yesterday"}, "since must be an RFC 3339 time"},
		{"date without time", queries.AuditInput{Until: "2026-01-02"}, "until must be an RFC 3339 time"},
		{"until before since", queries.AuditInput{Since: "2026-01-02T00:00:00Z", Until: "2026-01-01T00:00:00Z"}, "until must be later than since"},
		{"until equal to since", queries.AuditInput{Since: "2026-01-02T00:00:00Z", Until: "2026-01-02T00:00:00Z"}, "until must be later than since"},
		{"unknown outcome", queries.AuditInput{Outcome: "maybe"}, "outcome must be allowed, denied or failed"},
		{"bad ip", queries.AuditInput{IP: "10.0.0.300"}, "ip must be an IP address or a CIDR prefix"},
		{"bad prefix", queries.AuditInput{IP: "10.0.0.0/33"}, "ip must be an IP address or a CIDR prefix"},
		{"bad user", queries.AuditInput{User: "a b"}, "user must be a user id or a username"},
		{"bad action", queries.AuditInput{Action: "secret reveal"}, "action must be like secret.reveal"},
		{"bad resource type", queries.AuditInput{ResourceType: "Secrets/x"}, "resource_type must be a resource type"},
		{"control characters", queries.AuditInput{ResourceID: "a\nb"}, "resource_id must not contain control characters"},
		{"huge value", queries.AuditInput{ResourceID: strings.Repeat("x", 1025)}, "resource_id must be at most 1024 bytes long"},
		{"garbage cursor", queries.AuditInput{Cursor: "not-a-cursor"}, "cursor is not one this server issued"},
		{"tampered cursor", queries.AuditInput{Cursor: tampered}, "cursor is not one this server issued"},
		{"cursor of another query", queries.AuditInput{Cursor: first.NextCursor, Outcome: domain.AuditAllowed}, "cursor belongs to a query with other filters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.audit.List(ctx, auditor(), tt.in)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "%v", err)
			require.Contains(t, domain.ErrorMessage(err), tt.message)
		})
	}

	err = e.audit.Export(ctx, auditor(), queries.AuditInput{Limit: 10}, func(domain.AuditEntry) error { return nil })
	require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	require.Contains(t, domain.ErrorMessage(err), "an export streams every matching entry")

	// The untouched cursor still works, with the limit changed.
	next, err := e.audit.List(ctx, auditor(), queries.AuditInput{Cursor: first.NextCursor, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, first.Items[1].Position-1, next.Items[0].Position)
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}
