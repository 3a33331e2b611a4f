package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/internal/pgtest"
	"github.com/securevault/vault/pgnotify"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/audit"
)

const waitTimeout = time.Minute

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func data(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

const (
	alice   = "6f1c3f9e-4a8d-4c55-9b0e-0a1d2c3b4a59"
	secret1 = "0b7c9a52-3f7e-4a53-8d53-1c1f0e2a9b11"
	session = "5d1e8d5a-7b71-4ef0-8c7d-6a0c1f3f7e21"
)

func md(actor, name string) domain.Metadata {
	return domain.Metadata{Actor: actor, ActorName: name, ClientIP: "192.0.2.10", UserAgent: "audit-tests/1", RequestID: "req-42"}
}

// TestMap pins how each kind of event reads in the audit log.
func TestMap(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		event  domain.RecordedEvent
		want   domain.AuditEntry // only the mapped fields; the rest are checked for all
		noMeta bool
	}{
		{"secret created", domain.RecordedEvent{StreamID: "secret-" + secret1, Type: domain.EventSecretCreated,
			Data: data(t, domain.SecretCreated{SecretID: secret1, Name: "prod/db"}), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "secret.create", ResourceType: "secrets", ResourceID: secret1, Outcome: "allowed"}, false},
		{"secret version added", domain.RecordedEvent{StreamID: "secret-" + secret1, Type: domain.EventSecretVersionAdded,
			Data: data(t, domain.SecretVersionAdded{Version: 2, SealedValue: []byte("ciphertext")}), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "secret.add_version", ResourceType: "secrets", ResourceID: secret1, Outcome: "allowed"}, false},
		{"secret revealed", domain.RecordedEvent{StreamID: "secretaccess-" + secret1, Type: domain.EventSecretRevealed,
			Data: data(t, domain.SecretRevealed{SecretID: secret1, Version: 1}), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "secret.reveal", ResourceType: "secrets", ResourceID: secret1, Outcome: "allowed"}, false},
		{"secret name reserved", domain.RecordedEvent{StreamID: "secretname-prod/db", Type: domain.EventSecretNameReserved,
			Data: data(t, domain.SecretNameReserved{SecretID: secret1}), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "secret.reserve_name", ResourceType: "secrets", ResourceID: secret1, Outcome: "allowed"}, false},
		{"denied reveal", domain.RecordedEvent{StreamID: "access-" + alice, Type: domain.EventAccessDenied,
			Data:     data(t, domain.AccessDenied{UserID: alice, Action: "reveal", Resource: "secrets/prod/db", Reason: "no statement matched"}),
			Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "secret.reveal", ResourceType: "secrets", ResourceID: "prod/db", Outcome: "denied"}, false},
		{"denied audit read", domain.RecordedEvent{StreamID: "access-" + alice, Type: domain.EventAccessDenied,
			Data: data(t, domain.AccessDenied{UserID: alice, Action: "read", Resource: "audit"}), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "audit.read", ResourceType: "audit", ResourceID: "", Outcome: "denied"}, false},
		{"denial with unreadable data", domain.RecordedEvent{StreamID: "access-" + alice, Type: domain.EventAccessDenied,
			Data: json.RawMessage(`"garbage"`), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "AccessDenied", ResourceType: "access", Outcome: "denied"}, false},
		{"login succeeded", domain.RecordedEvent{StreamID: "user-" + alice, Type: domain.EventLoginSucceeded,
			Data: data(t, domain.LoginSucceeded{SessionID: session, At: at}), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "auth.login", ResourceType: "users", ResourceID: alice, Outcome: "allowed"}, false},
		{"failed login of a known user is filed under that user", domain.RecordedEvent{StreamID: "user-" + alice, Type: domain.EventLoginFailed,
			Data: data(t, domain.LoginFailed{Reason: domain.LoginFailBadPassword, At: at}), Metadata: md("anonymous", "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "auth.login", ResourceType: "users", ResourceID: alice, Outcome: "failed"}, false},
		{"failed login of an unknown username", domain.RecordedEvent{StreamID: "loginattempt-9f86d081884c7d65", Type: domain.EventLoginFailed,
			Data: data(t, domain.LoginFailed{Reason: "unknown_user", At: at}), Metadata: md("anonymous", "")},
			domain.AuditEntry{UserID: "anonymous", Action: "auth.login", ResourceType: "users", ResourceID: "", Outcome: "failed"}, false},
		{"refresh token reuse", domain.RecordedEvent{StreamID: "session-" + session, Type: domain.EventRefreshReuseDetected,
			Data: data(t, domain.RefreshReuseDetected{TokenID: "t1"}), Metadata: md("anonymous", "")},
			domain.AuditEntry{UserID: "anonymous", Action: "session.refresh", ResourceType: "sessions", ResourceID: session, Outcome: "denied"}, false},
		{"user created never copies the hash", domain.RecordedEvent{StreamID: "user-" + alice, Type: domain.EventUserCreated,
			Data: data(t, domain.UserCreated{UserID: alice, Username: "alice", LegacyPasswordHash: "$argon2id$secret"}), Metadata: md(domain.SystemActor, "")},
			domain.AuditEntry{UserID: "system", Action: "user.create", ResourceType: "users", ResourceID: alice, Outcome: "allowed"}, false},
		{"username reserved names the user id", domain.RecordedEvent{StreamID: "username-alice", Type: domain.EventUsernameReserved,
			Data: data(t, domain.UsernameReserved{UserID: alice}), Metadata: md(domain.SystemActor, "")},
			domain.AuditEntry{UserID: "system", Action: "user.reserve_name", ResourceType: "users", ResourceID: alice, Outcome: "allowed"}, false},
		{"role deleted", domain.RecordedEvent{StreamID: "role-r1", Type: domain.EventRoleDeleted, Data: json.RawMessage(`{}`), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "role.delete", ResourceType: "roles", ResourceID: "r1", Outcome: "allowed"}, false},
		{"policy updated", domain.RecordedEvent{StreamID: "policy-p1", Type: domain.EventPolicyUpdated, Data: json.RawMessage(`{}`), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "policy.update", ResourceType: "policies", ResourceID: "p1", Outcome: "allowed"}, false},
		{"the chain seal", domain.RecordedEvent{StreamID: domain.ChainSealStream, Type: domain.EventChainKeyed,
			Data: data(t, domain.ChainKeyed{SealedPosition: 41, SealedHash: "ab", KeyID: "k"}), Metadata: md(domain.SystemActor, "")},
			domain.AuditEntry{UserID: "system", Action: "log.seal", ResourceType: "log", ResourceID: "seal", Outcome: "allowed"}, false},
		{"unknown type keeps its name", domain.RecordedEvent{StreamID: "file-f1", Type: "FileUploaded", Data: json.RawMessage(`{}`), Metadata: md(alice, "alice")},
			domain.AuditEntry{UserID: alice, Username: "alice", Action: "FileUploaded", ResourceType: "file", ResourceID: "f1", Outcome: "allowed"}, false},
		{"no metadata", domain.RecordedEvent{StreamID: "thing", Type: "Touched", Data: json.RawMessage(`{}`)},
			domain.AuditEntry{Action: "Touched", ResourceType: "thing", Outcome: "allowed"}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.event.Position, tt.event.ID, tt.event.RecordedAt = int64(i+1), fmt.Sprintf("00000000-0000-4000-8000-%012d", i), at
			got := audit.Map(tt.event)
			want := tt.want
			want.Position, want.EventID, want.Timestamp, want.EventType = tt.event.Position, tt.event.ID, at, tt.event.Type
			if !tt.noMeta {
				want.IP, want.UserAgent, want.RequestID = "192.0.2.10", "audit-tests/1", "req-42"
			}
			require.Equal(t, want, got)
		})
	}
}

func TestMapCleansMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ip, wantIP, ua, wantUA string
	}{
		{"IPv4", "203.0.113.9", "203.0.113.9", "ua", "ua"},
		{"IPv4-mapped IPv6 is unmapped", "::ffff:203.0.113.9", "203.0.113.9", "ua", "ua"},
		{"IPv6 zone dropped", "fe80::1%eth0", "fe80::1", "ua", "ua"},
		{"garbage IP is no IP", "not-an-ip", "", "ua", "ua"},
		{"NUL and invalid UTF-8 cannot stall the projection", "", "", "a\x00b\xffc", "ab\uFFFDc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.Map(domain.RecordedEvent{StreamID: "thing-1", Type: "Touched",
				Metadata: domain.Metadata{Actor: "system", ClientIP: tt.ip, UserAgent: tt.ua}})
			require.Equal(t, tt.wantIP, got.IP)
			require.Equal(t, tt.wantUA, got.UserAgent)
		})
	}
}

// env is one test's database with the real event store and the audit
// projection run by the real runner.
type env struct {
	db     *pgtest.Database
	store  *eventstore.Store
	runner *projections.Runner
	waiter *projections.Waiter
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := pgtest.New(t)
	store := eventstore.New(db.AppPool, db.ChainKeys(t), discard(), eventstore.Options{})
	t.Cleanup(store.Close)
	ctx, cancel := context.WithCancel(context.Background())
	l := pgnotify.NewListener(db.URL, discard())
	ldone := make(chan struct{})
	go func() { defer close(ldone); _ = l.Run(ctx) }()
	r, err := projections.NewRunner(db.AppPool, store, l, discard(), projections.Options{
		PageSize: 50, RebuildPageSize: 64, PollInterval: 100 * time.Millisecond,
	}, audit.New())
	require.NoError(t, err)
	rdone := make(chan error, 1)
	go func() { rdone <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-rdone)
		<-ldone
	})
	return &env{db: db, store: store, runner: r, waiter: projections.NewWaiter(db.AppPool, l, 50*time.Millisecond)}
}

func (e *env) append(t *testing.T, stream, typ string, payload any, meta domain.Metadata) int64 {
	t.Helper()
	res, err := e.store.Append(context.Background(), stream, domain.ExpectAny, domain.NewEvent{
		ID: domain.NewID(), Type: typ, SchemaVersion: 1, Data: data(t, payload), Metadata: meta,
	})
	require.NoError(t, err)
	return res.LastPosition
}

func (e *env) wait(t *testing.T, position int64) {
	t.Helper()
	require.NoError(t, e.waiter.WaitFor(context.Background(), position, waitTimeout, audit.Name))
}

// allRows reads the table through the reader, newest first.
func (e *env) allRows(t *testing.T) []domain.AuditEntry {
	t.Helper()
	rows, err := audit.NewReader(e.db.AppPool).List(context.Background(), domain.AuditFilter{Limit: 10_000})
	require.NoError(t, err)
	return rows
}

// readLog returns the whole log, oldest first.
func (e *env) readLog(t *testing.T) []domain.RecordedEvent {
	t.Helper()
	events, err := e.store.ReadAll(context.Background(), 0, 10_000)
	require.NoError(t, err)
	return events
}

// Every event becomes exactly the row Map makes of it, through the runner,
// and a rebuild reproduces the table exactly.
func TestEveryEventBecomesItsRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := domain.NewID()
	var head int64
	for i := range 120 {
		switch i % 4 {
		case 0:
			head = e.append(t, domain.SecretAccessStream(secret1), domain.EventSecretRevealed, domain.SecretRevealed{SecretID: secret1, Version: 1}, md(alice, "alice"))
		case 1:
			head = e.append(t, domain.AccessStream(bob), domain.EventAccessDenied, domain.AccessDenied{UserID: bob, Action: "read", Resource: "audit"}, md(bob, "bob"))
		case 2:
			head = e.append(t, "user-"+bob, domain.EventLoginFailed, domain.LoginFailed{Reason: "bad_password"}, md("anonymous", "bob"))
		default:
			head = e.append(t, "thing-x", "Touched", map[string]int{"n": i}, md(domain.SystemActor, ""))
		}
	}
	e.wait(t, head)

	events := e.readLog(t)
	require.Len(t, events, 120)
	want := make([]domain.AuditEntry, 0, len(events))
	for i := len(events) - 1; i >= 0; i-- {
		w := audit.Map(events[i])
		w.Timestamp = w.Timestamp.UTC()
		want = append(want, w)
	}
	require.Equal(t, want, e.allRows(t))

	require.NoError(t, e.runner.Rebuild(context.Background(), audit.Name, nil))
	require.Equal(t, want, e.allRows(t))
}

// The reader's filters, each alone and combined, against a fold of the log.
func TestReaderFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := domain.NewID()
	mdFrom := func(actor, name, ip string) domain.Metadata {
		m := md(actor, name)
		m.ClientIP = ip
		return m
	}
	e.append(t, domain.SecretAccessStream(secret1), domain.EventSecretRevealed, domain.SecretRevealed{SecretID: secret1}, mdFrom(alice, "alice", "10.1.0.1"))
	e.append(t, domain.AccessStream(bob), domain.EventAccessDenied, domain.AccessDenied{UserID: bob, Action: "reveal", Resource: "secrets/prod/db"}, mdFrom(bob, "bob", "10.2.0.1"))
	e.append(t, domain.SecretAccessStream(secret1), domain.EventSecretRevealed, domain.SecretRevealed{SecretID: secret1}, mdFrom(bob, "bob", "2001:db8::7"))
	e.append(t, "user-"+alice, domain.EventLoginFailed, domain.LoginFailed{Reason: "bad_password"}, mdFrom("anonymous", "alice", "10.1.0.2"))
	head := e.append(t, "secret-"+secret1, domain.EventSecretMetadataUpdated, domain.SecretMetadataUpdated{}, mdFrom(alice, "alice", "10.1.0.1"))
	e.wait(t, head)
	all := e.allRows(t)
	require.Len(t, all, 5)
	mid := all[2].Timestamp // the third newest

	tests := []struct {
		name string
		f    domain.AuditFilter
		want []int64 // positions, newest first
	}{
		{"everything", domain.AuditFilter{}, []int64{5, 4, 3, 2, 1}},
		{"user id", domain.AuditFilter{UserID: alice}, []int64{5, 4, 1}},
		{"username", domain.AuditFilter{Username: "bob"}, []int64{3, 2}},
		{"action", domain.AuditFilter{Action: "secret.reveal"}, []int64{3, 2, 1}},
		{"action and outcome", domain.AuditFilter{Action: "secret.reveal", Outcome: domain.AuditDenied}, []int64{2}},
		{"outcome failed", domain.AuditFilter{Outcome: domain.AuditFailed}, []int64{4}},
		{"resource type and id", domain.AuditFilter{ResourceType: "secrets", ResourceID: secret1}, []int64{5, 3, 1}},
		{"resource type only", domain.AuditFilter{ResourceType: "users"}, []int64{4}},
		{"user and resource", domain.AuditFilter{UserID: bob, ResourceType: "secrets", ResourceID: secret1}, []int64{3}},
		{"ip address", domain.AuditFilter{IP: netip.MustParsePrefix("10.1.0.1/32")}, []int64{5, 1}},
		{"ip prefix", domain.AuditFilter{IP: netip.MustParsePrefix("10.1.0.0/16")}, []int64{5, 4, 1}},
		{"ipv6 prefix", domain.AuditFilter{IP: netip.MustParsePrefix("2001:db8::/32")}, []int64{3}},
		{"since is inclusive", domain.AuditFilter{Since: mid}, positionsFrom(all[:3])},
		{"until is exclusive", domain.AuditFilter{Until: mid}, positionsFrom(olderThan(all, mid))},
		{"before a cursor", domain.AuditFilter{Before: &domain.AuditCursor{Timestamp: all[1].Timestamp, Position: all[1].Position}}, positionsFrom(all[2:])},
		{"limit", domain.AuditFilter{Limit: 2}, []int64{5, 4}},
		{"nothing matches", domain.AuditFilter{UserID: "system"}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.f.Limit == 0 {
				tt.f.Limit = 100
			}
			rows, err := audit.NewReader(e.db.AppPool).List(context.Background(), tt.f)
			require.NoError(t, err)
			require.Equal(t, tt.want, positionsFrom(rows))
		})
	}
}

func positionsFrom(rows []domain.AuditEntry) []int64 {
	out := make([]int64, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Position)
	}
	return out
}

func olderThan(rows []domain.AuditEntry, t time.Time) []domain.AuditEntry {
	var out []domain.AuditEntry
	for _, r := range rows {
		if r.Timestamp.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

func TestReaderRefusesBadLimitsAndFindsByPosition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	head := e.append(t, "thing-1", "Touched", map[string]int{}, md(alice, "alice"))
	e.wait(t, head)
	r := audit.NewReader(e.db.AppPool)
	for _, limit := range []int{0, -1, 10_001} {
		_, err := r.List(context.Background(), domain.AuditFilter{Limit: limit})
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err), "limit %d", limit)
	}
	got, err := r.Get(context.Background(), head)
	require.NoError(t, err)
	require.Equal(t, "Touched", got.Action)
	_, err = r.Get(context.Background(), head+1)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
}
