package keys

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/keys/internal/keysdb"
)

// Every rotation stores a data key and most destroy one, each its own
// statement and commit when sent alone; concurrent requests therefore share
// statements (see batcher).
const (
	// maxKeyBatch bounds the rows of one statement, so one statement stays
	// short however many callers are waiting.
	maxKeyBatch = 256
	// keyBatchTimeout bounds a batch, one-by-one retries included. It does
	// not belong to any caller: each caller still stops waiting when its own
	// context ends.
	keyBatchTimeout = 15 * time.Second
)

// putRequest is one Put: the key to store under ref.
type putRequest struct {
	ref     DataKeyRef
	wrapped WrappedKey
}

// deleteRequest is one Delete or DeleteRetired: flush is false for the
// latter, whose delete need not wait for its own disk flush.
type deleteRequest struct {
	ref   DataKeyRef
	flush bool
}

type (
	putCall    = pending[putRequest, struct{}]
	deleteCall = pending[deleteRequest, bool]
	getCall    = pending[DataKeyRef, WrappedKey]
)

// flushPuts stores a batch of keys in one statement and gives each caller
// the answer its own Put would have had alone: stored or the same key
// already there → nil, a different key there → ECONFLICT, a retired master
// key → ECONFLICT (retry). A ref that appears twice is sent once; the later
// calls are judged against what the first left, as if they came after it.
// When the statement fails as a whole (a foreign key violation of one row
// fails them all), every call is sent again on its own, so that no caller
// gets another's error (except a caller that has stopped waiting: it is
// dropped).
func (s *Store) flushPuts(ctx context.Context, batch []*putCall) {
	first := make(map[DataKeyRef]*putCall, len(batch))
	var send []*putCall
	for _, c := range batch {
		if _, ok := first[c.in.ref]; !ok {
			first[c.in.ref] = c
			send = append(send, c)
		}
	}
	// In key order, so that two replicas' batches that share a ref wait on
	// each other instead of deadlocking.
	slices.SortFunc(send, func(a, b *putCall) int { return compareRefs(a.in.ref, b.in.ref) })
	arg := keysdb.InsertDataKeysParams{}
	for _, c := range send {
		arg.OwnerIds = append(arg.OwnerIds, c.in.ref.OwnerID)
		arg.Versions = append(arg.Versions, c.in.ref.Version)
		arg.Providers = append(arg.Providers, c.in.wrapped.Provider)
		arg.KeyIds = append(arg.KeyIds, c.in.wrapped.KeyID)
		arg.Wrapped = append(arg.Wrapped, c.in.wrapped.Ciphertext)
	}
	inserted, err := s.q.InsertDataKeys(ctx, s.pool, arg)
	if err != nil {
		if len(batch) == 1 {
			batch[0].err = putError(err)
			return
		}
		s.logger.Warn("data key batch failed; storing its keys one by one", "batch", len(batch), "error", err)
		for _, c := range batch {
			if c.err = c.ctx.Err(); c.err == nil {
				s.flushPuts(ctx, []*putCall{c})
			}
		}
		return
	}

	// stored is what the table holds for each ref now: the first call's key
	// where it was inserted, the row that was there already elsewhere.
	stored := make(map[DataKeyRef]WrappedKey, len(first))
	for _, r := range inserted {
		ref := DataKeyRef{OwnerID: r.OwnerID, Version: r.Version}
		stored[ref] = first[ref].in.wrapped
	}
	if len(stored) < len(first) {
		if err := s.readExisting(ctx, arg, stored); err != nil {
			for _, c := range batch {
				if _, ok := stored[c.in.ref]; !ok {
					c.err = err
				}
			}
		}
	}
	for _, c := range batch {
		if c.err != nil {
			continue
		}
		have, ok := stored[c.in.ref]
		switch {
		case !ok:
			// There when the insert ran, destroyed before the read:
			// what a Get after the insert would have answered.
			c.err = notFound(c.in.ref.OwnerID, c.in.ref.Version)
		case have.Provider == c.in.wrapped.Provider && have.KeyID == c.in.wrapped.KeyID &&
			bytes.Equal(have.Ciphertext, c.in.wrapped.Ciphertext):
			// Stored now, or the same key stored before: a retry.
		default:
			c.err = domain.Errorf(domain.ECONFLICT, "a data key for %s version %d already exists", c.in.ref.OwnerID, c.in.ref.Version)
		}
	}
}

// readExisting adds to stored the rows of the batch's refs that the insert
// did not store (it reads them all in one statement; there are usually none).
func (s *Store) readExisting(ctx context.Context, sent keysdb.InsertDataKeysParams, stored map[DataKeyRef]WrappedKey) error {
	arg := keysdb.GetDataKeysParams{}
	for i, owner := range sent.OwnerIds {
		if _, ok := stored[DataKeyRef{OwnerID: owner, Version: sent.Versions[i]}]; !ok {
			arg.OwnerIds = append(arg.OwnerIds, owner)
			arg.Versions = append(arg.Versions, sent.Versions[i])
		}
	}
	rows, err := s.q.GetDataKeys(ctx, s.pool, arg)
	if err != nil {
		return dbError("read data keys", err)
	}
	for _, r := range rows {
		stored[DataKeyRef{OwnerID: r.OwnerID, Version: r.Version}] = WrappedKey{Provider: r.Provider, KeyID: r.KeyID, Ciphertext: r.Wrapped}
	}
	return nil
}

func putError(err error) error {
	if isForeignKeyViolation(err) {
		return domain.WrapError(domain.ECONFLICT, "master key was retired; retry", err)
	}
	return dbError("store data key", err)
}

// flushDeletes destroys a batch of keys in one statement and tells each
// caller whether its key was there. A ref that appears twice is destroyed
// by the first call; the later ones find nothing, as they would in
// sequence. The batch waits for its disk flush if any of its calls must
// (Delete rather than DeleteRetired). The destruction of each key is logged
// (owner and version only) with the context of the call that destroyed it,
// here rather than in the caller, so that a caller that stopped waiting
// cannot lose the line.
func (s *Store) flushDeletes(ctx context.Context, batch []*deleteCall) {
	first := make(map[DataKeyRef]*deleteCall, len(batch))
	var send []DataKeyRef
	for _, c := range batch {
		if _, ok := first[c.in.ref]; !ok {
			first[c.in.ref] = c
			send = append(send, c.in.ref)
		}
	}
	slices.SortFunc(send, compareRefs) // key order, as for puts
	arg := keysdb.DeleteDataKeysParams{Flush: mustFlush(batch)}
	for _, r := range send {
		arg.OwnerIds = append(arg.OwnerIds, r.OwnerID)
		arg.Versions = append(arg.Versions, r.Version)
	}
	deleted, err := s.q.DeleteDataKeys(ctx, s.pool, arg)
	if err != nil {
		if len(batch) == 1 {
			batch[0].err = dbError("destroy data key", err)
			return
		}
		s.logger.Warn("data key destroy batch failed; destroying its keys one by one", "batch", len(batch), "error", err)
		for _, c := range batch {
			if c.err = c.ctx.Err(); c.err == nil {
				s.flushDeletes(ctx, []*deleteCall{c})
			}
		}
		return
	}
	for _, r := range deleted {
		c := first[DataKeyRef{OwnerID: r.OwnerID, Version: r.Version}]
		c.out = true
		s.logger.InfoContext(c.ctx, "data key destroyed", "owner_id", r.OwnerID, "version", r.Version)
	}
}

// mustFlush tells whether a delete batch waits for its disk flush: when
// any of its calls is a Delete, whose caller is told the key is gone.
func mustFlush(batch []*deleteCall) bool {
	return slices.ContainsFunc(batch, func(c *deleteCall) bool { return c.in.flush })
}

// flushGets reads a batch of keys in one statement; a ref asked for twice
// is read once, and a ref without a key gets ENOTFOUND (wrapping
// ErrDataKeyNotFound), as a Get alone would.
func (s *Store) flushGets(ctx context.Context, batch []*getCall) {
	arg := keysdb.GetDataKeysParams{}
	asked := make(map[DataKeyRef]bool, len(batch))
	for _, c := range batch {
		if !asked[c.in] {
			asked[c.in] = true
			arg.OwnerIds = append(arg.OwnerIds, c.in.OwnerID)
			arg.Versions = append(arg.Versions, c.in.Version)
		}
	}
	rows, err := s.q.GetDataKeys(ctx, s.pool, arg)
	if err != nil {
		for _, c := range batch {
			c.err = dbError("read data keys", err)
		}
		return
	}
	found := make(map[DataKeyRef]WrappedKey, len(rows))
	for _, r := range rows {
		found[DataKeyRef{OwnerID: r.OwnerID, Version: r.Version}] = WrappedKey{Provider: r.Provider, KeyID: r.KeyID, Ciphertext: r.Wrapped}
	}
	for _, c := range batch {
		w, ok := found[c.in]
		if !ok {
			c.err = notFound(c.in.OwnerID, c.in.Version)
			continue
		}
		// Each caller gets its own copy: a caller may zero what it was given.
		c.out = WrappedKey{Provider: w.Provider, KeyID: w.KeyID, Ciphertext: bytes.Clone(w.Ciphertext)}
	}
}

func compareRefs(a, b DataKeyRef) int {
	if c := strings.Compare(a.OwnerID, b.OwnerID); c != 0 {
		return c
	}
	return cmp.Compare(a.Version, b.Version)
}

func notFound(ownerID string, version int64) error {
	return domain.WrapError(domain.ENOTFOUND, fmt.Sprintf("no data key for %s version %d", ownerID, version), ErrDataKeyNotFound)
}
