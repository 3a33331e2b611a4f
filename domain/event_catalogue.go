package domain

import (
	"slices"
	"strings"
	"sync"
)

// What each event type means to an auditor and to a SIEM is declared here,
// once, beside the event types: the audit projection and the SIEM formats
// read it instead of keeping switches of their own. A new event type needs
// an entry; TestEveryEventTypeHasAMeaning fails until it has one.

// Severity ranks how urgently an analyst should look at an event.
type Severity int

// Severities, lowest first.
const (
	SeverityInfo Severity = iota
	SeverityNotice
	SeverityWarning
	SeverityCritical
)

// ResourceRule says where the audited resource (and, for some events, the
// account) of an event comes from.
type ResourceRule int

const (
	// ResourceFromStream: the id part of the event's stream id.
	ResourceFromStream ResourceRule = iota
	// ResourceFromField: a string field of the event data (ResourceField),
	// for events on a name-reservation stream, whose stream id is a name.
	ResourceFromField
	// ResourceFromDenial: the resource and action the refused attempt aimed
	// at, read from the AccessDenied data, so a refused reveal reads
	// "secret.reveal denied" on the secret it aimed at.
	ResourceFromDenial
	// ResourceFromLogin: the account of a user stream, which is also the
	// actor of an anonymous attempt (an auditor asks "who tried to log in
	// as alice"); none on a loginattempt stream, keyed by a hash of an
	// unknown username.
	ResourceFromLogin
)

// EventMeaning is what one event type means outside the domain.
type EventMeaning struct {
	// Action is the audit log's "<resource>.<verb>", such as secret.reveal.
	Action string
	// ResourceType is the policy resource type the event is about
	// (secrets, users, roles, policies), or sessions, or log.
	ResourceType string
	Resource     ResourceRule
	// ResourceField names the data field of ResourceFromField.
	ResourceField string
	// Outcome is AuditAllowed, AuditDenied or AuditFailed; the SIEM
	// formats report anything but AuditAllowed as a failure.
	Outcome  string
	Severity Severity
	// ECSCategory and ECSType are Elastic Common Schema's event.category
	// and event.type.
	ECSCategory []string
	ECSType     []string
}

// meaning is one catalogue entry as declared: aggregate is the kind of
// stream the type is appended to, which classifies it for ECS unless the
// entry names its own ECS fields.
type meaning struct {
	EventMeaning
	aggregate string
}

// Resource types of events that are not policy resources.
const (
	// ResourceSessions: sessions are not a policy resource, but an auditor
	// still wants to see them apart.
	ResourceSessions = "sessions"
	// ResourceLog is the event log itself: its seal, when it was first keyed.
	ResourceLog = "log"
)

var eventCatalogue = sync.OnceValue(func() map[string]EventMeaning {
	entry := func(aggregate, action, resourceType string) meaning {
		return meaning{EventMeaning: EventMeaning{Action: action, ResourceType: resourceType, Outcome: AuditAllowed}, aggregate: aggregate}
	}
	reservation := func(aggregate, action, resourceType, field string) meaning {
		m := entry(aggregate, action, resourceType)
		m.Resource, m.ResourceField = ResourceFromField, field
		return m
	}
	authn := []string{"authentication", "session"}
	entries := map[string]meaning{
		EventUserCreated:         entry(UserAggregate, "user.create", ResourceUsers),
		EventUserUpdated:         entry(UserAggregate, "user.update", ResourceUsers),
		EventUserPasswordChanged: entry(UserAggregate, "user.change_password", ResourceUsers).severity(SeverityNotice),
		EventUserRolesAssigned:   entry(UserAggregate, "user.assign_roles", ResourceUsers).severity(SeverityNotice),
		EventUserDisabled:        entry(UserAggregate, "user.disable", ResourceUsers),
		EventUserEnabled:         entry(UserAggregate, "user.enable", ResourceUsers),
		EventUserDeleted:         entry(UserAggregate, "user.delete", ResourceUsers),
		EventUsernameReserved:    reservation(UsernameAggregate, "user.reserve_name", ResourceUsers, "user_id"),
		EventUsernameReleased:    reservation(UsernameAggregate, "user.release_name", ResourceUsers, "user_id"),
		EventLoginSucceeded:      entry(UserAggregate, "auth.login", ResourceUsers).login().ecs(authn, "start"),
		EventLoginFailed: entry(UserAggregate, "auth.login", ResourceUsers).login().ecs(authn, "start").
			outcome(AuditFailed).severity(SeverityWarning),

		EventSessionStarted:   entry(SessionAggregate, "session.start", ResourceSessions).ecs(authn, "start"),
		EventSessionRefreshed: entry(SessionAggregate, "session.refresh", ResourceSessions).ecs(authn, "info"),
		EventSessionRevoked:   entry(SessionAggregate, "session.revoke", ResourceSessions).ecs(authn, "end").severity(SeverityNotice),
		// A spent refresh token came back: most likely stolen.
		EventRefreshReuseDetected: entry(SessionAggregate, "session.refresh", ResourceSessions).
			ecs([]string{"authentication", "intrusion_detection"}, "indicator", "denied").
			outcome(AuditDenied).severity(SeverityCritical),

		EventRoleCreated:       entry(RoleAggregate, "role.create", ResourceRoles).severity(SeverityNotice),
		EventRoleUpdated:       entry(RoleAggregate, "role.update", ResourceRoles).severity(SeverityNotice),
		EventRoleDeleted:       entry(RoleAggregate, "role.delete", ResourceRoles).severity(SeverityNotice),
		EventRoleNameReserved:  reservation(RoleNameAggregate, "role.reserve_name", ResourceRoles, "role_id"),
		EventRoleNameReleased:  reservation(RoleNameAggregate, "role.release_name", ResourceRoles, "role_id"),
		EventRoleMemberAdded:   entry(RoleMembersAggregate, "role.add_member", ResourceRoles),
		EventRoleMemberRemoved: entry(RoleMembersAggregate, "role.remove_member", ResourceRoles),

		EventPolicyCreated:      entry(PolicyAggregate, "policy.create", ResourcePolicies).severity(SeverityNotice),
		EventPolicyUpdated:      entry(PolicyAggregate, "policy.update", ResourcePolicies).severity(SeverityNotice),
		EventPolicyDeleted:      entry(PolicyAggregate, "policy.delete", ResourcePolicies).severity(SeverityNotice),
		EventPolicyNameReserved: reservation(PolicyNameAggregate, "policy.reserve_name", ResourcePolicies, "policy_id"),
		EventPolicyNameReleased: reservation(PolicyNameAggregate, "policy.release_name", ResourcePolicies, "policy_id"),

		EventSecretCreated:          entry(SecretAggregate, "secret.create", ResourceSecrets),
		EventSecretVersionAdded:     entry(SecretAggregate, "secret.add_version", ResourceSecrets),
		EventSecretMetadataUpdated:  entry(SecretAggregate, "secret.update", ResourceSecrets),
		EventSecretDeleted:          entry(SecretAggregate, "secret.delete", ResourceSecrets),
		EventSecretRestored:         entry(SecretAggregate, "secret.restore", ResourceSecrets),
		EventSecretVersionDestroyed: entry(SecretAggregate, "secret.destroy_version", ResourceSecrets).severity(SeverityNotice),
		EventSecretRolledBack:       entry(SecretAggregate, "secret.rollback", ResourceSecrets).severity(SeverityNotice),
		EventSecretNameReserved:     reservation(SecretNameAggregate, "secret.reserve_name", ResourceSecrets, "secret_id"),
		EventSecretRevealed: entry(SecretAccessAggregate, "secret.reveal", ResourceSecrets).
			ecs([]string{"database"}, "access").severity(SeverityNotice),

		EventFileCreated:          entry(FileAggregate, "file.create", ResourceFiles),
		EventFileVersionAdded:     entry(FileAggregate, "file.add_version", ResourceFiles),
		EventFileDeleted:          entry(FileAggregate, "file.delete", ResourceFiles),
		EventFileRestored:         entry(FileAggregate, "file.restore", ResourceFiles),
		EventFileVersionDestroyed: entry(FileAggregate, "file.destroy_version", ResourceFiles).severity(SeverityNotice),
		EventFileNameReserved:     reservation(FileNameAggregate, "file.reserve_name", ResourceFiles, "file_id"),
		EventFileDownloaded: entry(FileAccessAggregate, "file.download", ResourceFiles).
			ecs([]string{"file"}, "access").severity(SeverityNotice),

		EventAccessDenied: entry(AccessAggregate, "", "").denial().ecs([]string{"iam"}, "denied").
			outcome(AuditDenied).severity(SeverityWarning),
		EventChainKeyed: entry(ChainAggregate, "log.seal", ResourceLog),

		EventEmailVerified:          entry(UserAggregate, "user.verify_email", ResourceUsers),
		EventPasswordResetRequested: entry(UserAggregate, "auth.forgot_password", ResourceUsers).severity(SeverityNotice),
		EventPasswordResetCompleted: entry(UserAggregate, "auth.reset_password", ResourceUsers).severity(SeverityNotice),
		// Nobody has the address: worth a look when it comes in floods.
		EventPasswordResetUnmatched: entry(ResetAttemptAggregate, "auth.forgot_password", ResourceUsers).login().
			outcome(AuditFailed).severity(SeverityNotice),
		EventEmailVerificationRequested: entry(UserAggregate, "auth.resend_verification", ResourceUsers).severity(SeverityNotice),
		EventEmailVerificationUnmatched: entry(ResetAttemptAggregate, "auth.resend_verification", ResourceUsers).login().
			outcome(AuditFailed).severity(SeverityNotice),
		EventMailDeadLettered: reservation(MailAggregate, "mail.dead_letter", ResourceUsers, "user_id").
			outcome(AuditFailed).severity(SeverityWarning),
	}
	for eventType, m := range serviceAccountMeanings(entry, reservation) {
		entries[eventType] = m
	}
	out := make(map[string]EventMeaning, len(entries))
	for eventType, m := range entries {
		if m.ECSCategory == nil {
			m.ECSCategory, m.ECSType = ecsClass(m.aggregate, eventType)
		}
		out[eventType] = m.EventMeaning
	}
	return out
})

func (m meaning) severity(s Severity) meaning { m.Severity = s; return m }
func (m meaning) outcome(o string) meaning    { m.Outcome = o; return m }
func (m meaning) login() meaning              { m.Resource = ResourceFromLogin; return m }
func (m meaning) denial() meaning             { m.Resource = ResourceFromDenial; return m }

func (m meaning) ecs(category []string, types ...string) meaning {
	m.ECSCategory, m.ECSType = category, types
	return m
}

// ecsClass maps an event onto ECS's event.category and event.type by the
// kind of stream it is on and by what its name says it did.
func ecsClass(aggregate, eventType string) (category, types []string) {
	change := "change"
	switch {
	case strings.HasSuffix(eventType, "Created"), strings.HasSuffix(eventType, "Reserved"):
		change = "creation"
	case strings.HasSuffix(eventType, "Deleted"), strings.HasSuffix(eventType, "Destroyed"), strings.HasSuffix(eventType, "Released"):
		change = "deletion"
	}
	switch aggregate {
	case UserAggregate, UsernameAggregate:
		return []string{"iam"}, []string{"user", change}
	case RoleAggregate, RoleNameAggregate:
		return []string{"iam"}, []string{"group", change}
	case PolicyAggregate, PolicyNameAggregate:
		return []string{"iam", "configuration"}, []string{"admin", change}
	case ServiceAccountAggregate, ServiceAccountNameAggregate, ClientIDAggregate:
		return []string{"iam"}, []string{"user", change}
	case SecretAggregate, SecretNameAggregate:
		return []string{"database"}, []string{change}
	case FileAggregate, FileNameAggregate:
		return []string{"file"}, []string{change}
	}
	return []string{"configuration"}, []string{change}
}

// EventMeaningOf is the catalogue entry of a registered event type.
func EventMeaningOf(eventType string) (EventMeaning, bool) {
	m, ok := eventCatalogue()[eventType]
	if !ok {
		return EventMeaning{}, false
	}
	m.ECSCategory, m.ECSType = slices.Clone(m.ECSCategory), slices.Clone(m.ECSType)
	return m, true
}

// MeaningOf is what an event of eventType on streamID means. A type this
// build does not know (a newer replica's, on the bus) keeps its type as the
// action, the stream's aggregate as the resource type, the outcome allowed
// and the lowest severity, so it is audited and forwarded before anyone
// declares it.
func MeaningOf(eventType, streamID string) EventMeaning {
	if m, ok := EventMeaningOf(eventType); ok {
		return m
	}
	aggregate := AggregateOf(streamID)
	category, types := ecsClass(aggregate, eventType)
	return EventMeaning{
		Action: eventType, ResourceType: aggregate, Outcome: AuditAllowed, Severity: SeverityInfo,
		ECSCategory: category, ECSType: types,
	}
}

// Registries lists the registry of every stream kind: the aggregates', and
// those of the events appended without one (denials, reveals, name
// reservations, the chain seal). The event store takes its upcasters from
// them.
func Registries() []*Registry {
	return []*Registry{
		userRegistry(), sessionRegistry(), roleRegistry(), policyRegistry(), secretRegistry(),
		reservationRegistry(), roleMembersRegistry(), secretNameRegistry(), secretAccessRegistry(),
		accessRegistry(), chainRegistry(), resetAttemptRegistry(), mailRegistry(),
		serviceAccountRegistry(), clientStreamsRegistry(),
		fileRegistry(), fileNameRegistry(), fileAccessRegistry(),
	}
}

// EventTypes lists every registered event type, sorted.
func EventTypes() []string {
	var out []string
	for _, r := range Registries() {
		out = append(out, r.EventTypes()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
