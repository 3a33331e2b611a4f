package eventstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/securevault/vault/domain"
)

// translate maps database failures to the vault's error codes. A unique
// violation means another writer broke the single-writer assumption (for
// example a direct INSERT); it is still a conflict, never a 500.
func translate(err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	if isUniqueViolation(err) {
		return domain.WrapError(domain.ECONFLICT, "a concurrent append to the same stream won", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return domain.WrapError(domain.EUNAVAILABLE, "the event store did not answer in time", err)
	}
	return domain.WrapError(domain.EUNAVAILABLE, "the event store is unavailable", err)
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
