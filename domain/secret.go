package domain

import (
	"slices"
	"sync"
)

// Aggregate names of the secret streams.
const (
	SecretAggregate       = "secret"
	SecretNameAggregate   = "secretname"
	SecretAccessAggregate = "secretaccess"
)

// Secret event types.
const (
	EventSecretCreated          = "SecretCreated"
	EventSecretVersionAdded     = "SecretVersionAdded"
	EventSecretMetadataUpdated  = "SecretMetadataUpdated"
	EventSecretDeleted          = "SecretDeleted"
	EventSecretRestored         = "SecretRestored"
	EventSecretVersionDestroyed = "SecretVersionDestroyed"
	EventSecretNameReserved     = "SecretNameReserved"
	EventSecretRevealed         = "SecretRevealed"
)

// Why a version was destroyed.
const (
	DestroyManual    = "manual"
	DestroyRetention = "retention"
)

// Secret limits. The value limit is a rule about content (422), distinct
// from the HTTP body limit (413).
const (
	SecretNameMaxLength   = 256
	SecretMaxTags         = 32
	SecretTagMaxLength    = 64
	SecretValueMaxBytes   = 64 << 10
	DefaultKeepVersions   = 10
	secretSnapshotLayout  = 3 // 3: the stamps (secret_summary.go)
	secretMaxKeepVersions = 10_000
)

// SecretCreated starts a secret. Its first value follows as
// SecretVersionAdded in the same append.
type SecretCreated struct {
	SecretID    string   `json:"secret_id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// SecretVersionAdded stores one value, sealed under the data key of
// (secret id, version). The sealed_ prefix keeps the ciphertext out of every
// path that leaves PostgreSQL (see RedactForBus).
type SecretVersionAdded struct {
	Version     int64  `json:"version"`
	SealedValue []byte `json:"sealed_value"`
	KeyProvider string `json:"key_provider"`
	Generated   bool   `json:"generated"`
}

// SecretMetadataUpdated replaces description and tags.
type SecretMetadataUpdated struct {
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

// SecretDeleted hides a secret and refuses reveals until it is restored.
type SecretDeleted struct{}

// SecretRestored undoes SecretDeleted.
type SecretRestored struct{}

// SecretVersionDestroyed marks a version unreadable for good; its data key is
// deleted after this event is stored, so the audit trail never lags.
type SecretVersionDestroyed struct {
	Version int64  `json:"version"`
	Reason  string `json:"reason"`
}

// SecretNameReserved claims a secret name for good: names are never released
// because a soft-deleted secret can be restored under its name.
type SecretNameReserved struct {
	SecretID string `json:"secret_id"`
}

// SecretRevealed records that a caller saw a value. It lives on the
// secretaccess stream so a reveal never changes the secret's version.
type SecretRevealed struct {
	SecretID string `json:"secret_id"`
	Version  int64  `json:"version"`
}

// SecretNameReservationStream is the stream that reserves a secret name,
// keyed by its folded form so names differing only in case collide.
// Streams reserved before names were folded carry the name as it was
// given; commands.CreateSecret also refuses a new name whose folded form
// such a legacy name already has.
func SecretNameReservationStream(name string) string {
	return StreamID(SecretNameAggregate, FoldName(name))
}

// SecretAccessStream is the stream of a secret's reveals.
func SecretAccessStream(secretID string) string { return StreamID(SecretAccessAggregate, secretID) }

// SecretResource is the resource path policies decide on.
func SecretResource(name string) string { return ResourceSecrets + "/" + name }

// UserResource names a user for access checks: `admin` is checked on it.
func UserResource(username string) string { return ResourceUsers + "/" + username }

// RoleResource names a role for access checks.
func RoleResource(name string) string { return ResourceRoles + "/" + name }

// PolicyResource names a policy for access checks.
func PolicyResource(name string) string { return ResourcePolicies + "/" + name }

// Secret names are reserved once and never released (a deleted secret
// keeps its name), so their streams hold one event and need no aggregate.
var secretNameRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[SecretNameReserved](r, EventSecretNameReserved, 1)
	return r
})

// SecretNameEvents is the registry of secret name reservations.
func SecretNameEvents() *Registry { return secretNameRegistry() }

var secretAccessRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[SecretRevealed](r, EventSecretRevealed, 1)
	return r
})

// SecretAccessEvents is the registry of a secret's access stream.
func SecretAccessEvents() *Registry { return secretAccessRegistry() }

// NewSecretNameReservation is the append that claims name for secretID; it
// must go in the same atomic append as the secret's first events.
func NewSecretNameReservation(name, secretID string, md Metadata) StreamAppend {
	return StreamAppend{
		StreamID: SecretNameReservationStream(name),
		Expected: ExpectNoStream,
		Events:   []NewEvent{secretNameRegistry().newEvent(SecretNameReserved{SecretID: secretID}, md)},
	}
}

// NewSecretRevealedEvent builds the audit event of one reveal.
func NewSecretRevealedEvent(secretID string, version int64, md Metadata) NewEvent {
	return secretAccessRegistry().newEvent(SecretRevealed{SecretID: secretID, Version: version}, md)
}

// NormalizeSecretTags checks tags and returns them sorted without
// duplicates, so equal sets compare equal.
func NormalizeSecretTags(tags []string) ([]string, error) {
	if len(tags) > SecretMaxTags {
		return nil, Errorf(EINVALID, "a secret has at most %d tags", SecretMaxTags)
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if err := ValidateSecretTag(t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ValidateSecretTag checks one tag: 1–64 characters of [a-z0-9._:-].
func ValidateSecretTag(t string) error {
	if t == "" || len(t) > SecretTagMaxLength {
		return Errorf(EINVALID, "tags must be 1 to %d characters long", SecretTagMaxLength)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '_' && c != ':' && c != '-' {
			return Errorf(EINVALID, "tags may contain only lowercase letters, digits, '.', '_', ':' and '-'")
		}
	}
	return nil
}

// ValidateSecretValue checks a plaintext value's size. An empty value is
// malformed; an oversized one breaks a rule (422).
func ValidateSecretValue(value []byte) error {
	if len(value) == 0 {
		return Errorf(EINVALID, "value must not be empty")
	}
	if len(value) > SecretValueMaxBytes {
		return Errorf(EUNPROCESSABLE, "value must be at most %d bytes", SecretValueMaxBytes)
	}
	return nil
}

// SecretVersion is one live version as the aggregate knows it.
type SecretVersion struct {
	Version     int64  `json:"version"`
	SealedValue []byte `json:"sealed_value"`
	KeyProvider string `json:"key_provider"`
	Generated   bool   `json:"generated"`
	// AddedIn is the stream version of the SecretVersionAdded event that
	// recorded it, so a reader can fetch who added it without a fold.
	AddedIn int64 `json:"added_in"`
}

// secretState stays small however long the history grows: every value
// version up to Current that is not in Live was destroyed, and a destroyed
// version keeps nothing (its ciphertext is useless once its key is gone, and
// who destroyed it is in the log). Retention destroys the oldest versions, so
// Live is a short tail, ordered by version.
type secretState struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Tags        []string        `json:"tags"`
	Deleted     bool            `json:"deleted"`
	Current     int64           `json:"current_version"`
	Live        []SecretVersion `json:"live_versions"`
	Stamps      secretStamps    `json:"stamps"`
}

// Secret is the secret aggregate (stream secret-<id>). Its stream version
// counts every event; its value versions (1, 2, ...) count values only.
type Secret struct {
	AggregateRoot
	state secretState
}

var secretRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[SecretCreated](r, EventSecretCreated, 1)
	Register[SecretVersionAdded](r, EventSecretVersionAdded, 1)
	Register[SecretMetadataUpdated](r, EventSecretMetadataUpdated, 1)
	Register[SecretDeleted](r, EventSecretDeleted, 1)
	Register[SecretRestored](r, EventSecretRestored, 1)
	Register[SecretVersionDestroyed](r, EventSecretVersionDestroyed, 1)
	Register[SecretRolledBack](r, EventSecretRolledBack, 1)
	return r
})

// SecretEvents is the registry of secret stream events.
func SecretEvents() *Registry { return secretRegistry() }

func (s *Secret) registry() *Registry { return secretRegistry() }
func (s *Secret) snapshotState() any  { return &s.state }

func (s *Secret) apply(payload any) {
	switch e := payload.(type) {
	case SecretCreated:
		s.state = secretState{Name: e.Name, Description: e.Description, Tags: slices.Clone(e.Tags)}
	case SecretVersionAdded:
		// AddVersion only ever records the next version, so Live stays
		// ordered.
		s.state.Current = e.Version
		s.state.Live = append(s.state.Live, SecretVersion{
			Version: e.Version, SealedValue: slices.Clone(e.SealedValue), KeyProvider: e.KeyProvider, Generated: e.Generated,
			AddedIn: s.applyingVersion(),
		})
	case SecretMetadataUpdated:
		s.state.Description, s.state.Tags = e.Description, slices.Clone(e.Tags)
	case SecretDeleted:
		s.state.Deleted = true
	case SecretRestored:
		s.state.Deleted = false
	case SecretVersionDestroyed:
		if i, ok := s.liveIndex(e.Version); ok {
			s.state.Live = slices.Delete(s.state.Live, i, i+1)
		}
	}
}

// liveIndex finds a live version in Live.
func (s *Secret) liveIndex(version int64) (int, bool) {
	return slices.BinarySearchFunc(s.state.Live, version, func(v SecretVersion, n int64) int {
		switch {
		case v.Version < n:
			return -1
		case v.Version > n:
			return 1
		}
		return 0
	})
}

// exists reports whether a value version was ever added.
func (s *Secret) exists(version int64) bool { return version >= 1 && version <= s.state.Current }

// NewSecret starts a secret; it has no value until AddVersion.
func NewSecret(id, name, description string, tags []string) (*Secret, error) {
	if err := ValidateID("secret id", id); err != nil {
		return nil, err
	}
	name, err := NormalizeSecretName(name)
	if err != nil {
		return nil, err
	}
	d, err := checkDescription(description)
	if err != nil {
		return nil, err
	}
	t, err := NormalizeSecretTags(tags)
	if err != nil {
		return nil, err
	}
	s := &Secret{}
	s.setStream(SecretAggregate, id)
	if err := record(s, SecretCreated{SecretID: id, Name: name, Description: d, Tags: t}); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadSecret folds a secret stream.
func LoadSecret(events []RecordedEvent) (*Secret, error) {
	s := &Secret{}
	if err := fold(s, SecretAggregate, events); err != nil {
		return nil, err
	}
	if s.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "secret not found")
	}
	return s, nil
}

// RestoreSecret loads a secret from a snapshot plus later events.
func RestoreSecret(snap []byte, version int64, rest []RecordedEvent) (*Secret, error) {
	s := &Secret{}
	if err := restore(s, SecretAggregate, secretSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return s, nil
}

// Snapshot serialises the secret at its loaded version.
func (s *Secret) Snapshot() ([]byte, int64, error) { return snapshot(s, secretSnapshotLayout) }

// Copy is the secret at its loaded version as an aggregate of its own, what
// RestoreSecret of its Snapshot would return without the round trip
// through JSON: the command cache hands one to every command that
// serves the secret from it. Like Snapshot it refuses unsaved changes. The
// copies share only sealed values, which no method changes in place
// (versions are handed out with a copy of theirs).
func (s *Secret) Copy() (*Secret, error) {
	if len(s.changes) > 0 {
		return nil, Errorf(EINTERNAL, "cannot copy a secret with unsaved changes")
	}
	if s.version == 0 {
		return nil, Errorf(EINTERNAL, "cannot copy an empty secret")
	}
	c := &Secret{AggregateRoot: s.AggregateRoot, state: s.state}
	c.state.Tags = slices.Clone(s.state.Tags)
	c.state.Live = slices.Clone(s.state.Live)
	return c, nil
}

// Fold applies recorded events that follow the secret's loaded version, as
// LoadSecret would have: a reader can step through a stream one event at a
// time and look at the secret between events.
func (s *Secret) Fold(events []RecordedEvent) error { return fold(s, SecretAggregate, events) }

func (s *Secret) active() error {
	if s.state.Deleted {
		return Errorf(EGONE, "secret %s is deleted; restore it first", s.state.Name)
	}
	return nil
}

// NextVersion is the value version the next AddVersion must use. The caller
// needs it before sealing, because the version is part of the AAD.
func (s *Secret) NextVersion() int64 { return s.state.Current + 1 }

// AddVersion records a sealed value as version NextVersion(), then destroys
// the oldest live versions beyond keep (reason retention) in the same
// change set. It returns the versions retention destroyed, whose data keys
// the caller deletes after the append.
func (s *Secret) AddVersion(version int64, sealed []byte, keyProvider string, generated bool, keep int) ([]int64, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	if version != s.NextVersion() {
		return nil, Errorf(EINTERNAL, "secret %s: version %d sealed, but the next version is %d", s.ID(), version, s.NextVersion())
	}
	if len(sealed) == 0 || keyProvider == "" {
		return nil, Errorf(EINTERNAL, "a secret version needs a sealed value and a key provider")
	}
	if keep < 1 || keep > secretMaxKeepVersions {
		return nil, Errorf(EINTERNAL, "versions to keep must be 1 to %d, not %d", secretMaxKeepVersions, keep)
	}
	if err := record(s, SecretVersionAdded{Version: version, SealedValue: sealed, KeyProvider: keyProvider, Generated: generated}); err != nil {
		return nil, err
	}
	var destroyed []int64
	live := s.LiveVersions()
	for i := 0; i < len(live)-keep; i++ {
		if err := record(s, SecretVersionDestroyed{Version: live[i], Reason: DestroyRetention}); err != nil {
			return nil, err
		}
		destroyed = append(destroyed, live[i])
	}
	return destroyed, nil
}

// UpdateMetadata replaces description and tags; no change records nothing.
func (s *Secret) UpdateMetadata(description string, tags []string) error {
	if err := s.active(); err != nil {
		return err
	}
	d, err := checkDescription(description)
	if err != nil {
		return err
	}
	t, err := NormalizeSecretTags(tags)
	if err != nil {
		return err
	}
	if d == s.state.Description && slices.Equal(t, s.state.Tags) {
		return nil
	}
	return record(s, SecretMetadataUpdated{Description: d, Tags: t})
}

// Delete soft-deletes the secret; deleting a deleted secret records nothing.
func (s *Secret) Delete() error {
	if s.state.Deleted {
		return nil
	}
	return record(s, SecretDeleted{})
}

// Restore undoes Delete; restoring an active secret records nothing.
func (s *Secret) Restore() error {
	if !s.state.Deleted {
		return nil
	}
	return record(s, SecretRestored{})
}

// DestroyVersion destroys one version for good. It works on deleted secrets
// too, so a value can be shredded whatever the secret's state. Destroying a
// destroyed version records nothing: the caller still deletes the data key,
// which makes a retry after a crash finish the job.
func (s *Secret) DestroyVersion(version int64) error {
	if !s.exists(version) {
		return Errorf(ENOTFOUND, "secret %s has no version %d", s.state.Name, version)
	}
	if !s.IsLive(version) {
		return nil
	}
	return record(s, SecretVersionDestroyed{Version: version, Reason: DestroyManual})
}

// Revealable returns the version a reveal may decrypt: version 0 means the
// current one. Deleted secrets and destroyed versions are gone (EGONE).
func (s *Secret) Revealable(version int64) (SecretVersion, error) {
	if err := s.active(); err != nil {
		return SecretVersion{}, err
	}
	if version == 0 {
		version = s.CurrentVersion()
	}
	if !s.exists(version) {
		return SecretVersion{}, Errorf(ENOTFOUND, "secret %s has no version %d", s.state.Name, version)
	}
	i, ok := s.liveIndex(version)
	if !ok {
		return SecretVersion{}, Errorf(EGONE, "version %d of secret %s was destroyed", version, s.state.Name)
	}
	out := s.state.Live[i]
	out.SealedValue = slices.Clone(out.SealedValue)
	return out, nil
}

// Name is the secret's hierarchical name.
func (s *Secret) Name() string { return s.state.Name }

// Description is the free-text description.
func (s *Secret) Description() string { return s.state.Description }

// Tags are the secret's tags, sorted.
func (s *Secret) Tags() []string { return slices.Clone(s.state.Tags) }

// Deleted reports whether the secret is soft-deleted.
func (s *Secret) Deleted() bool { return s.state.Deleted }

// CurrentVersion is the latest value version (0 before the first value).
// It is what If-Match compares against.
func (s *Secret) CurrentVersion() int64 { return s.state.Current }

// LiveVersions lists the versions not destroyed, oldest first.
func (s *Secret) LiveVersions() []int64 {
	var out []int64
	for _, v := range s.state.Live {
		out = append(out, v.Version)
	}
	return out
}

// IsLive reports whether a value version was added and not destroyed.
func (s *Secret) IsLive(version int64) bool {
	_, ok := s.liveIndex(version)
	return ok
}

// AddedIn is the stream version of the event that added a live version;
// false when the version is not live.
func (s *Secret) AddedIn(version int64) (int64, bool) {
	i, ok := s.liveIndex(version)
	if !ok {
		return 0, false
	}
	return s.state.Live[i].AddedIn, true
}
