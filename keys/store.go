package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/keys/internal/keysdb"
)

// rewrapPageSize bounds each read of the rewrap scan. Every rewrapped key is
// then written in its own short statement, so a rewrap holds no lock longer
// than one row update and the service keeps serving meanwhile.
const rewrapPageSize = 256

// DataKeyRef names one data key: the owner (a secret or file id) and version.
type DataKeyRef struct {
	OwnerID string
	Version int64
}

// StoredKey is one row of the data key table.
type StoredKey struct {
	DataKeyRef
	Wrapped     WrappedKey
	CreatedAt   time.Time
	RewrappedAt time.Time // zero if never rewrapped
}

// RewrapStats reports what a rewrap did.
type RewrapStats struct {
	Scanned   int64 // rows visited
	Rewrapped int64 // rows moved to the active key
	Vanished  int64 // rows destroyed or rewrapped by someone else meanwhile
	Failed    int64 // rows that could not be unwrapped (logged by owner and version)
}

// Store keeps wrapped data keys, one per owner and version, and binds each
// to EncryptionContext(owner, version).
//
// Concurrent Puts share one INSERT, and concurrent Deletes one DELETE (a
// group commit, see batcher): each caller still gets its own answer.
type Store struct {
	pool     *pgxpool.Pool
	q        *keysdb.Queries
	provider Provider
	logger   *slog.Logger

	puts    *batcher[putRequest, struct{}]
	deletes *batcher[deleteRequest, bool]
	gets    *batcher[DataKeyRef, WrappedKey]
}

// NewStore returns a Store that wraps new data keys with provider.
func NewStore(pool *pgxpool.Pool, provider Provider, logger *slog.Logger) *Store {
	s := &Store{pool: pool, q: keysdb.New(), provider: provider, logger: logger}
	s.puts = newBatcher(maxKeyBatch, keyBatchTimeout, s.flushPuts)
	s.deletes = newBatcher(maxKeyBatch, keyBatchTimeout, s.flushDeletes)
	s.gets = newBatcher(maxKeyBatch, keyBatchTimeout, s.flushGets)
	return s
}

// NewDataKey generates a data key for an owner's version, stores it wrapped
// and returns the plaintext for sealing; the caller zeroes it after use.
// Store the key before appending the event that references it: an orphan key
// row is harmless, an event whose key was never stored is unreadable. The
// key's row is durable once a later synchronous commit (that append) is:
// it is stored without waiting for its own disk flush (see InsertDataKeys),
// so nothing may treat a stored key as durable before such a commit.
func (s *Store) NewDataKey(ctx context.Context, ownerID string, version int64) ([]byte, error) {
	if err := validRef(ownerID, version); err != nil {
		return nil, err
	}
	dk, w, err := s.provider.GenerateDataKey(ctx, EncryptionContext(ownerID, version))
	if err != nil {
		return nil, err
	}
	if err := s.Put(ctx, ownerID, version, w); err != nil {
		envelope.Zero(dk)
		return nil, err
	}
	return dk, nil
}

// DataKey returns the unwrapped data key of an owner's version. A destroyed
// version yields an ENOTFOUND error wrapping ErrDataKeyNotFound.
func (s *Store) DataKey(ctx context.Context, ownerID string, version int64) ([]byte, error) {
	w, err := s.Get(ctx, ownerID, version)
	if err != nil {
		return nil, err
	}
	return s.provider.Decrypt(ctx, w, EncryptionContext(ownerID, version))
}

// Put stores a wrapped data key. Storing the same key again is a no-op;
// storing a different key for an existing owner and version is a conflict.
// Concurrent calls share a statement; a call whose ctx ends gets its error
// at once, though its key may still be stored (an orphan key is harmless).
func (s *Store) Put(ctx context.Context, ownerID string, version int64, w WrappedKey) error {
	if err := validRef(ownerID, version); err != nil {
		return err
	}
	_, err := s.puts.do(ctx, putRequest{ref: DataKeyRef{OwnerID: ownerID, Version: version}, wrapped: w})
	if err != nil {
		return dbError("store data key", err)
	}
	return nil
}

// Get returns the wrapped data key of an owner's version. Concurrent calls
// share a statement (every reveal reads a key).
func (s *Store) Get(ctx context.Context, ownerID string, version int64) (WrappedKey, error) {
	w, err := s.gets.do(ctx, DataKeyRef{OwnerID: ownerID, Version: version})
	if err != nil {
		return WrappedKey{}, dbError("read data key", err)
	}
	return w, nil
}

// Delete destroys the data key of an owner's version: every ciphertext
// sealed under it becomes unreadable for good. It reports whether a key was
// there; deleting twice is not an error. Concurrent calls share a statement;
// a call whose ctx ends before it was sent is not sent.
func (s *Store) Delete(ctx context.Context, ownerID string, version int64) (bool, error) {
	return s.delete(ctx, deleteRequest{ref: DataKeyRef{OwnerID: ownerID, Version: version}, flush: true})
}

// DeleteRetired is Delete for a version whose retirement is already stored
// in the log (a rotation past the retention count): it returns once the
// key is deleted, without waiting for the delete's own disk flush. Losing
// it in a crash of the database server loses no decision (the log refuses
// the version whatever its key) and leaves the key row behind, as a failed
// delete does; the next synchronous commit on the server, which the next
// append is, makes it durable. It takes one disk flush off every rotation
// past the retention count.
func (s *Store) DeleteRetired(ctx context.Context, ownerID string, version int64) (bool, error) {
	return s.delete(ctx, deleteRequest{ref: DataKeyRef{OwnerID: ownerID, Version: version}})
}

func (s *Store) delete(ctx context.Context, req deleteRequest) (bool, error) {
	existed, err := s.deletes.do(ctx, req)
	if err != nil {
		return false, dbError("destroy data key", err)
	}
	return existed, nil
}

// DeleteOwner destroys every data key of an owner, whatever the versions,
// and reports how many there were.
func (s *Store) DeleteOwner(ctx context.Context, ownerID string) (int64, error) {
	if ownerID == "" {
		return 0, domain.Errorf(domain.EINVALID, "data key owner id is empty")
	}
	n, err := s.q.DeleteOwnerDataKeys(ctx, s.pool, ownerID)
	if err != nil {
		return 0, dbError("destroy data keys", err)
	}
	if n > 0 {
		s.logger.InfoContext(ctx, "data keys destroyed", "owner_id", ownerID, "count", n)
	}
	return n, nil
}

// Count returns how many data keys are stored.
func (s *Store) Count(ctx context.Context) (int64, error) {
	n, err := s.q.CountDataKeys(ctx, s.pool)
	if err != nil {
		return 0, dbError("count data keys", err)
	}
	return n, nil
}

// Page returns up to limit data keys after the given one, in (owner,
// version) order; start with the zero DataKeyRef. Rows added or deleted
// concurrently never make a page repeat or skip a surviving row.
func (s *Store) Page(ctx context.Context, after DataKeyRef, limit int) ([]StoredKey, error) {
	if limit <= 0 || limit > 10_000 {
		return nil, domain.Errorf(domain.EINVALID, "page limit must be between 1 and 10000")
	}
	rows, err := s.q.ListDataKeysAfter(ctx, s.pool, keysdb.ListDataKeysAfterParams{
		AfterOwner: after.OwnerID, AfterVersion: after.Version, MaxRows: int32(limit),
	})
	if err != nil {
		return nil, dbError("list data keys", err)
	}
	out := make([]StoredKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, StoredKey{
			DataKeyRef:  DataKeyRef{OwnerID: r.OwnerID, Version: r.Version},
			Wrapped:     WrappedKey{Provider: r.Provider, KeyID: r.KeyID, Ciphertext: r.Wrapped},
			CreatedAt:   r.CreatedAt.Time,
			RewrappedAt: r.RewrappedAt.Time,
		})
	}
	return out, nil
}

// Rewrap moves every data key under the provider's active key, while the
// service runs. Each row is replaced by a compare-and-set on its old wrapped
// bytes, so a rewrap never resurrects a key destroyed meanwhile; rows already
// under the active key are left alone, so an interrupted rewrap is resumed
// by running it again. progress, if not nil, is called after each row.
func (s *Store) Rewrap(ctx context.Context, progress func(done, total int64)) (RewrapStats, error) {
	var st RewrapStats
	total, err := s.Count(ctx)
	if err != nil {
		return st, err
	}
	after := DataKeyRef{}
	for {
		page, err := s.Page(ctx, after, rewrapPageSize)
		if err != nil {
			return st, err
		}
		for _, row := range page {
			if err := ctx.Err(); err != nil {
				return st, domain.WrapError(domain.EUNAVAILABLE, "rewrap interrupted", err)
			}
			if err := s.rewrapOne(ctx, row, &st); err != nil {
				return st, err
			}
			st.Scanned++
			if progress != nil {
				progress(st.Scanned, max(total, st.Scanned))
			}
		}
		if len(page) < rewrapPageSize {
			break
		}
		after = page[len(page)-1].DataKeyRef
	}
	s.logger.InfoContext(ctx, "data keys rewrapped",
		"scanned", st.Scanned, "rewrapped", st.Rewrapped, "vanished", st.Vanished, "failed", st.Failed)
	if st.Failed > 0 {
		return st, domain.Errorf(domain.EINTERNAL, "%d data keys could not be rewrapped (see the log)", st.Failed)
	}
	return st, nil
}

func (s *Store) rewrapOne(ctx context.Context, row StoredKey, st *RewrapStats) error {
	nw, changed, err := s.provider.Rewrap(ctx, row.Wrapped, EncryptionContext(row.OwnerID, row.Version))
	if err != nil {
		if ctx.Err() != nil || domain.ErrorCode(err) == domain.EUNAVAILABLE {
			return err
		}
		st.Failed++
		s.logger.ErrorContext(ctx, "data key could not be rewrapped",
			"owner_id", row.OwnerID, "version", row.Version, "key_id", row.Wrapped.KeyID, "error", err)
		return nil
	}
	if !changed {
		return nil
	}
	n, err := s.q.ReplaceWrappedDataKey(ctx, s.pool, keysdb.ReplaceWrappedDataKeyParams{
		Provider: nw.Provider, KeyID: nw.KeyID, Wrapped: nw.Ciphertext,
		OwnerID: row.OwnerID, Version: row.Version, OldWrapped: row.Wrapped.Ciphertext,
	})
	if err != nil {
		return dbError("replace wrapped data key", err)
	}
	if n == 0 {
		st.Vanished++
		return nil
	}
	st.Rewrapped++
	return nil
}

func validRef(ownerID string, version int64) error {
	if ownerID == "" {
		return domain.Errorf(domain.EINVALID, "data key owner id is empty")
	}
	if version <= 0 {
		return domain.Errorf(domain.EINVALID, "data key version must be positive")
	}
	return nil
}

// dbError turns a database failure into an application error. Cancellation
// and timeouts are "unavailable"; anything else is internal.
func dbError(op string, err error) error {
	var appErr *domain.Error
	if errors.As(err, &appErr) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return domain.WrapError(domain.EUNAVAILABLE, "key storage unavailable", fmt.Errorf("%s: %w", op, err))
	}
	return domain.WrapError(domain.EINTERNAL, "key storage failed", fmt.Errorf("%s: %w", op, err))
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
