// Package audit is the `audit` projection: every event of the log becomes
// one row of audit_log saying who did what to which resource, from where,
// and with what outcome. Denied attempts, logins, failed logins and reveals
// are events like any other, so they are rows like any other.
//
// Rows are built from event metadata and from ids and names in the event
// data, field by field; nothing else is copied, so no secret value, sealed
// field or password hash can reach the table.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections/audit/internal/auditdb"
)

// Name is the projection's checkpoint name.
const Name = domain.ReadModelAudit

// Projection maintains the audit_log table.
type Projection struct {
	q *auditdb.Queries
}

// New returns the projection.
func New() *Projection { return &Projection{q: auditdb.New()} }

// Name implements projections.Projection.
func (*Projection) Name() string { return Name }

// Tables implements projections.Projection.
func (*Projection) Tables() []string { return []string{"audit_log"} }

// Reset implements projections.Projection.
func (p *Projection) Reset(ctx context.Context, tx pgx.Tx) error {
	if err := p.q.DeleteAuditLog(ctx, tx); err != nil {
		return fmt.Errorf("clear audit log: %w", err)
	}
	return nil
}

// Apply writes a whole page with one INSERT of parallel arrays: one round
// trip per page, which is what keeps a rebuild of millions of events fast.
// Mapping never fails, so no event can stall the audit log.
func (p *Projection) Apply(ctx context.Context, tx pgx.Tx, events []domain.RecordedEvent) error {
	n := len(events)
	arg := auditdb.InsertAuditEntriesParams{
		Positions: make([]int64, 0, n), EventIds: make([]string, 0, n), Timestamps: make([]pgtype.Timestamptz, 0, n),
		UserIds: make([]string, 0, n), Usernames: make([]string, 0, n), Actions: make([]string, 0, n),
		ResourceTypes: make([]string, 0, n), ResourceIds: make([]string, 0, n), Outcomes: make([]string, 0, n),
		Ips: make([]string, 0, n), UserAgents: make([]string, 0, n), RequestIds: make([]string, 0, n),
		EventTypes: make([]string, 0, n),
	}
	for _, e := range events {
		row := Map(e)
		arg.Positions = append(arg.Positions, row.Position)
		arg.EventIds = append(arg.EventIds, row.EventID)
		arg.Timestamps = append(arg.Timestamps, pgtype.Timestamptz{Time: row.Timestamp, Valid: true})
		arg.UserIds = append(arg.UserIds, row.UserID)
		arg.Usernames = append(arg.Usernames, row.Username)
		arg.Actions = append(arg.Actions, row.Action)
		arg.ResourceTypes = append(arg.ResourceTypes, row.ResourceType)
		arg.ResourceIds = append(arg.ResourceIds, row.ResourceID)
		arg.Outcomes = append(arg.Outcomes, row.Outcome)
		arg.Ips = append(arg.Ips, row.IP)
		arg.UserAgents = append(arg.UserAgents, row.UserAgent)
		arg.RequestIds = append(arg.RequestIds, row.RequestID)
		arg.EventTypes = append(arg.EventTypes, row.EventType)
	}
	if err := p.q.InsertAuditEntries(ctx, tx, arg); err != nil {
		return fmt.Errorf("insert %d audit entries: %w", n, err)
	}
	return nil
}

// singular names a policy resource type in an action ("secrets" →
// "secret"), so a denied attempt reads like the allowed action would.
func singular(resourceType string) string {
	switch resourceType {
	case domain.ResourceSecrets:
		return "secret"
	case domain.ResourceFiles:
		return "file"
	case domain.ResourceUsers:
		return "user"
	case domain.ResourceRoles:
		return "role"
	case domain.ResourcePolicies:
		return "policy"
	}
	return resourceType
}

// Map turns one event into its audit entry, as the domain's event
// catalogue says it reads (domain.MeaningOf); a type without an entry is
// audited under its own name, so no event can be missed.
func Map(e domain.RecordedEvent) domain.AuditEntry {
	md := e.Metadata
	m := domain.MeaningOf(e.Type, e.StreamID)
	aggregate, id := splitStream(e.StreamID)
	out := domain.AuditEntry{
		Position:     e.Position,
		EventID:      e.ID,
		Timestamp:    e.RecordedAt,
		UserID:       md.Actor,
		Username:     md.ActorName,
		Action:       m.Action,
		ResourceType: m.ResourceType,
		ResourceID:   id,
		Outcome:      m.Outcome,
		IP:           cleanIP(md.ClientIP),
		UserAgent:    md.UserAgent,
		RequestID:    md.RequestID,
		EventType:    e.Type,
	}
	switch m.Resource {
	case domain.ResourceFromField:
		out.ResourceID = dataField(e.Data, m.ResourceField)
	case domain.ResourceFromDenial:
		mapDenial(&out, e)
	case domain.ResourceFromLogin:
		mapLogin(&out, aggregate, id)
	}
	return sanitize(out)
}

// mapDenial reads the attempted action and resource out of AccessDenied, so
// a refused reveal reads "secret.reveal denied" on the resource it aimed at.
func mapDenial(out *domain.AuditEntry, e domain.RecordedEvent) {
	var d domain.AccessDenied
	if err := json.Unmarshal(e.Data, &d); err != nil || d.Action == "" {
		out.Action = e.Type
		out.ResourceType, out.ResourceID = domain.AccessAggregate, ""
		return
	}
	typ, id, _ := strings.Cut(d.Resource, "/")
	out.ResourceType, out.ResourceID = typ, id
	out.Action = singular(typ) + "." + strings.ToLower(d.Action)
	if out.UserID == "" {
		out.UserID = d.UserID
	}
}

// mapLogin makes login rows findable by the account they were for: a failed
// login is recorded by an anonymous caller, but an auditor asks "who tried
// to log in as alice". A failure for an unknown username is on a stream
// keyed by a hash of the name, which is not a resource id.
func mapLogin(out *domain.AuditEntry, aggregate, id string) {
	if aggregate != domain.UserAggregate {
		out.ResourceID = ""
		return
	}
	if out.UserID == "" || out.UserID == domain.AnonymousActor {
		out.UserID = id
	}
}

func splitStream(streamID string) (aggregate, id string) {
	aggregate = domain.AggregateOf(streamID)
	if len(streamID) > len(aggregate) {
		id = streamID[len(aggregate)+1:]
	}
	return aggregate, id
}

// dataField reads one string field of the event data and nothing else.
func dataField(data json.RawMessage, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[field], &s) != nil {
		return ""
	}
	return s
}

func cleanIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return a.WithZone("").Unmap().String()
}

// maxField bounds each text column: metadata comes from clients (a user
// agent) and must not be able to bloat the audit table.
const maxField = 1024

// sanitize makes every text field storable: PostgreSQL text refuses NUL
// bytes and invalid UTF-8, and one such event would otherwise stall the
// projection forever.
func sanitize(e domain.AuditEntry) domain.AuditEntry {
	for _, f := range []*string{&e.UserID, &e.Username, &e.Action, &e.ResourceType, &e.ResourceID,
		&e.UserAgent, &e.RequestID, &e.EventType} {
		s := strings.ToValidUTF8(strings.ReplaceAll(*f, "\x00", ""), "\uFFFD")
		if len(s) > maxField {
			cut := maxField
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			s = s[:cut]
		}
		*f = s
	}
	return e
}
