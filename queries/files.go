package queries

import (
	"context"
	"slices"
	"strings"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// Files answers reads of files' metadata (never content: a download is a
// command, because it appends its audit record). Every read folds the
// file's stream, up to a past instant or up to the head of the log for the
// present, through the same time-travel source secrets use; listings walk
// the stream catalog.
type Files struct {
	svc     *Service
	catalog StreamCatalog
	digests FileDigests
}

// FileDigests opens the digest of a file version's plaintext, which the
// log holds sealed under the version's data key; *seal.Sealer satisfies
// it. A destroyed version has none ("").
type FileDigests interface {
	FileDigest(ctx context.Context, fileID string, v domain.FileVersion) (string, error)
}

// NewFiles returns the file queries.
func NewFiles(svc *Service, catalog StreamCatalog, digests FileDigests) (*Files, error) {
	if svc == nil || catalog == nil || digests == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "file queries need a service, the stream catalog and the file digests")
	}
	return &Files{svc: svc, catalog: catalog, digests: digests}, nil
}

// FileListInput filters a listing; Cursor is the NextCursor of the
// previous page.
type FileListInput struct {
	Prefix         string
	Tag            string
	Cursor         string
	Limit          int
	IncludeDeleted bool
}

type fileAt = fold.Folded[*domain.File]

// at resolves the instant a read answers: the one asked for, or the head.
func (q *Files) at(ctx context.Context, at At) (Instant, *Instant, error) {
	in, err := q.svc.instantOrHead(ctx, at)
	if err != nil {
		return Instant{}, nil, err
	}
	if at.Past() {
		return in, &in, nil
	}
	return in, nil, nil
}

// Get returns a file's metadata; it needs `read` on files/<name>.
func (q *Files) Get(ctx context.Context, caller domain.Caller, id string, at At) (Result[domain.FileSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[domain.FileSummary]{}, err
	}
	in, shown, err := q.at(ctx, at)
	if err != nil {
		return Result[domain.FileSummary]{}, err
	}
	f, err := q.authorized(ctx, caller, id, in)
	if err != nil {
		return Result[domain.FileSummary]{}, err
	}
	s, cur, err := q.summary(ctx, f)
	if err != nil {
		return Result[domain.FileSummary]{}, err
	}
	if cur != nil {
		if err := q.openDigests(ctx, []digestJob{{fileID: s.ID, version: *cur, into: &s.SHA256}}); err != nil {
			return Result[domain.FileSummary]{}, err
		}
	}
	return Result[domain.FileSummary]{Value: s, At: shown}, nil
}

// Versions lists a file's versions, live and destroyed; it needs `read`.
func (q *Files) Versions(ctx context.Context, caller domain.Caller, id string, at At) (Result[[]domain.FileVersionInfo], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[[]domain.FileVersionInfo]{}, err
	}
	in, shown, err := q.at(ctx, at)
	if err != nil {
		return Result[[]domain.FileVersionInfo]{}, err
	}
	f, err := q.authorized(ctx, caller, id, in)
	if err != nil {
		return Result[[]domain.FileVersionInfo]{}, err
	}
	events, err := q.svc.fold.StreamBetween(ctx, f.Agg.StreamID(), 0, f.Last.Position)
	if err != nil {
		return Result[[]domain.FileVersionInfo]{}, err
	}
	out, err := q.versionInfos(ctx, id, events)
	if err != nil {
		return Result[[]domain.FileVersionInfo]{}, err
	}
	return Result[[]domain.FileVersionInfo]{Value: out, At: shown}, nil
}

// versionInfos is the version listing of a file's events with the digests
// of the versions live at the instant.
func (q *Files) versionInfos(ctx context.Context, id string, events []domain.RecordedEvent) ([]domain.FileVersionInfo, error) {
	out, versions, err := fileVersions(events)
	if err != nil {
		return nil, err
	}
	var jobs []digestJob
	for i := range out {
		if out[i].State == domain.FileVersionStateActive {
			jobs = append(jobs, digestJob{fileID: id, version: versions[i], into: &out[i].SHA256})
		}
	}
	if err := q.openDigests(ctx, jobs); err != nil {
		return nil, err
	}
	return out, nil
}

// List returns the files the caller may `list`, in id order, with the
// filters applied to each file as it was at the instant.
func (q *Files) List(ctx context.Context, caller domain.Caller, in FileListInput, at At) (Page[domain.FileSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Page[domain.FileSummary]{}, err
	}
	prefix, err := checkSecretFilter(SecretListInput{Prefix: in.Prefix, Tag: in.Tag})
	if err != nil {
		return Page[domain.FileSummary]{}, err
	}
	limit, err := pageLimit(in.Limit, domain.FileListMaxLimit)
	if err != nil {
		return Page[domain.FileSummary]{}, err
	}
	after, err := domain.DecodeStreamCursor(domain.FileAggregate, in.Cursor)
	if err != nil {
		return Page[domain.FileSummary]{}, err
	}
	inst, shown, err := q.at(ctx, at)
	if err != nil {
		return Page[domain.FileSummary]{}, err
	}
	page := Page[domain.FileSummary]{Items: []domain.FileSummary{}, Instant: shown}
	// current[i] is page.Items[i]'s live current version, whose digest is
	// opened once the page is complete, all of them together. A digest is
	// a fingerprint of the content, so the listing shows it only to a
	// caller who may `read` the file, as a get would; `list` alone shows
	// none.
	var current []*domain.FileVersion
	next, err := q.svc.scanAt(ctx, q.catalog, domain.FileAggregate, inst.Position, after, limit, func(streamID string) (bool, error) {
		f, found, err := fold.At(ctx, q.svc.fold, streamID, inst.Position, domain.LoadFile, domain.RestoreFile)
		if err != nil || !found {
			return false, err
		}
		switch a := f.Agg; {
		case !strings.HasPrefix(a.Name(), prefix),
			in.Tag != "" && !slices.Contains(a.Tags(), in.Tag),
			a.Deleted() && !in.IncludeDeleted,
			!q.svc.access.Allowed(caller, domain.ActionList, domain.FileResource(a.Name())):
			return false, nil
		}
		s, cur, err := q.summary(ctx, f)
		if err != nil {
			return false, err
		}
		if !q.svc.access.Allowed(caller, domain.ActionRead, domain.FileResource(f.Agg.Name())) {
			cur = nil
		}
		page.Items = append(page.Items, s)
		current = append(current, cur)
		return true, nil
	})
	if err != nil {
		return Page[domain.FileSummary]{}, err
	}
	var jobs []digestJob
	for i, cur := range current {
		if cur != nil {
			jobs = append(jobs, digestJob{fileID: page.Items[i].ID, version: *cur, into: &page.Items[i].SHA256})
		}
	}
	if err := q.openDigests(ctx, jobs); err != nil {
		return Page[domain.FileSummary]{}, err
	}
	if next != "" {
		page.NextCursor = domain.EncodeCursor(next)
	}
	return page, nil
}

func (q *Files) authorized(ctx context.Context, caller domain.Caller, id string, at Instant) (fileAt, error) {
	if !domain.IsID(id) {
		return fileAt{}, domain.Errorf(domain.ENOTFOUND, "file not found")
	}
	f, found, err := fold.At(ctx, q.svc.fold, domain.StreamID(domain.FileAggregate, id), at.Position, domain.LoadFile, domain.RestoreFile)
	if err != nil {
		return fileAt{}, err
	}
	if !found {
		return fileAt{}, domain.Errorf(domain.ENOTFOUND, "file not found")
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.FileResource(f.Agg.Name())); err != nil {
		return fileAt{}, err
	}
	return f, nil
}

// summary is a file's metadata without its digest, and the live current
// version (nil when there is none) whose digest it leaves to openDigests.
func (q *Files) summary(ctx context.Context, f fileAt) (domain.FileSummary, *domain.FileVersion, error) {
	events, err := q.svc.fold.EventsAt(ctx, f.Agg.StreamID(), []domain.RecordedEvent{f.First, f.Last}, 1)
	if err != nil {
		return domain.FileSummary{}, nil, err
	}
	first, last := events[1], f.Last
	a := f.Agg
	state := domain.FileStateActive
	if a.Deleted() {
		state = domain.FileStateDeleted
	}
	tags := a.Tags()
	if tags == nil {
		tags = []string{}
	}
	s := domain.FileSummary{
		ID: a.ID(), Name: a.Name(), Description: a.Description(), Tags: tags,
		CurrentVersion: a.CurrentVersion(), VersionCount: int64(len(a.Live())), State: state,
		CreatedAt: first.RecordedAt, CreatedBy: first.Metadata.Actor,
		UpdatedAt: last.RecordedAt, UpdatedBy: last.Metadata.Actor,
	}
	if cur, ok := a.CurrentLive(); ok {
		s.Size, s.ContentType = cur.Size, cur.ContentType
		return s, &cur, nil
	}
	return s, nil, nil
}

// fileVersions builds the version listing from the stream's events,
// digests aside, and each entry's version as the aggregate recorded it.
func fileVersions(events []domain.RecordedEvent) ([]domain.FileVersionInfo, []domain.FileVersion, error) {
	f := &domain.File{}
	out := []domain.FileVersionInfo{}
	var versions []domain.FileVersion
	for _, ev := range events {
		if err := f.Fold([]domain.RecordedEvent{ev}); err != nil {
			return nil, nil, err
		}
		switch ev.Type {
		case domain.EventFileVersionAdded:
			live := f.Live()
			v := live[len(live)-1]
			out = append(out, domain.FileVersionInfo{
				Version: v.Version, State: domain.FileVersionStateActive, Size: v.Size, ContentType: v.ContentType,
				CreatedAt: ev.RecordedAt, CreatedBy: ev.Metadata.Actor,
			})
			versions = append(versions, v)
		case domain.EventFileVersionDestroyed:
			for i := range out {
				if out[i].State == domain.FileVersionStateActive && !f.IsLive(out[i].Version) {
					at := ev.RecordedAt
					out[i].State, out[i].DestroyedAt, out[i].DestroyedBy = domain.FileVersionStateDestroyed, &at, ev.Metadata.Actor
				}
			}
		}
	}
	return out, versions, nil
}
