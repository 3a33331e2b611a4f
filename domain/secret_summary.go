package domain

import "time"

// secretStamps are when and by whom a secret was created and last changed,
// as the secrets read model records them: the create stamps both, and every
// later event of the secret's stream that the read model shows stamps the
// update (a rollback's own marker event does not: the version it adds
// does, in the same append).
type secretStamps struct {
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

func (s *Secret) stamp(eventType string, at time.Time, actor string) {
	switch {
	case eventType == EventSecretCreated:
		s.state.Stamps = secretStamps{CreatedAt: at, CreatedBy: actor, UpdatedAt: at, UpdatedBy: actor}
	case SecretEventStamps(eventType):
		s.state.Stamps.UpdatedAt, s.state.Stamps.UpdatedBy = at, actor
	}
}

// SecretEventStamps tells whether an event of a secret's stream stamps the
// secret's row (updated_at and updated_by; the create stamps created_at
// too). It is the one list of them: the aggregate's Summary and the
// secrets projection both stamp by it, so a write's answer and the read
// model cannot disagree on who changed a secret last.
func SecretEventStamps(eventType string) bool {
	switch eventType {
	case EventSecretCreated, EventSecretVersionAdded, EventSecretVersionDestroyed, EventSecretMetadataUpdated,
		EventSecretDeleted, EventSecretRestored:
		return true
	}
	return false
}

// CommittedAt is Committed for changes the log recorded at `at` (the
// append's RecordedAt) on behalf of actor (their metadata's Actor): the
// secret is stamped as folding the same events would stamp it, so Summary
// answers what the read model will show without reading it.
func (s *Secret) CommittedAt(at time.Time, actor string) {
	for _, ch := range s.changes {
		s.stamp(ch.Type, at, actor)
	}
	s.Committed()
}

// Summary is the secret as the secrets read model shows it (the row behind
// GET /secrets/{id}), from the aggregate: a write answers with it without
// reading the read model back, and time travel rebuilds the row from the
// fold with it. TestWriteAnswersEqualTheReadModel holds the two equal.
func (s *Secret) Summary() SecretSummary {
	state := SecretStateActive
	if s.Deleted() {
		state = SecretStateDeleted
	}
	tags := s.Tags()
	if tags == nil {
		tags = []string{}
	}
	st := s.state.Stamps
	return SecretSummary{
		ID: s.ID(), Name: s.Name(), Description: s.Description(), Tags: tags,
		CurrentVersion: s.CurrentVersion(), VersionCount: int64(len(s.state.Live)), State: state,
		CreatedAt: st.CreatedAt, CreatedBy: st.CreatedBy, UpdatedAt: st.UpdatedAt, UpdatedBy: st.UpdatedBy,
	}
}
