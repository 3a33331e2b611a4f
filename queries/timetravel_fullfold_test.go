package queries_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/queries"
)

// fullFold answers every time-travel question about one secret the
// straightforward way: by folding every prefix of its whole stream, and
// reading the whole access stream. It is the oracle the paged, snapshotted
// reads are compared with.
type fullFold struct {
	secret []domain.RecordedEvent
	access []domain.RecordedEvent
	// states[i] is the fold of the stream's first i events; entries is the
	// whole timeline. Both are computed once: the oracle is slow on purpose.
	states  []refState
	entries []queries.HistoryEntry
}

func newFullFold(t *testing.T, store *eventstore.Store, id string) fullFold {
	t.Helper()
	secret, access := readSecretStreams(t, store, id)
	f := fullFold{secret: secret, access: access}
	for i := range len(secret) + 1 {
		f.states = append(f.states, foldPrefix(t, secret[:i]))
	}
	for i, ev := range secret {
		e := refEntry(ev)
		e.Changes = refChanges(f.states[i], f.states[i+1], true)
		f.entries = append(f.entries, e)
	}
	for _, ev := range access {
		if ev.Type == domain.EventSecretRevealed {
			e := refEntry(ev)
			e.RevealedVersion = revealedVersion(t, ev)
			f.entries = append(f.entries, e)
		}
	}
	slices.SortFunc(f.entries, func(a, b queries.HistoryEntry) int { return cmp.Compare(a.Position, b.Position) })
	return f
}

// readSecretStreams reads a secret's stream and access stream whole.
func readSecretStreams(t *testing.T, store *eventstore.Store, id string) (secret, access []domain.RecordedEvent) {
	t.Helper()
	ctx := context.Background()
	secret, err := store.ReadStream(ctx, domain.StreamID(domain.SecretAggregate, id), 0, 0)
	require.NoError(t, err)
	access, err = store.ReadStream(ctx, domain.SecretAccessStream(id), 0, 0)
	require.NoError(t, err)
	return secret, access
}

// stateAt is the fold of the stream up to pos.
func (f fullFold) stateAt(pos int64) refState { return f.states[len(upTo(f.secret, pos))] }

// refState is the secret after a prefix of its stream: metadata from the
// domain's fold, each version's state straight from the events.
type refState struct {
	exists                  bool
	name, description, live string
	tags                    []string
	current                 int64
	versions                map[int64]string
}

func foldPrefix(t *testing.T, events []domain.RecordedEvent) refState {
	t.Helper()
	if len(events) == 0 {
		return refState{}
	}
	sec, err := domain.LoadSecret(events)
	require.NoError(t, err)
	st := refState{exists: true, name: sec.Name(), description: sec.Description(), tags: sec.Tags(), live: domain.SecretStateActive, versions: map[int64]string{}}
	if st.tags == nil {
		st.tags = []string{}
	}
	if sec.Deleted() {
		st.live = domain.SecretStateDeleted
	}
	for _, ev := range events {
		var e struct {
			Version int64 `json:"version"`
		}
		switch ev.Type {
		case domain.EventSecretVersionAdded:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			st.versions[e.Version] = domain.SecretVersionStateActive
			st.current = max(st.current, e.Version)
		case domain.EventSecretVersionDestroyed:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			st.versions[e.Version] = domain.SecretVersionStateDestroyed
		}
	}
	return st
}

func refChanges(a, b refState, withVersions bool) map[string]queries.Change {
	out := map[string]queries.Change{}
	was := func(v any) any {
		if !a.exists {
			return nil
		}
		return v
	}
	if !a.exists || a.name != b.name {
		out["name"] = queries.Change{From: was(a.name), To: b.name}
	}
	if !a.exists || a.description != b.description {
		out["description"] = queries.Change{From: was(a.description), To: b.description}
	}
	if !a.exists || !slices.Equal(a.tags, b.tags) {
		out["tags"] = queries.Change{From: was(a.tags), To: b.tags}
	}
	if !a.exists || a.live != b.live {
		out["state"] = queries.Change{From: was(a.live), To: b.live}
	}
	if a.current != b.current {
		out["current_version"] = queries.Change{From: was(a.current), To: b.current}
	}
	if withVersions {
		for v, state := range b.versions {
			if before, ok := a.versions[v]; !ok || before != state {
				var from any
				if ok {
					from = before
				}
				out[fmt.Sprintf("versions.%d", v)] = queries.Change{From: from, To: state}
			}
		}
	}
	return out
}

func upTo(events []domain.RecordedEvent, pos int64) []domain.RecordedEvent {
	return domain.EventsUpTo(events, pos)
}

func refEntry(ev domain.RecordedEvent) queries.HistoryEntry {
	return queries.HistoryEntry{
		Position: ev.Position, EventID: ev.ID, Type: ev.Type, Timestamp: ev.RecordedAt,
		Actor: queries.Actor{ID: ev.Metadata.Actor, Name: ev.Metadata.ActorName},
		IP:    ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent, RequestID: ev.Metadata.RequestID,
		Changes: map[string]queries.Change{},
	}
}

func revealedVersion(t *testing.T, ev domain.RecordedEvent) int64 {
	var r domain.SecretRevealed
	require.NoError(t, json.Unmarshal(ev.Data, &r))
	return r.Version
}

// timeline is every entry up to pos, each change computed by comparing the
// folds of the stream before and after its event.
func (f fullFold) timeline(pos int64) []queries.HistoryEntry {
	var out []queries.HistoryEntry
	for _, e := range f.entries {
		if e.Position <= pos {
			out = append(out, e)
		}
	}
	return out
}

func (f fullFold) page(t *testing.T, cursor int64, limit int, pos int64) queries.HistoryPage {
	page := queries.HistoryPage{
		SecretID: strings.TrimPrefix(f.secret[0].StreamID, domain.SecretAggregate+"-"),
		Items:    []queries.HistoryEntry{}, Instant: queries.Instant{Position: pos},
	}
	all := f.timeline(pos)
	for i, e := range all {
		if e.Position <= cursor {
			continue
		}
		page.Items = append(page.Items, e)
		if len(page.Items) == limit {
			if i < len(all)-1 {
				page.NextCursor = domain.EncodePositionCursor(e.Position)
			}
			break
		}
	}
	return page
}

// versions is the version listing at pos, from the events alone.
func (f fullFold) versions(t *testing.T, pos int64) (infos []domain.SecretVersionInfo, added, destroyed map[int64]int64) {
	added, destroyed = map[int64]int64{}, map[int64]int64{}
	infos = []domain.SecretVersionInfo{}
	for _, ev := range upTo(f.secret, pos) {
		var e struct {
			Version   int64  `json:"version"`
			Generated bool   `json:"generated"`
			Reason    string `json:"reason"`
		}
		switch ev.Type {
		case domain.EventSecretVersionAdded:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			added[e.Version] = ev.Position
			infos = append(infos, domain.SecretVersionInfo{Version: e.Version, State: domain.SecretVersionStateActive, Generated: e.Generated,
				CreatedAt: ev.RecordedAt, CreatedBy: ev.Metadata.Actor})
		case domain.EventSecretVersionDestroyed:
			require.NoError(t, json.Unmarshal(ev.Data, &e))
			if _, done := destroyed[e.Version]; done {
				continue
			}
			destroyed[e.Version] = ev.Position
			at := ev.RecordedAt
			info := &infos[e.Version-1]
			info.State, info.DestroyedAt, info.DestroyedBy, info.DestroyReason = domain.SecretVersionStateDestroyed, &at, ev.Metadata.Actor, e.Reason
		}
	}
	return infos, added, destroyed
}

func (f fullFold) summary(t *testing.T, pos int64) (domain.SecretSummary, bool) {
	events := upTo(f.secret, pos)
	if len(events) == 0 {
		return domain.SecretSummary{}, false
	}
	st := f.stateAt(pos)
	live := int64(0)
	for _, s := range st.versions {
		if s == domain.SecretVersionStateActive {
			live++
		}
	}
	first, last := events[0], events[len(events)-1]
	return domain.SecretSummary{
		ID: strings.TrimPrefix(first.StreamID, domain.SecretAggregate+"-"), Name: st.name, Description: st.description, Tags: st.tags,
		CurrentVersion: st.current, VersionCount: live, State: st.live,
		CreatedAt: first.RecordedAt, CreatedBy: first.Metadata.Actor, UpdatedAt: last.RecordedAt, UpdatedBy: last.Metadata.Actor,
	}, true
}

func (f fullFold) diff(t *testing.T, from, to int64) queries.SecretDiff {
	before, after := f.stateAt(from), f.stateAt(to)
	out := queries.SecretDiff{
		SecretID: strings.TrimPrefix(f.secret[0].StreamID, domain.SecretAggregate+"-"), Name: after.name,
		From: queries.Instant{Position: from}, To: queries.Instant{Position: to}, Existed: before.exists,
		Changes:       refChanges(before, after, false),
		VersionsAdded: []domain.SecretVersionInfo{}, VersionsDestroyed: []domain.SecretVersionInfo{}, Reveals: []queries.Reveal{},
	}
	infos, added, destroyed := f.versions(t, to)
	for _, info := range infos {
		if added[info.Version] > from {
			out.VersionsAdded = append(out.VersionsAdded, info)
		}
		if d, ok := destroyed[info.Version]; ok && d > from {
			out.VersionsDestroyed = append(out.VersionsDestroyed, info)
		}
	}
	for _, ev := range upTo(f.access, to) {
		if ev.Position > from && ev.Type == domain.EventSecretRevealed {
			out.Reveals = append(out.Reveals, queries.Reveal{
				Position: ev.Position, EventID: ev.ID, Timestamp: ev.RecordedAt,
				Actor:   queries.Actor{ID: ev.Metadata.Actor, Name: ev.Metadata.ActorName},
				Version: revealedVersion(t, ev), IP: ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent,
			})
		}
	}
	return out
}
