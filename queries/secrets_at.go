package queries

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// Change is one field's value before and after; From is null when the
// resource did not exist before.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// secretAt is a secret folded as of an instant.
type secretAt = fold.Folded[*domain.Secret]

// getAt is a secret's metadata as it was at the instant.
func (q *Secrets) getAt(ctx context.Context, caller domain.Caller, id string, at Instant) (domain.SecretSummary, error) {
	sec, err := q.authorizedAt(ctx, caller, id, at)
	if err != nil {
		return domain.SecretSummary{}, err
	}
	// The aggregate carries the stamps the projection records, so the past
	// costs no read beyond the fold and shows exactly what the present shows.
	return sec.Agg.Summary(), nil
}

// versionsAt lists a secret's versions as they were at the instant. Unlike
// every other read as of an instant it reads the whole stream up to it,
// because it shows who added and destroyed each version.
func (q *Secrets) versionsAt(ctx context.Context, caller domain.Caller, id string, at Instant) ([]domain.SecretVersionInfo, error) {
	sec, err := q.authorizedAt(ctx, caller, id, at)
	if err != nil {
		return nil, err
	}
	events, err := q.svc.fold.StreamBetween(ctx, sec.Agg.StreamID(), 0, sec.Last.Position)
	if err != nil {
		return nil, err
	}
	return secretVersions(sec.Agg, events)
}

// listAt lists the secrets that existed at the instant and that the caller
// may `list` now, in id order, with the listing's filters applied to each
// secret as it was then.
func (q *Secrets) listAt(ctx context.Context, caller domain.Caller, in SecretListInput, prefix string, limit int, at Instant) (Page[domain.SecretSummary], error) {
	after, err := domain.DecodeStreamCursor(domain.SecretAggregate, in.Cursor)
	if err != nil {
		return Page[domain.SecretSummary]{}, err
	}
	page := Page[domain.SecretSummary]{Items: []domain.SecretSummary{}}
	next, err := q.svc.scanAt(ctx, q.catalog, domain.SecretAggregate, at.Position, after, limit, func(streamID string) (bool, error) {
		sec, found, err := fold.At(ctx, q.svc.fold, streamID, at.Position, domain.LoadSecret, domain.RestoreSecret)
		if err != nil || !found {
			return false, err
		}
		switch s := sec.Agg; {
		case !strings.HasPrefix(s.Name(), prefix),
			in.Tag != "" && !slices.Contains(s.Tags(), in.Tag),
			s.Deleted() && !in.IncludeDeleted,
			!q.svc.access.Allowed(caller, domain.ActionList, domain.SecretResource(s.Name())):
			return false, nil
		}
		page.Items = append(page.Items, sec.Agg.Summary())
		return true, nil
	})
	if err != nil {
		return Page[domain.SecretSummary]{}, err
	}
	if next != "" {
		page.NextCursor = domain.EncodeCursor(next)
	}
	return page, nil
}

// authorizedAt folds a secret up to the instant and checks `read` on its
// name, which never changes, with the caller's current policies.
func (q *Secrets) authorizedAt(ctx context.Context, caller domain.Caller, id string, at Instant) (secretAt, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return secretAt{}, err
	}
	if !domain.IsID(id) {
		return secretAt{}, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	sec, found, err := fold.At(ctx, q.svc.fold, domain.StreamID(domain.SecretAggregate, id), at.Position, domain.LoadSecret, domain.RestoreSecret)
	if err != nil {
		return secretAt{}, err
	}
	if !found {
		return secretAt{}, domain.Errorf(domain.ENOTFOUND, "secret not found at position %d", at.Position)
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.SecretResource(sec.Agg.Name())); err != nil {
		return secretAt{}, err
	}
	return sec, nil
}

// versionEvent is the part of SecretVersionAdded and SecretVersionDestroyed
// a version listing needs. The sealed value is deliberately not a field, so
// it is never decoded here.
type versionEvent struct {
	Version   int64  `json:"version"`
	Generated bool   `json:"generated"`
	Reason    string `json:"reason"`
}

func decodeVersionEvent(ev domain.RecordedEvent) (versionEvent, error) {
	var e versionEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		return e, domain.WrapError(domain.EINTERNAL, fmt.Sprintf("decode %s at position %d", ev.Type, ev.Position), err)
	}
	return e, nil
}

// addedVersion is a version's metadata as the event that added it tells.
func addedVersion(ev domain.RecordedEvent, e versionEvent) domain.SecretVersionInfo {
	return domain.SecretVersionInfo{
		Version: e.Version, State: domain.SecretVersionStateActive, Generated: e.Generated,
		CreatedAt: ev.RecordedAt, CreatedBy: ev.Metadata.Actor,
	}
}

// markDestroyed records the first destruction of a version in its
// metadata.
func markDestroyed(info *domain.SecretVersionInfo, ev domain.RecordedEvent, e versionEvent) {
	at := ev.RecordedAt
	info.DestroyedAt, info.DestroyedBy, info.DestroyReason = &at, ev.Metadata.Actor, e.Reason
}

// secretVersions builds the version listing from the events; whether a
// version is live is the aggregate's answer.
func secretVersions(sec *domain.Secret, events []domain.RecordedEvent) ([]domain.SecretVersionInfo, error) {
	out := make([]domain.SecretVersionInfo, 0, sec.CurrentVersion())
	destroyed := make([]bool, 0, sec.CurrentVersion())
	for _, ev := range events {
		if ev.Type != domain.EventSecretVersionAdded && ev.Type != domain.EventSecretVersionDestroyed {
			continue
		}
		e, err := decodeVersionEvent(ev)
		if err != nil {
			return nil, err
		}
		if ev.Type == domain.EventSecretVersionAdded {
			out, destroyed = append(out, addedVersion(ev, e)), append(destroyed, false)
			continue
		}
		// Versions are added in order from 1, so version n sits at n-1;
		// only its first destruction counts.
		i := e.Version - 1
		if i < 0 || i >= int64(len(out)) || out[i].Version != e.Version || destroyed[i] {
			continue
		}
		destroyed[i] = true
		markDestroyed(&out[i], ev, e)
	}
	for i := range out {
		if !sec.IsLive(out[i].Version) {
			out[i].State = domain.SecretVersionStateDestroyed
		}
	}
	return out, nil
}

// secretMeta is the metadata a timeline compares, taken from the folded
// aggregate. The state of each version is not in it: one event changes at
// most the version it names, which versionState answers in the aggregate.
type secretMeta struct {
	exists      bool
	name        string
	description string
	tags        []string
	state       string
	current     int64
}

func metaOf(sec *domain.Secret) secretMeta {
	row := sec.Summary()
	return secretMeta{
		exists: true, name: row.Name, description: row.Description, tags: row.Tags,
		state: row.State, current: row.CurrentVersion,
	}
}

// versionState is a version's state in a folded secret ("" before it was
// added).
func versionState(sec *domain.Secret, version int64) string {
	switch {
	case version < 1 || version > sec.CurrentVersion():
		return ""
	case sec.IsLive(version):
		return domain.SecretVersionStateActive
	}
	return domain.SecretVersionStateDestroyed
}

// versionChangeKey names one version's state in a change set.
func versionChangeKey(version int64) string { return "versions." + strconv.FormatInt(version, 10) }

// diffMeta compares two folds' metadata.
func diffMeta(a, b secretMeta) map[string]Change {
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
	return out
}
