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
const Name = "audit"

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

// rule is how one event type reads in the audit log.
type rule struct {
	action       string
	resourceType string
	outcome      string
	// idField names the event data field holding the resource id, for
	// events on a name-reservation stream (whose stream id is a name).
	idField string
}

// ruleFor maps every known event type. Actions are "<resource>.<verb>";
// the resource types are the policy resource types, plus sessions.
func ruleFor(eventType string) (rule, bool) {
	switch eventType {
	case domain.EventUserCreated:
		return rule{action: "user.create", resourceType: domain.ResourceUsers}, true
	case domain.EventUserUpdated:
		return rule{action: "user.update", resourceType: domain.ResourceUsers}, true
	case domain.EventUserPasswordChanged:
		return rule{action: "user.change_password", resourceType: domain.ResourceUsers}, true
	case domain.EventUserRolesAssigned:
		return rule{action: "user.assign_roles", resourceType: domain.ResourceUsers}, true
	case domain.EventUserDisabled:
		return rule{action: "user.disable", resourceType: domain.ResourceUsers}, true
	case domain.EventUserEnabled:
		return rule{action: "user.enable", resourceType: domain.ResourceUsers}, true
	case domain.EventUserDeleted:
		return rule{action: "user.delete", resourceType: domain.ResourceUsers}, true
	case domain.EventUsernameReserved:
		return rule{action: "user.reserve_name", resourceType: domain.ResourceUsers, idField: "user_id"}, true
	case domain.EventUsernameReleased:
		return rule{action: "user.release_name", resourceType: domain.ResourceUsers, idField: "user_id"}, true
	case domain.EventLoginSucceeded:
		return rule{action: "auth.login", resourceType: domain.ResourceUsers}, true
	case domain.EventLoginFailed:
		return rule{action: "auth.login", resourceType: domain.ResourceUsers, outcome: domain.AuditFailed}, true
	case domain.EventSessionStarted:
		return rule{action: "session.start", resourceType: resourceSessions}, true
	case domain.EventSessionRefreshed:
		return rule{action: "session.refresh", resourceType: resourceSessions}, true
	case domain.EventSessionRevoked:
		return rule{action: "session.revoke", resourceType: resourceSessions}, true
	case domain.EventRefreshReuseDetected:
		return rule{action: "session.refresh", resourceType: resourceSessions, outcome: domain.AuditDenied}, true
	case domain.EventRoleCreated:
		return rule{action: "role.create", resourceType: domain.ResourceRoles}, true
	case domain.EventRoleUpdated:
		return rule{action: "role.update", resourceType: domain.ResourceRoles}, true
	case domain.EventRoleDeleted:
		return rule{action: "role.delete", resourceType: domain.ResourceRoles}, true
	case domain.EventRoleNameReserved:
		return rule{action: "role.reserve_name", resourceType: domain.ResourceRoles, idField: "role_id"}, true
	case domain.EventRoleNameReleased:
		return rule{action: "role.release_name", resourceType: domain.ResourceRoles, idField: "role_id"}, true
	case domain.EventRoleMemberAdded:
		return rule{action: "role.add_member", resourceType: domain.ResourceRoles}, true
	case domain.EventRoleMemberRemoved:
		return rule{action: "role.remove_member", resourceType: domain.ResourceRoles}, true
	case domain.EventPolicyCreated:
		return rule{action: "policy.create", resourceType: domain.ResourcePolicies}, true
	case domain.EventPolicyUpdated:
		return rule{action: "policy.update", resourceType: domain.ResourcePolicies}, true
	case domain.EventPolicyDeleted:
		return rule{action: "policy.delete", resourceType: domain.ResourcePolicies}, true
	case domain.EventPolicyNameReserved:
		return rule{action: "policy.reserve_name", resourceType: domain.ResourcePolicies, idField: "policy_id"}, true
	case domain.EventPolicyNameReleased:
		return rule{action: "policy.release_name", resourceType: domain.ResourcePolicies, idField: "policy_id"}, true
	case domain.EventSecretCreated:
		return rule{action: "secret.create", resourceType: domain.ResourceSecrets}, true
	case domain.EventSecretVersionAdded:
		return rule{action: "secret.add_version", resourceType: domain.ResourceSecrets}, true
	case domain.EventSecretMetadataUpdated:
		return rule{action: "secret.update", resourceType: domain.ResourceSecrets}, true
	case domain.EventSecretDeleted:
		return rule{action: "secret.delete", resourceType: domain.ResourceSecrets}, true
	case domain.EventSecretRestored:
		return rule{action: "secret.restore", resourceType: domain.ResourceSecrets}, true
	case domain.EventSecretVersionDestroyed:
		return rule{action: "secret.destroy_version", resourceType: domain.ResourceSecrets}, true
	case domain.EventSecretNameReserved:
		return rule{action: "secret.reserve_name", resourceType: domain.ResourceSecrets, idField: "secret_id"}, true
	case domain.EventSecretRevealed:
		return rule{action: "secret.reveal", resourceType: domain.ResourceSecrets}, true
	case domain.EventChainKeyed:
		return rule{action: "log.seal", resourceType: resourceLog}, true
	}
	return rule{}, false
}

// resourceSessions is the resource type of session events; sessions are
// not a policy resource, but an auditor still wants to see them apart.
const resourceSessions = "sessions"

// resourceLog is the event log itself: its seal, when it was first keyed.
const resourceLog = "log"

// actorAnonymous is the actor commands record for an unauthenticated caller.
const actorAnonymous = "anonymous"

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

// Map turns one event into its audit entry. Unknown event types keep their
// type as the action, the stream's aggregate as the resource type and the
// outcome `allowed`, so a new event type is audited before anyone maps it.
func Map(e domain.RecordedEvent) domain.AuditEntry {
	md := e.Metadata
	out := domain.AuditEntry{
		Position:  e.Position,
		EventID:   e.ID,
		Timestamp: e.RecordedAt,
		UserID:    md.Actor,
		Username:  md.ActorName,
		Outcome:   domain.AuditAllowed,
		IP:        cleanIP(md.ClientIP),
		UserAgent: md.UserAgent,
		RequestID: md.RequestID,
		EventType: e.Type,
	}
	aggregate, id := splitStream(e.StreamID)
	if e.Type == domain.EventAccessDenied {
		mapDenial(&out, e)
	} else if r, ok := ruleFor(e.Type); ok {
		out.Action, out.ResourceType, out.ResourceID = r.action, r.resourceType, id
		if r.outcome != "" {
			out.Outcome = r.outcome
		}
		if r.idField != "" {
			out.ResourceID = dataField(e.Data, r.idField)
		}
		if e.Type == domain.EventLoginFailed || e.Type == domain.EventLoginSucceeded {
			mapLogin(&out, aggregate, id)
		}
	} else {
		out.Action, out.ResourceType, out.ResourceID = e.Type, aggregate, id
	}
	return sanitize(out)
}

// mapDenial reads the attempted action and resource out of AccessDenied, so
// a refused reveal reads "secret.reveal denied" on the resource it aimed at.
func mapDenial(out *domain.AuditEntry, e domain.RecordedEvent) {
	out.Outcome = domain.AuditDenied
	var d domain.AccessDenied
	if err := json.Unmarshal(e.Data, &d); err != nil || d.Action == "" {
		out.Action = e.Type
		out.ResourceType = domain.AccessAggregate
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
	if out.UserID == "" || out.UserID == actorAnonymous {
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
