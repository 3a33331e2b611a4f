// Package pguuid converts between the domain's UUID strings and pgtype.UUID
// for the projections' sqlc code.
package pguuid

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/securevault/vault/domain"
)

// Parse turns a canonical UUID into a pgtype.UUID; anything else is
// EINVALID naming field.
func Parse(field, s string) (pgtype.UUID, error) {
	if err := domain.ValidateID(field, s); err != nil {
		return pgtype.UUID{}, err
	}
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return pgtype.UUID{}, domain.WrapError(domain.EINVALID, "malformed "+field, err)
	}
	return u, nil
}

// ParseAll is Parse for a list.
func ParseAll(field string, ids []string) ([]pgtype.UUID, error) {
	out := make([]pgtype.UUID, 0, len(ids))
	for _, id := range ids {
		u, err := Parse(field, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// String is the canonical form of u, or "" when it is NULL.
func String(u pgtype.UUID) string {
	if !u.Valid {
		return ""
	}
	b := u.Bytes
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Strings is String for a list; never nil.
func Strings(us []pgtype.UUID) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, String(u))
	}
	return out
}
