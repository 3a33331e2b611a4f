package queries

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// FileHistoryPage is one page of a file's timeline, up to the instant it
// was read at; NextCursor is empty on the last page. Downloads appear with
// the version they sent as revealed_version.
type FileHistoryPage struct {
	FileID     string         `json:"file_id"`
	Items      []HistoryEntry `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
	Instant
}

// History returns the timeline of a file up to the instant (the head of the
// log for the present): the events of its stream and its downloads, merged
// by position, each change computed from the folded metadata as for
// secrets (the same fields, diffMeta). It needs `read` on files/<name>.
func (q *Files) History(ctx context.Context, caller domain.Caller, id string, in HistoryInput, asOf At) (FileHistoryPage, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return FileHistoryPage{}, err
	}
	at, err := q.svc.instantOrHead(ctx, asOf)
	if err != nil {
		return FileHistoryPage{}, err
	}
	limit, err := pageLimit(in.Limit, domain.FileListMaxLimit)
	if err != nil {
		return FileHistoryPage{}, err
	}
	cursor, err := domain.DecodePositionCursor(in.Cursor)
	if err != nil {
		return FileHistoryPage{}, err
	}
	if !domain.IsID(id) {
		return FileHistoryPage{}, domain.Errorf(domain.ENOTFOUND, "file not found")
	}
	streamID := domain.StreamID(domain.FileAggregate, id)
	from := min(cursor, at.Position)
	base, found, err := fold.At(ctx, q.svc.fold, streamID, from, domain.LoadFile, domain.RestoreFile)
	if err != nil {
		return FileHistoryPage{}, err
	}
	var f *domain.File
	if found {
		f = base.Agg
	}
	changes, err := q.svc.log.ReadStreamPositions(ctx, streamID, from, at.Position, limit+1)
	if err != nil {
		return FileHistoryPage{}, err
	}
	if f == nil && len(changes) == 0 {
		return FileHistoryPage{}, domain.Errorf(domain.ENOTFOUND, "file not found at position %d", at.Position)
	}
	name := ""
	if f != nil {
		name = f.Name()
	} else {
		created, err := domain.LoadFile(changes[:1])
		if err != nil {
			return FileHistoryPage{}, err
		}
		name = created.Name()
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.FileResource(name)); err != nil {
		return FileHistoryPage{}, err
	}
	downloads, err := q.svc.log.ReadStreamPositions(ctx, domain.FileAccessStream(id), cursor, at.Position, limit+1)
	if err != nil {
		return FileHistoryPage{}, err
	}

	page := FileHistoryPage{FileID: id, Items: make([]HistoryEntry, 0, min(limit, len(changes)+len(downloads))), Instant: at}
	for len(page.Items) < limit && (len(changes) > 0 || len(downloads) > 0) {
		if len(downloads) > 0 && (len(changes) == 0 || downloads[0].Position < changes[0].Position) {
			e, err := downloadEntry(downloads[0])
			if err != nil {
				return FileHistoryPage{}, err
			}
			page.Items, downloads = append(page.Items, e), downloads[1:]
			continue
		}
		e := entryOf(changes[0])
		if f, e.Changes, err = stepFile(f, changes[0]); err != nil {
			return FileHistoryPage{}, err
		}
		page.Items, changes = append(page.Items, e), changes[1:]
	}
	if len(page.Items) == limit && (len(changes) > 0 || len(downloads) > 0) {
		page.NextCursor = domain.EncodePositionCursor(page.Items[limit-1].Position)
	}
	return page, nil
}

// fileMetaOf is a file's metadata in the shape secret diffs compare.
func fileMetaOf(f *domain.File) secretMeta {
	m := secretMeta{exists: true, name: f.Name(), description: f.Description(), tags: f.Tags(), current: f.CurrentVersion(), state: domain.FileStateActive}
	if f.Deleted() {
		m.state = domain.FileStateDeleted
	}
	if m.tags == nil {
		m.tags = []string{}
	}
	return m
}

func fileVersionState(f *domain.File, version int64) string {
	switch {
	case f == nil || version < 1 || version > f.CurrentVersion():
		return ""
	case f.IsLive(version):
		return domain.FileVersionStateActive
	}
	return domain.FileVersionStateDestroyed
}

// stepFile folds one event into a file (nil before its first event) and
// returns what it changed.
func stepFile(f *domain.File, ev domain.RecordedEvent) (*domain.File, map[string]Change, error) {
	before := secretMeta{}
	if f != nil {
		before = fileMetaOf(f)
	}
	var touched int64
	if ev.Type == domain.EventFileVersionAdded || ev.Type == domain.EventFileVersionDestroyed {
		e, err := decodeVersionEvent(ev)
		if err != nil {
			return nil, nil, err
		}
		touched = e.Version
	}
	stateBefore := fileVersionState(f, touched)
	var err error
	if f == nil {
		f, err = domain.LoadFile([]domain.RecordedEvent{ev})
	} else {
		err = f.Fold([]domain.RecordedEvent{ev})
	}
	if err != nil {
		return nil, nil, err
	}
	changes := diffMeta(before, fileMetaOf(f))
	if stateAfter := fileVersionState(f, touched); stateAfter != stateBefore && stateAfter != "" {
		var from any
		if stateBefore != "" {
			from = stateBefore
		}
		changes[versionChangeKey(touched)] = Change{From: from, To: stateAfter}
	}
	return f, changes, nil
}

func downloadEntry(ev domain.RecordedEvent) (HistoryEntry, error) {
	var d domain.FileDownloaded
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return HistoryEntry{}, domain.WrapError(domain.EINTERNAL, fmt.Sprintf("decode %s at position %d", ev.Type, ev.Position), err)
	}
	e := entryOf(ev)
	e.RevealedVersion = d.Version
	return e, nil
}
