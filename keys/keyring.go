package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/keys/internal/keysdb"
)

const (
	masterKeyLabel = "securevault/master-key/v1"
	dataKeyLabel   = "securevault/data-key/v1"
)

// KeyringOptions tune a Keyring. The zero value is usable.
type KeyringOptions struct {
	// RefreshInterval bounds how long a replica keeps wrapping new data keys
	// under a master key another replica has rotated away from (default
	// 30s). Rewrap after a rotation is complete once this has passed.
	RefreshInterval time.Duration
}

// MasterKeyInfo describes a master key without its material.
type MasterKeyInfo struct {
	ID        string
	CreatedAt time.Time
	Active    bool
}

// Keyring is the local key-encryption-key provider: master keys stored in
// the master_keys table, each wrapped under the root key, exactly one of
// them active. It is safe for concurrent use.
type Keyring struct {
	pool    *pgxpool.Pool
	q       *keysdb.Queries
	logger  *slog.Logger
	refresh time.Duration

	root []byte

	// reloadMu lets one goroutine reload at a time; the others then find
	// the key they were missing without querying again.
	reloadMu sync.Mutex

	// mu guards the decrypted keys. Every use of a master key happens under
	// the read lock, so Close can zero them without racing a user.
	mu       sync.RWMutex
	keys     map[string][]byte
	active   string
	loadedAt time.Time
	closed   bool
}

var _ Provider = (*Keyring)(nil)

// NewKeyring loads the keyring, creating the first master key when the table
// is empty. rootKey is the decoded ENCRYPTION_KEY (see ParseRootKey); the
// keyring keeps its own copy, so the caller may zero theirs.
func NewKeyring(ctx context.Context, pool *pgxpool.Pool, rootKey []byte, logger *slog.Logger, opts KeyringOptions) (*Keyring, error) {
	if len(rootKey) != envelope.KeySize {
		return nil, domain.Errorf(domain.EINVALID, "%s must decode to exactly %d bytes", EnvEncryptionKey, envelope.KeySize)
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 30 * time.Second
	}
	k := &Keyring{
		pool:    pool,
		q:       keysdb.New(),
		logger:  logger,
		refresh: opts.RefreshInterval,
		root:    append([]byte(nil), rootKey...),
		keys:    map[string][]byte{},
	}
	if err := k.ensureActive(ctx); err != nil {
		return nil, err
	}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Close zeroes the keys held in memory. The keyring is unusable afterwards.
func (k *Keyring) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, mk := range k.keys {
		envelope.Zero(mk)
		delete(k.keys, id)
	}
	envelope.Zero(k.root)
	k.closed = true
}

// Rotate adds a new master key and makes it the active one; it returns the
// new key's id. Existing data keys stay wrapped under their old master key
// (still readable) until a rewrap moves them. Other replicas pick the new
// key up within RefreshInterval.
func (k *Keyring) Rotate(ctx context.Context) (string, error) {
	id, err := k.addActive(ctx, true)
	if err != nil {
		return "", err
	}
	if err := k.Reload(ctx); err != nil {
		return "", err
	}
	k.logger.InfoContext(ctx, "master key rotated", "key_id", id)
	return id, nil
}

// Retire deletes an inactive master key. It refuses while any data key is
// still wrapped under it (the database enforces this too), so run a rewrap
// first. Once retired, a copy of an old wrapped data key (from a backup, say)
// can no longer be unwrapped with this keyring.
func (k *Keyring) Retire(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
		if err := k.q.LockMasterKeys(ctx, tx); err != nil {
			return err
		}
		n, err := k.q.CountDataKeysUnder(ctx, tx, keysdb.CountDataKeysUnderParams{Provider: ProviderLocal, KeyID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return domain.Errorf(domain.ECONFLICT, "master key %s still wraps %d data keys: rewrap them first", id, n)
		}
		deleted, err := k.q.DeleteInactiveMasterKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if deleted == 0 {
			return domain.Errorf(domain.ECONFLICT, "master key %s is active or does not exist", id)
		}
		return nil
	})
	if err != nil {
		if isForeignKeyViolation(err) {
			return domain.WrapError(domain.ECONFLICT, "master key still wraps data keys: rewrap them first", err)
		}
		return dbError("retire master key", err)
	}
	k.logger.InfoContext(ctx, "master key retired", "key_id", id)
	return k.Reload(ctx)
}

// MasterKeys lists the keyring's keys, oldest first, without their material.
func (k *Keyring) MasterKeys(ctx context.Context) ([]MasterKeyInfo, error) {
	rows, err := k.q.ListMasterKeys(ctx, k.pool)
	if err != nil {
		return nil, dbError("list master keys", err)
	}
	out := make([]MasterKeyInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, MasterKeyInfo{ID: r.ID, CreatedAt: r.CreatedAt.Time, Active: r.Active})
	}
	return out, nil
}

// ActiveKeyID returns the id of the key new data keys are wrapped under, as
// of the last reload (refreshed when older than RefreshInterval).
func (k *Keyring) ActiveKeyID(ctx context.Context) (string, error) {
	k.refreshIfStale(ctx)
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return "", errClosed
	}
	return k.active, nil
}

// Reload reads every master key from the database and unwraps it with the
// root key.
func (k *Keyring) Reload(ctx context.Context) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	return k.reloadLocked(ctx)
}

func (k *Keyring) reloadLocked(ctx context.Context) error {
	k.mu.RLock()
	if k.closed {
		k.mu.RUnlock()
		return errClosed
	}
	root := append([]byte(nil), k.root...)
	k.mu.RUnlock()
	defer envelope.Zero(root)

	rows, err := k.q.ListMasterKeys(ctx, k.pool)
	if err != nil {
		return dbError("load master keys", err)
	}
	fresh := make(map[string][]byte, len(rows))
	active := ""
	for _, r := range rows {
		mk, err := envelope.Open(root, r.WrappedKey, canonicalContext(masterKeyLabel, r.ID, nil))
		if err != nil {
			for _, v := range fresh {
				envelope.Zero(v)
			}
			return domain.WrapError(domain.EINVALID,
				fmt.Sprintf("%s does not decrypt master key %s: it is not the key this database was set up with", EnvEncryptionKey, r.ID), err)
		}
		fresh[r.ID] = mk
		if r.Active {
			active = r.ID
		}
	}
	if active == "" {
		return domain.Errorf(domain.EINTERNAL, "the keyring has no active master key")
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return errClosed
	}
	// Keep the slices already in use for known ids: never zero a key here,
	// only Close does, so no reader can see a key change under it.
	for id, mk := range fresh {
		if old, ok := k.keys[id]; ok {
			envelope.Zero(mk)
			fresh[id] = old
		}
	}
	k.keys = fresh
	k.active = active
	k.loadedAt = time.Now()
	return nil
}

// refreshIfStale reloads when the cache is older than RefreshInterval. A
// failed refresh is logged and the cached keys stay in use: they are still
// valid, and a database outage will surface where the data key is stored.
func (k *Keyring) refreshIfStale(ctx context.Context) {
	k.mu.RLock()
	stale := time.Since(k.loadedAt) > k.refresh
	k.mu.RUnlock()
	if !stale {
		return
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	k.mu.RLock()
	stale = time.Since(k.loadedAt) > k.refresh
	k.mu.RUnlock()
	if !stale {
		return
	}
	if err := k.reloadLocked(ctx); err != nil {
		k.logger.WarnContext(ctx, "keyring refresh failed; using cached master keys", "error", err)
	}
}

// GenerateDataKey implements Provider.
func (k *Keyring) GenerateDataKey(ctx context.Context, encryptionContext map[string]string) ([]byte, WrappedKey, error) {
	k.refreshIfStale(ctx)
	dk, err := envelope.NewDataKey()
	if err != nil {
		return nil, WrappedKey{}, err
	}
	w, err := k.wrapUnderActive(dk, encryptionContext)
	if err != nil {
		envelope.Zero(dk)
		return nil, WrappedKey{}, err
	}
	return dk, w, nil
}

// Decrypt implements Provider. A key id this replica does not know yet (a
// rotation on another replica) triggers one reload.
func (k *Keyring) Decrypt(ctx context.Context, wrapped WrappedKey, encryptionContext map[string]string) ([]byte, error) {
	if wrapped.Provider != ProviderLocal {
		return nil, domain.Errorf(domain.EINTERNAL, "data key belongs to provider %q, not %q", wrapped.Provider, ProviderLocal)
	}
	dk, err := k.unwrap(wrapped, encryptionContext)
	if errors.Is(err, errUnknownKey) {
		if rerr := k.reloadFor(ctx, wrapped.KeyID); rerr != nil {
			return nil, rerr
		}
		dk, err = k.unwrap(wrapped, encryptionContext)
	}
	if errors.Is(err, errUnknownKey) {
		return nil, domain.WrapError(domain.EINTERNAL, "data key could not be unwrapped", fmt.Errorf("%w: master key %s is not in the keyring", ErrUnwrap, wrapped.KeyID))
	}
	return dk, err
}

// Rewrap implements Provider.
func (k *Keyring) Rewrap(ctx context.Context, wrapped WrappedKey, encryptionContext map[string]string) (WrappedKey, bool, error) {
	active, err := k.ActiveKeyID(ctx)
	if err != nil {
		return WrappedKey{}, false, err
	}
	if wrapped.Provider == ProviderLocal && wrapped.KeyID == active {
		return wrapped, false, nil
	}
	dk, err := k.Decrypt(ctx, wrapped, encryptionContext)
	if err != nil {
		return WrappedKey{}, false, err
	}
	defer envelope.Zero(dk)
	w, err := k.wrapUnderActive(dk, encryptionContext)
	if err != nil {
		return WrappedKey{}, false, err
	}
	return w, true, nil
}

func (k *Keyring) wrapUnderActive(dk []byte, ec map[string]string) (WrappedKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return WrappedKey{}, errClosed
	}
	id := k.active
	sealed, err := envelope.Seal(k.keys[id], dk, canonicalContext(dataKeyLabel, id, ec))
	if err != nil {
		return WrappedKey{}, err
	}
	return WrappedKey{Provider: ProviderLocal, KeyID: id, Ciphertext: sealed}, nil
}

var errUnknownKey = errors.New("unknown master key")

var errClosed = domain.Errorf(domain.EINTERNAL, "keyring is closed")

func (k *Keyring) unwrap(w WrappedKey, ec map[string]string) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, errClosed
	}
	mk, ok := k.keys[w.KeyID]
	if !ok {
		return nil, errUnknownKey
	}
	dk, err := envelope.Open(mk, w.Ciphertext, canonicalContext(dataKeyLabel, w.KeyID, ec))
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "data key could not be unwrapped", ErrUnwrap)
	}
	if len(dk) != envelope.KeySize {
		envelope.Zero(dk)
		return nil, domain.WrapError(domain.EINTERNAL, "data key could not be unwrapped", ErrUnwrap)
	}
	return dk, nil
}

// reloadFor reloads unless another goroutine has meanwhile loaded id.
func (k *Keyring) reloadFor(ctx context.Context, id string) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	k.mu.RLock()
	_, ok := k.keys[id]
	k.mu.RUnlock()
	if ok {
		return nil
	}
	return k.reloadLocked(ctx)
}

// ensureActive creates the first master key unless one is active already;
// replicas starting together create exactly one.
func (k *Keyring) ensureActive(ctx context.Context) error {
	_, err := k.addActive(ctx, false)
	return err
}

// addActive inserts a new active master key. With always false it does so
// only when no key is active.
func (k *Keyring) addActive(ctx context.Context, always bool) (string, error) {
	id, err := newMasterKeyID()
	if err != nil {
		return "", err
	}
	mk, err := envelope.NewDataKey()
	if err != nil {
		return "", err
	}
	defer envelope.Zero(mk)
	wrapped, err := k.sealUnderRoot(mk, id)
	if err != nil {
		return "", err
	}
	created := false
	err = pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
		if err := k.q.LockMasterKeys(ctx, tx); err != nil {
			return err
		}
		if !always {
			_, err := k.q.ActiveMasterKeyID(ctx, tx)
			if err == nil {
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := k.q.DeactivateMasterKeys(ctx, tx); err != nil {
			return err
		}
		created = true
		return k.q.InsertMasterKey(ctx, tx, keysdb.InsertMasterKeyParams{ID: id, WrappedKey: wrapped, Active: true})
	})
	if err != nil {
		return "", dbError("add master key", err)
	}
	if created && !always {
		k.logger.InfoContext(ctx, "first master key created", "key_id", id)
	}
	return id, nil
}

// sealUnderRoot wraps a new master key. It checks for Close under the lock:
// a key sealed under a zeroed root would be stored and then break every
// replica's reload.
func (k *Keyring) sealUnderRoot(mk []byte, id string) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, errClosed
	}
	return envelope.Seal(k.root, mk, canonicalContext(masterKeyLabel, id, nil))
}

func newMasterKeyID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", domain.WrapError(domain.EINTERNAL, "random source failed", err)
	}
	// Time first, so ids sort by creation and an operator can read them.
	return "mk-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}
