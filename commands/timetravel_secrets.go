package commands

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

// Change is one field's value before and after; From is null when the
// resource did not exist before.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// HistoryEntry is one event of a secret's timeline: who, when, from where,
// and which metadata it changed. It never carries a value or a sealed
// field: changes are computed from folded metadata, not copied from the
// payload.
type HistoryEntry struct {
	Position  int64     `json:"position"`
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Actor     Actor     `json:"actor"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	RequestID string    `json:"request_id,omitempty"`
	// Changes maps a field (name, description, tags, state,
	// current_version, or versions.<n> for one version's state) to its
	// before and after. A reveal changes nothing.
	Changes map[string]Change `json:"changes"`
	// RevealedVersion is the version a SecretRevealed event disclosed.
	RevealedVersion int64 `json:"revealed_version,omitempty"`
}

// HistoryInput pages a timeline: entries after position Cursor, oldest
// first.
type HistoryInput struct {
	Cursor int64
	Limit  int
}

// HistoryPage is one page of a timeline; NextCursor is 0 on the last page.
type HistoryPage struct {
	Items      []HistoryEntry
	NextCursor int64
}

// Reveal is one disclosure of a value: who saw which version, when and from
// where.
type Reveal struct {
	Position  int64     `json:"position"`
	EventID   string    `json:"event_id"`
	Timestamp time.Time `json:"timestamp"`
	Actor     Actor     `json:"actor"`
	Version   int64     `json:"version"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// SecretDiff is what changed in a secret between two instants.
type SecretDiff struct {
	SecretID string  `json:"secret_id"`
	Name     string  `json:"name"`
	From     Instant `json:"from"`
	To       Instant `json:"to"`
	// Existed tells whether the secret existed at From; when it did not,
	// every change starts from null.
	Existed           bool                       `json:"existed_at_from"`
	Changes           map[string]Change          `json:"changes"`
	VersionsAdded     []domain.SecretVersionInfo `json:"versions_added"`
	VersionsDestroyed []domain.SecretVersionInfo `json:"versions_destroyed"`
	Reveals           []Reveal                   `json:"reveals"`
}

// SecretAt returns a secret's metadata as it was at the instant; it needs
// `read` on secrets/<name>, decided with the caller's current policies.
func (t *TimeTravel) SecretAt(ctx context.Context, caller Caller, id string, at Instant) (domain.SecretSummary, error) {
	sec, events, err := t.authorizedSecretAt(ctx, caller, id, at)
	if err != nil {
		return domain.SecretSummary{}, err
	}
	return secretSummary(sec, events), nil
}

// SecretVersionsAt lists a secret's versions as they were at the instant
// (never values); it needs `read` on secrets/<name>.
func (t *TimeTravel) SecretVersionsAt(ctx context.Context, caller Caller, id string, at Instant) ([]domain.SecretVersionInfo, error) {
	sec, events, err := t.authorizedSecretAt(ctx, caller, id, at)
	if err != nil {
		return nil, err
	}
	vs, err := secretVersions(sec, events)
	if err != nil {
		return nil, err
	}
	out := make([]domain.SecretVersionInfo, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.info)
	}
	return out, nil
}

// ListSecretsAt lists the secrets that existed at the instant and that the
// caller may `list` now, in id order, with the listing's filters applied to
// each secret as it was then. The cursor is opaque, like ListSecrets'.
func (t *TimeTravel) ListSecretsAt(ctx context.Context, caller Caller, in SecretListInput, at Instant) (SecretPage, error) {
	if err := requireCaller(caller); err != nil {
		return SecretPage{}, err
	}
	prefix, err := checkSecretFilter(in)
	if err != nil {
		return SecretPage{}, err
	}
	limit, err := pageLimit(in.Limit)
	if err != nil {
		return SecretPage{}, err
	}
	after, err := domain.DecodeStreamCursor(domain.SecretAggregate, in.Cursor)
	if err != nil {
		return SecretPage{}, err
	}
	page := SecretPage{Items: []domain.SecretSummary{}}
	next, err := t.scanAt(ctx, domain.SecretAggregate, at.Position, after, limit, func(events []domain.RecordedEvent) (bool, error) {
		sec, err := domain.LoadSecret(events)
		if err != nil {
			return false, err
		}
		switch {
		case !strings.HasPrefix(sec.Name(), prefix),
			in.Tag != "" && !slices.Contains(sec.Tags(), in.Tag),
			sec.Deleted() && !in.IncludeDeleted,
			!t.svc().allowed(caller, domain.ActionList, domain.SecretResource(sec.Name())):
			return false, nil
		}
		page.Items = append(page.Items, secretSummary(sec, events))
		return true, nil
	})
	if err != nil {
		return SecretPage{}, err
	}
	if next != "" {
		page.NextCursor = domain.EncodeCursor(next)
	}
	return page, nil
}

// SecretHistory returns the timeline of a secret up to the instant: every
// event of its stream and of its access stream (reveals), merged by
// position. It needs `read` on secrets/<name>.
//
// Reveals are read from the start of the access stream on every page,
// because that stream is addressed by version, not position; a secret
// revealed very often pages in time linear in its reveals.
func (t *TimeTravel) SecretHistory(ctx context.Context, caller Caller, id string, in HistoryInput, at Instant) (HistoryPage, error) {
	limit, err := pageLimit(in.Limit)
	if err != nil {
		return HistoryPage{}, err
	}
	if in.Cursor < 0 {
		return HistoryPage{}, domain.Errorf(domain.EINVALID, "cursor must be a position of the log")
	}
	_, events, err := t.authorizedSecretAt(ctx, caller, id, at)
	if err != nil {
		return HistoryPage{}, err
	}
	entries, err := secretTimeline(events)
	if err != nil {
		return HistoryPage{}, err
	}
	access, err := t.streamAt(ctx, domain.SecretAccessStream(id), at.Position)
	if err != nil {
		return HistoryPage{}, err
	}
	for _, ev := range access {
		if ev.Type != domain.EventSecretRevealed {
			continue
		}
		r, err := revealOf(ev)
		if err != nil {
			return HistoryPage{}, err
		}
		e := entryOf(ev)
		e.RevealedVersion = r.Version
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b HistoryEntry) int { return cmp.Compare(a.Position, b.Position) })
	page := HistoryPage{Items: []HistoryEntry{}}
	for i, e := range entries {
		if e.Position <= in.Cursor {
			continue
		}
		page.Items = append(page.Items, e)
		if len(page.Items) == limit {
			if i < len(entries)-1 {
				page.NextCursor = e.Position
			}
			break
		}
	}
	return page, nil
}

// SecretDiffInput names the two instants to compare; a zero To means the
// head of the log.
type SecretDiffInput struct {
	From AsOf
	To   AsOf
}

// SecretDiff answers what changed in a secret between two instants:
// metadata, versions added and destroyed, and who revealed which version.
// It needs `read` on secrets/<name>.
func (t *TimeTravel) SecretDiff(ctx context.Context, caller Caller, id string, in SecretDiffInput) (SecretDiff, error) {
	if err := requireCaller(caller); err != nil {
		return SecretDiff{}, err
	}
	if in.From.Time == nil && in.From.Position == nil {
		return SecretDiff{}, domain.Errorf(domain.EINVALID, "from is required")
	}
	from, err := t.resolve(ctx, in.From, "from", "from")
	if err != nil {
		return SecretDiff{}, err
	}
	var to Instant
	if in.To.Time == nil && in.To.Position == nil {
		head, err := t.svc().log.HeadPosition(ctx)
		if err != nil {
			return SecretDiff{}, err
		}
		to = Instant{Position: head}
	} else if to, err = t.resolve(ctx, in.To, "to", "to"); err != nil {
		return SecretDiff{}, err
	}
	if (from.Time != nil && to.Time != nil && from.Time.After(*to.Time)) || from.Position > to.Position {
		return SecretDiff{}, domain.Errorf(domain.EINVALID, "from must not be after to")
	}
	sec, events, err := t.authorizedSecretAt(ctx, caller, id, to)
	if err != nil {
		return SecretDiff{}, err
	}
	out := SecretDiff{
		SecretID: sec.ID(), Name: sec.Name(), From: from, To: to,
		VersionsAdded: []domain.SecretVersionInfo{}, VersionsDestroyed: []domain.SecretVersionInfo{}, Reveals: []Reveal{},
	}
	before := secretMeta{}
	if early := domain.EventsUpTo(events, from.Position); len(early) > 0 {
		old, err := domain.LoadSecret(early)
		if err != nil {
			return SecretDiff{}, err
		}
		before = metaOf(old)
		out.Existed = true
	}
	out.Changes = diffMeta(before, metaOf(sec), false)
	vs, err := secretVersions(sec, events)
	if err != nil {
		return SecretDiff{}, err
	}
	for _, v := range vs {
		if v.added > from.Position {
			out.VersionsAdded = append(out.VersionsAdded, v.info)
		}
		if v.destroyed > from.Position {
			out.VersionsDestroyed = append(out.VersionsDestroyed, v.info)
		}
	}
	access, err := t.streamAt(ctx, domain.SecretAccessStream(sec.ID()), to.Position)
	if err != nil {
		return SecretDiff{}, err
	}
	for _, ev := range access {
		if ev.Position <= from.Position || ev.Type != domain.EventSecretRevealed {
			continue
		}
		r, err := revealOf(ev)
		if err != nil {
			return SecretDiff{}, err
		}
		out.Reveals = append(out.Reveals, Reveal{
			Position: ev.Position, EventID: ev.ID, Timestamp: ev.RecordedAt, Actor: actorOf(ev.Metadata),
			Version: r.Version, IP: ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent,
		})
	}
	return out, nil
}

// authorizedSecretAt folds a secret up to the instant and checks `read` on
// its name, which never changes, with the caller's current policies.
func (t *TimeTravel) authorizedSecretAt(ctx context.Context, caller Caller, id string, at Instant) (*domain.Secret, []domain.RecordedEvent, error) {
	if err := requireCaller(caller); err != nil {
		return nil, nil, err
	}
	if !domain.IsID(id) {
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	events, err := t.streamAt(ctx, domain.StreamID(domain.SecretAggregate, id), at.Position)
	if err != nil {
		return nil, nil, err
	}
	if len(events) == 0 {
		return nil, nil, domain.Errorf(domain.ENOTFOUND, "secret not found at position %d", at.Position)
	}
	sec, err := domain.LoadSecret(events)
	if err != nil {
		return nil, nil, err
	}
	if err := t.svc().authorize(ctx, caller, domain.ActionRead, domain.SecretResource(sec.Name())); err != nil {
		return nil, nil, err
	}
	return sec, events, nil
}

// secretSummary is the read model's row rebuilt from the fold: created by
// the first event, updated by the last, as the projection records them.
func secretSummary(sec *domain.Secret, events []domain.RecordedEvent) domain.SecretSummary {
	first, last := events[0], events[len(events)-1]
	tags := sec.Tags()
	if tags == nil {
		tags = []string{}
	}
	return domain.SecretSummary{
		ID: sec.ID(), Name: sec.Name(), Description: sec.Description(), Tags: tags,
		CurrentVersion: sec.CurrentVersion(), VersionCount: int64(len(sec.LiveVersions())), State: secretState(sec),
		CreatedAt: first.RecordedAt, CreatedBy: first.Metadata.Actor,
		UpdatedAt: last.RecordedAt, UpdatedBy: last.Metadata.Actor,
	}
}

func secretState(sec *domain.Secret) string {
	if sec.Deleted() {
		return domain.SecretStateDeleted
	}
	return domain.SecretStateActive
}

// versionAt is a version's metadata plus the positions of the events that
// added and destroyed it (0: not destroyed).
type versionAt struct {
	info             domain.SecretVersionInfo
	added, destroyed int64
}

// versionEvent is the part of SecretVersionAdded and SecretVersionDestroyed
// a version listing needs. The sealed value is deliberately not a field, so
// it is never decoded here.
type versionEvent struct {
	Version   int64  `json:"version"`
	Generated bool   `json:"generated"`
	Reason    string `json:"reason"`
}

// secretVersions builds the version listing from the events; whether a
// version is live is the aggregate's answer.
func secretVersions(sec *domain.Secret, events []domain.RecordedEvent) ([]versionAt, error) {
	out := make([]versionAt, 0, sec.CurrentVersion())
	for _, ev := range events {
		if ev.Type != domain.EventSecretVersionAdded && ev.Type != domain.EventSecretVersionDestroyed {
			continue
		}
		var e versionEvent
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return nil, domain.WrapError(domain.EINTERNAL, fmt.Sprintf("decode %s at position %d", ev.Type, ev.Position), err)
		}
		if ev.Type == domain.EventSecretVersionAdded {
			out = append(out, versionAt{added: ev.Position, info: domain.SecretVersionInfo{
				Version: e.Version, State: domain.SecretVersionStateActive, Generated: e.Generated,
				CreatedAt: ev.RecordedAt, CreatedBy: ev.Metadata.Actor,
			}})
			continue
		}
		i := slices.IndexFunc(out, func(v versionAt) bool { return v.info.Version == e.Version })
		if i < 0 || out[i].destroyed != 0 {
			continue
		}
		at := ev.RecordedAt
		out[i].destroyed = ev.Position
		out[i].info.DestroyedAt, out[i].info.DestroyedBy, out[i].info.DestroyReason = &at, ev.Metadata.Actor, e.Reason
	}
	live := sec.LiveVersions()
	for i := range out {
		if !slices.Contains(live, out[i].info.Version) {
			out[i].info.State = domain.SecretVersionStateDestroyed
		}
	}
	return out, nil
}

// secretMeta is the metadata a timeline compares, taken from the folded
// aggregate.
type secretMeta struct {
	exists      bool
	name        string
	description string
	tags        []string
	state       string
	current     int64
	versions    map[int64]string
}

func metaOf(sec *domain.Secret) secretMeta {
	m := secretMeta{
		exists: true, name: sec.Name(), description: sec.Description(), tags: sec.Tags(),
		state: secretState(sec), current: sec.CurrentVersion(), versions: map[int64]string{},
	}
	if m.tags == nil {
		m.tags = []string{}
	}
	for v := int64(1); v <= m.current; v++ {
		m.versions[v] = domain.SecretVersionStateDestroyed
	}
	for _, v := range sec.LiveVersions() {
		m.versions[v] = domain.SecretVersionStateActive
	}
	return m
}

// diffMeta compares two folds; withVersions adds one versions.<n> entry per
// version whose state changed.
func diffMeta(a, b secretMeta, withVersions bool) map[string]Change {
	out := map[string]Change{}
	was := func(v any) any {
		if !a.exists {
			return nil
		}
		return v
	}
	if !a.exists || a.name != b.name {
		out["name"] = Change{From: was(a.name), To: b.name}
	}
	if !a.exists || a.description != b.description {
		out["description"] = Change{From: was(a.description), To: b.description}
	}
	if !a.exists || !slices.Equal(a.tags, b.tags) {
		out["tags"] = Change{From: was(a.tags), To: b.tags}
	}
	if !a.exists || a.state != b.state {
		out["state"] = Change{From: was(a.state), To: b.state}
	}
	if a.current != b.current {
		out["current_version"] = Change{From: was(a.current), To: b.current}
	}
	if withVersions {
		for v, state := range b.versions {
			before, ok := a.versions[v]
			switch {
			case !ok:
				out["versions."+strconv.FormatInt(v, 10)] = Change{From: nil, To: state}
			case before != state:
				out["versions."+strconv.FormatInt(v, 10)] = Change{From: before, To: state}
			}
		}
	}
	return out
}

// secretTimeline turns every secret event into an entry whose changes
// compare the aggregate before and after it. Each step restores the
// previous step's snapshot and folds one event, so the timeline costs one
// fold of the stream, not one per event.
func secretTimeline(events []domain.RecordedEvent) ([]HistoryEntry, error) {
	out := make([]HistoryEntry, 0, len(events))
	var (
		prev    secretMeta
		snap    []byte
		version int64
	)
	for _, ev := range events {
		var (
			sec *domain.Secret
			err error
		)
		if snap == nil {
			sec, err = domain.LoadSecret([]domain.RecordedEvent{ev})
		} else {
			sec, err = domain.RestoreSecret(snap, version, []domain.RecordedEvent{ev})
		}
		if err != nil {
			return nil, err
		}
		cur := metaOf(sec)
		e := entryOf(ev)
		e.Changes = diffMeta(prev, cur, true)
		out = append(out, e)
		prev = cur
		if snap, version, err = sec.Snapshot(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func entryOf(ev domain.RecordedEvent) HistoryEntry {
	return HistoryEntry{
		Position: ev.Position, EventID: ev.ID, Type: ev.Type, Timestamp: ev.RecordedAt, Actor: actorOf(ev.Metadata),
		IP: ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent, RequestID: ev.Metadata.RequestID,
		Changes: map[string]Change{},
	}
}

func revealOf(ev domain.RecordedEvent) (domain.SecretRevealed, error) {
	var r domain.SecretRevealed
	if err := json.Unmarshal(ev.Data, &r); err != nil {
		return r, domain.WrapError(domain.EINTERNAL, fmt.Sprintf("decode %s at position %d", ev.Type, ev.Position), err)
	}
	return r, nil
}
