package queries

import (
	"context"

	"github.com/securevault/vault/domain"
)

// SecretReader is the secrets read model; *projections/secrets.Query
// satisfies it.
type SecretReader interface {
	Get(ctx context.Context, id string) (domain.SecretSummary, error)
	List(ctx context.Context, f domain.SecretFilter) ([]domain.SecretSummary, error)
	Versions(ctx context.Context, id string) ([]domain.SecretVersionInfo, error)
}

// Secrets answers reads of secrets' metadata (never a value: a reveal is a
// command, because it appends its audit record), now or as of an instant.
type Secrets struct {
	svc     *Service
	reader  SecretReader
	catalog StreamCatalog
	// memory answers a secret's metadata without reading the read model
	// when its row is proven current (see summaries).
	memory *summaries
}

// NewSecrets returns the secret queries. Without a catalog, listings as of
// an instant answer EUNAVAILABLE. With positions (the replica's identity
// view, which also follows secrets' streams) a secret's metadata read
// again while its stream has not moved is answered from memory; without
// them, or without a waiter (then nothing tells what the read model
// applied), every read reads the read model.
func NewSecrets(svc *Service, reader SecretReader, catalog StreamCatalog, positions StreamPositions) (*Secrets, error) {
	if svc == nil || reader == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "secret queries need a service and a read model")
	}
	return &Secrets{svc: svc, reader: reader, catalog: catalog, memory: newSummaries(positions)}, nil
}

// SecretListInput filters a listing. Cursor is opaque: the NextCursor of the
// previous page of the same kind of listing (now, or as of an instant).
type SecretListInput struct {
	Prefix         string
	Tag            string
	Cursor         string
	Limit          int
	IncludeDeleted bool
}

// Get returns a secret's metadata; it needs `read` on secrets/<name>. As of
// an instant the name is the one it had then (names never change), decided
// with the caller's current policies.
func (q *Secrets) Get(ctx context.Context, caller domain.Caller, id string, at At) (Result[domain.SecretSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[domain.SecretSummary]{}, err
	}
	v, in, err := source(ctx, q.svc, caller, at, domain.ReadModelSecrets,
		func(applied int64) (domain.SecretSummary, error) { return q.get(ctx, caller, id, applied) },
		func(in Instant) (domain.SecretSummary, error) { return q.getAt(ctx, caller, id, in) })
	return Result[domain.SecretSummary]{Value: v, At: in}, err
}

// get reads a secret's row once source waited until the read model had
// applied position applied (0: not known), from memory when it is proven
// current, and authorizes the caller on its name.
func (q *Secrets) get(ctx context.Context, caller domain.Caller, id string, applied int64) (domain.SecretSummary, error) {
	row, current := q.memory.current(id, applied)
	if !current {
		var err error
		if row, err = q.reader.Get(ctx, id); err != nil {
			return domain.SecretSummary{}, err
		}
		q.memory.keep(row, applied)
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.SecretResource(row.Name)); err != nil {
		return domain.SecretSummary{}, err
	}
	return row, nil
}

// Versions lists a secret's versions (never values); it needs `read` on
// secrets/<name>.
func (q *Secrets) Versions(ctx context.Context, caller domain.Caller, id string, at At) (Result[[]domain.SecretVersionInfo], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Result[[]domain.SecretVersionInfo]{}, err
	}
	v, in, err := source(ctx, q.svc, caller, at, domain.ReadModelSecrets,
		func(applied int64) ([]domain.SecretVersionInfo, error) {
			if _, err := q.get(ctx, caller, id, applied); err != nil {
				return nil, err
			}
			return q.reader.Versions(ctx, id)
		},
		func(in Instant) ([]domain.SecretVersionInfo, error) { return q.versionsAt(ctx, caller, id, in) })
	if v == nil && err == nil {
		v = []domain.SecretVersionInfo{}
	}
	return Result[[]domain.SecretVersionInfo]{Value: v, At: in}, err
}

// List returns the secrets the caller may `list`: now in name order, as of
// an instant in id order with the filters applied to each secret as it was
// then. Secrets it may not list are skipped silently: hiding them is not an
// attempt worth an audit record.
func (q *Secrets) List(ctx context.Context, caller domain.Caller, in SecretListInput, at At) (Page[domain.SecretSummary], error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return Page[domain.SecretSummary]{}, err
	}
	prefix, err := checkSecretFilter(in)
	if err != nil {
		return Page[domain.SecretSummary]{}, err
	}
	limit, err := pageLimit(in.Limit, domain.SecretListMaxLimit)
	if err != nil {
		return Page[domain.SecretSummary]{}, err
	}
	page, inst, err := source(ctx, q.svc, caller, at, domain.ReadModelSecrets,
		func(int64) (Page[domain.SecretSummary], error) { return q.list(ctx, caller, in, prefix, limit) },
		func(at Instant) (Page[domain.SecretSummary], error) {
			return q.listAt(ctx, caller, in, prefix, limit, at)
		})
	page.Instant = inst
	return page, err
}

func (q *Secrets) list(ctx context.Context, caller domain.Caller, in SecretListInput, prefix string, limit int) (Page[domain.SecretSummary], error) {
	after, err := domain.DecodeSecretNameCursor(in.Cursor)
	if err != nil {
		return Page[domain.SecretSummary]{}, err
	}
	page := Page[domain.SecretSummary]{Items: []domain.SecretSummary{}}
	for range listScanPages {
		rows, err := q.reader.List(ctx, domain.SecretFilter{
			Prefix: prefix, Tag: in.Tag, After: after, Limit: limit, IncludeDeleted: in.IncludeDeleted,
		})
		if err != nil {
			return Page[domain.SecretSummary]{}, err
		}
		for i, row := range rows {
			after = row.Name
			if !q.svc.access.Allowed(caller, domain.ActionList, domain.SecretResource(row.Name)) {
				continue
			}
			page.Items = append(page.Items, row)
			if len(page.Items) == limit {
				if i < len(rows)-1 || len(rows) == limit {
					page.NextCursor = domain.EncodeCursor(after)
				}
				return page, nil
			}
		}
		if len(rows) < limit {
			return page, nil
		}
	}
	page.NextCursor = domain.EncodeCursor(after)
	return page, nil
}

// checkSecretFilter checks the prefix and tag of a listing and returns the
// folded prefix. Names are stored folded (see domain/names.go), so the
// prefix is too; a name recorded with capitals before names were folded is
// listed only by prefixes that end before its first capital.
func checkSecretFilter(in SecretListInput) (string, error) {
	prefix, err := domain.NormalizeSecretNamePrefix(in.Prefix)
	if err != nil {
		return "", err
	}
	if in.Tag != "" {
		if err := domain.ValidateSecretTag(in.Tag); err != nil {
			return "", err
		}
	}
	return prefix, nil
}
