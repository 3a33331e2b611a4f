package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// listScanPages bounds how many read-model pages one listing examines while
// skipping secrets the caller may not list, so a caller who may list few
// secrets among many gets a short page and a cursor instead of a slow one.
const listScanPages = 10

// SecretListInput filters a listing. Cursor is opaque: the NextCursor of the
// previous page.
type SecretListInput struct {
	Prefix         string
	Tag            string
	Cursor         string
	Limit          int
	IncludeDeleted bool
}

// SecretPage is one page of a listing. NextCursor is empty on the last page.
type SecretPage struct {
	Items      []domain.SecretSummary
	NextCursor string
}

// GetSecret returns a secret's metadata; it needs `read` on secrets/<name>.
func (s *Secrets) GetSecret(ctx context.Context, caller Caller, id string) (domain.SecretSummary, error) {
	if !caller.Principal.Authenticated() {
		return domain.SecretSummary{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	row, err := s.deps.ReadModel.Get(ctx, id)
	if err != nil {
		return domain.SecretSummary{}, err
	}
	if err := s.svc.authorize(ctx, caller, domain.ActionRead, domain.SecretResource(row.Name)); err != nil {
		return domain.SecretSummary{}, err
	}
	return row, nil
}

// SecretVersions lists a secret's versions (never values); it needs `read`
// on secrets/<name>.
func (s *Secrets) SecretVersions(ctx context.Context, caller Caller, id string) ([]domain.SecretVersionInfo, error) {
	if _, err := s.GetSecret(ctx, caller, id); err != nil {
		return nil, err
	}
	return s.deps.ReadModel.Versions(ctx, id)
}

// ListSecrets returns the secrets the caller may `list`, in name order.
// Secrets it may not list are skipped silently: hiding them is not an
// attempt worth an audit record.
func (s *Secrets) ListSecrets(ctx context.Context, caller Caller, in SecretListInput) (SecretPage, error) {
	if !caller.Principal.Authenticated() {
		return SecretPage{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	prefix, err := checkSecretFilter(in)
	if err != nil {
		return SecretPage{}, err
	}
	if in.Limit < 0 || in.Limit > domain.SecretListMaxLimit {
		return SecretPage{}, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.SecretListMaxLimit)
	}
	limit := in.Limit
	if limit == 0 {
		limit = 50
	}
	after, err := domain.DecodeSecretNameCursor(in.Cursor)
	if err != nil {
		return SecretPage{}, err
	}
	page := SecretPage{Items: []domain.SecretSummary{}}
	for range listScanPages {
		rows, err := s.deps.ReadModel.List(ctx, domain.SecretFilter{
			Prefix: prefix, Tag: in.Tag, After: after, Limit: limit, IncludeDeleted: in.IncludeDeleted,
		})
		if err != nil {
			return SecretPage{}, err
		}
		for i, row := range rows {
			after = row.Name
			if !s.svc.allowed(caller, domain.ActionList, domain.SecretResource(row.Name)) {
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
