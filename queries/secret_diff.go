package queries

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

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

// SecretDiffInput names the two instants to compare (a time or a position
// each); a zero To means the head of the log.
type SecretDiffInput struct {
	From At
	To   At
}

// Diff answers what changed in a secret between two instants:
// metadata, versions added and destroyed, and who revealed which version.
// It needs `read` on secrets/<name>.
//
// It costs the secret's fold at each instant (each from its nearest
// snapshot) plus the events between them; what happened before From is read
// only for the versions destroyed in between, one event each.
func (q *Secrets) Diff(ctx context.Context, caller domain.Caller, id string, in SecretDiffInput) (SecretDiff, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return SecretDiff{}, err
	}
	from, to, err := q.svc.span(ctx, in)
	if err != nil {
		return SecretDiff{}, err
	}
	after, err := q.authorizedAt(ctx, caller, id, to)
	if err != nil {
		return SecretDiff{}, err
	}
	sec := after.Agg
	before, existed, err := fold.At(ctx, q.svc.fold, sec.StreamID(), from.Position, domain.LoadSecret, domain.RestoreSecret)
	if err != nil {
		return SecretDiff{}, err
	}
	out := SecretDiff{
		SecretID: sec.ID(), Name: sec.Name(), From: from, To: to, Existed: existed,
		VersionsAdded: []domain.SecretVersionInfo{}, VersionsDestroyed: []domain.SecretVersionInfo{}, Reveals: []Reveal{},
	}
	was := secretMeta{}
	if existed {
		was = metaOf(before.Agg)
	}
	out.Changes = diffMeta(was, metaOf(sec))

	between, err := q.svc.fold.StreamBetween(ctx, sec.StreamID(), from.Position, to.Position)
	if err != nil {
		return SecretDiff{}, err
	}
	var earlier *domain.Secret
	if existed {
		earlier = before.Agg
	}
	out.VersionsAdded, out.VersionsDestroyed, err = q.versionsBetween(ctx, earlier, sec, between)
	if err != nil {
		return SecretDiff{}, err
	}

	reveals, err := q.revealsBetween(ctx, sec.ID(), from.Position, to.Position, 0)
	if err != nil {
		return SecretDiff{}, err
	}
	for _, ev := range reveals {
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

// versionsBetween lists the versions the events between two folds added and
// destroyed, in version order, each with its metadata as of the later fold
// (a version added and destroyed in between is in both lists). earlier is
// nil when the secret did not exist yet. The event that added a version
// destroyed in between but added before it is fetched by the stream version
// the earlier fold remembers for it.
func (q *Secrets) versionsBetween(ctx context.Context, earlier, later *domain.Secret, between []domain.RecordedEvent) (added, destroyed []domain.SecretVersionInfo, err error) {
	added, destroyed = []domain.SecretVersionInfo{}, []domain.SecretVersionInfo{}
	addedAt := map[int64]int{} // version → index in added
	type destruction struct {
		ev domain.RecordedEvent
		e  versionEvent
	}
	var before []destruction // of versions added before the earlier fold
	seen := map[int64]bool{}
	for _, ev := range between {
		if ev.Type != domain.EventSecretVersionAdded && ev.Type != domain.EventSecretVersionDestroyed {
			continue
		}
		e, err := decodeVersionEvent(ev)
		if err != nil {
			return nil, nil, err
		}
		if ev.Type == domain.EventSecretVersionAdded {
			addedAt[e.Version] = len(added)
			added = append(added, addedVersion(ev, e))
			continue
		}
		// Only a version's first destruction counts, as in the listing.
		if seen[e.Version] {
			continue
		}
		seen[e.Version] = true
		if i, ok := addedAt[e.Version]; ok {
			markDestroyed(&added[i], ev, e)
			destroyed = append(destroyed, added[i])
			continue
		}
		if earlier != nil && earlier.IsLive(e.Version) {
			before = append(before, destruction{ev, e})
		}
	}
	if len(before) > 0 {
		versions := make([]int64, 0, len(before))
		for _, d := range before {
			v, _ := earlier.AddedIn(d.e.Version)
			versions = append(versions, v)
		}
		events, err := q.svc.fold.EventsAt(ctx, earlier.StreamID(), nil, versions...)
		if err != nil {
			return nil, nil, err
		}
		for i, d := range before {
			ev := events[versions[i]]
			e, err := decodeVersionEvent(ev)
			if err != nil {
				return nil, nil, err
			}
			if ev.Type != domain.EventSecretVersionAdded || e.Version != d.e.Version {
				return nil, nil, domain.Errorf(domain.EINTERNAL, "%s: event %d does not add version %d", earlier.StreamID(), versions[i], d.e.Version)
			}
			info := addedVersion(ev, e)
			markDestroyed(&info, d.ev, d.e)
			destroyed = append(destroyed, info)
		}
	}
	for _, list := range [][]domain.SecretVersionInfo{added, destroyed} {
		for i := range list {
			if !later.IsLive(list[i].Version) {
				list[i].State = domain.SecretVersionStateDestroyed
			}
		}
	}
	slices.SortFunc(destroyed, func(a, b domain.SecretVersionInfo) int { return cmp.Compare(a.Version, b.Version) })
	return added, destroyed, nil
}

// span resolves the two instants of a diff (of a secret or a file): from
// is required, to defaults to the head of the log, and from may not be
// after to.
func (s *Service) span(ctx context.Context, in SecretDiffInput) (from, to Instant, err error) {
	if !in.From.Past() {
		return from, to, domain.Errorf(domain.EINVALID, "from is required")
	}
	if from, err = s.resolve(ctx, in.From, "from", "from"); err != nil {
		return from, to, err
	}
	if !in.To.Past() {
		if to, err = s.instantOrHead(ctx, in.To); err != nil {
			return from, to, err
		}
	} else if to, err = s.resolve(ctx, in.To, "to", "to"); err != nil {
		return from, to, err
	}
	if (from.Time != nil && to.Time != nil && from.Time.After(*to.Time)) || from.Position > to.Position {
		return from, to, domain.Errorf(domain.EINVALID, "from must not be after to")
	}
	return from, to, nil
}
