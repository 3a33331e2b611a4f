package queries

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// downloadPage bounds one read of a file's access stream in a diff.
const downloadPage = 1000

// FileDiff is what changed in a file between two instants.
type FileDiff struct {
	FileID            string                   `json:"file_id"`
	Name              string                   `json:"name"`
	From              Instant                  `json:"from"`
	To                Instant                  `json:"to"`
	Existed           bool                     `json:"existed_at_from"`
	Changes           map[string]Change        `json:"changes"`
	VersionsAdded     []domain.FileVersionInfo `json:"versions_added"`
	VersionsDestroyed []domain.FileVersionInfo `json:"versions_destroyed"`
	Downloads         []Reveal                 `json:"downloads"`
}

// Diff answers what changed in a file between two instants: metadata,
// versions added and destroyed, and who downloaded which version. It needs
// `read` on files/<name>.
func (q *Files) Diff(ctx context.Context, caller domain.Caller, id string, in SecretDiffInput) (FileDiff, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return FileDiff{}, err
	}
	from, to, err := q.svc.span(ctx, in)
	if err != nil {
		return FileDiff{}, err
	}
	after, err := q.authorized(ctx, caller, id, to)
	if err != nil {
		return FileDiff{}, err
	}
	f := after.Agg
	before, existed, err := fold.At(ctx, q.svc.fold, f.StreamID(), from.Position, domain.LoadFile, domain.RestoreFile)
	if err != nil {
		return FileDiff{}, err
	}
	out := FileDiff{
		FileID: f.ID(), Name: f.Name(), From: from, To: to, Existed: existed,
		VersionsAdded: []domain.FileVersionInfo{}, VersionsDestroyed: []domain.FileVersionInfo{}, Downloads: []Reveal{},
	}
	was := secretMeta{}
	var earlier *domain.File
	if existed {
		earlier = before.Agg
		was = fileMetaOf(earlier)
	}
	out.Changes = diffMeta(was, fileMetaOf(f))

	events, err := q.svc.fold.StreamBetween(ctx, f.StreamID(), 0, after.Last.Position)
	if err != nil {
		return FileDiff{}, err
	}
	versions, err := q.versionInfos(ctx, f.ID(), events)
	if err != nil {
		return FileDiff{}, err
	}
	for _, v := range versions {
		addedBetween := earlier == nil || v.Version > earlier.CurrentVersion()
		if addedBetween {
			out.VersionsAdded = append(out.VersionsAdded, v)
		}
		if v.State == domain.FileVersionStateDestroyed && (addedBetween || earlier.IsLive(v.Version)) {
			out.VersionsDestroyed = append(out.VersionsDestroyed, v)
		}
	}

	for after := from.Position; after < to.Position; {
		page, err := q.svc.log.ReadStreamPositions(ctx, domain.FileAccessStream(id), after, to.Position, downloadPage)
		if err != nil {
			return FileDiff{}, err
		}
		for _, ev := range page {
			e, err := downloadEntry(ev)
			if err != nil {
				return FileDiff{}, err
			}
			out.Downloads = append(out.Downloads, Reveal{
				Position: ev.Position, EventID: ev.ID, Timestamp: ev.RecordedAt, Actor: e.Actor,
				Version: e.RevealedVersion, IP: ev.Metadata.ClientIP, UserAgent: ev.Metadata.UserAgent,
			})
		}
		if len(page) < downloadPage {
			break
		}
		after = page[len(page)-1].Position
	}
	return out, nil
}
