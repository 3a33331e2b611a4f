package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"

	"github.com/securevault/vault/domain"
)

// MinChainKeyBytes is the shortest chain key accepted.
const MinChainKeyBytes = 32

// ChainKeys are the keys the chain's links are MACs under: the current one,
// which every new link uses, and former ones, kept so links they made still
// verify after a rotation. The database never holds them; each link records
// only the id (a fingerprint) of its key.
type ChainKeys struct {
	current *chainKey
	byID    map[string]*chainKey
}

type chainKey struct {
	id   string
	key  []byte
	pool sync.Pool // of *mac: a link costs one HMAC, not the allocation of one
}

// mac is a reusable HMAC state with a scratch buffer for its input.
type mac struct {
	h   hash.Hash
	buf []byte
}

func newChainKey(key []byte) *chainKey {
	k := &chainKey{id: ChainKeyID(key), key: append([]byte(nil), key...)}
	k.pool.New = func() any { return &mac{h: hmac.New(sha256.New, k.key), buf: make([]byte, 0, 512)} }
	return k
}

func (k *chainKey) get() *mac {
	m := k.pool.Get().(*mac)
	m.h.Reset()
	return m
}

func (k *chainKey) put(m *mac) { k.pool.Put(m) }

// NewChainKeys builds the key set from the current key and any former ones.
// Every key must be at least MinChainKeyBytes long.
func NewChainKeys(current []byte, previous ...[]byte) (*ChainKeys, error) {
	if len(current) < MinChainKeyBytes {
		return nil, domain.Errorf(domain.EINVALID, "the chain key must be at least %d bytes", MinChainKeyBytes)
	}
	ks := &ChainKeys{current: newChainKey(current), byID: make(map[string]*chainKey, 1+len(previous))}
	ks.byID[ks.current.id] = ks.current
	for _, p := range previous {
		if len(p) < MinChainKeyBytes {
			return nil, domain.Errorf(domain.EINVALID, "every former chain key must be at least %d bytes", MinChainKeyBytes)
		}
		k := newChainKey(p)
		if _, dup := ks.byID[k.id]; !dup {
			ks.byID[k.id] = k
		}
	}
	return ks, nil
}

// CurrentID is the id new links record.
func (ks *ChainKeys) CurrentID() string { return ks.current.id }

// Known reports whether links made under the key with this id can be
// verified.
func (ks *ChainKeys) Known(id string) bool {
	_, ok := ks.byID[id]
	return ok
}

func (ks *ChainKeys) byKeyID(id string) (*chainKey, bool) {
	k, ok := ks.byID[id]
	return k, ok
}

// ChainKeyID is a key's public name: 16 hex digits of an HMAC of a fixed
// label under the key. It identifies the key without being a hash of the
// key itself, and is useless for computing links.
func ChainKeyID(key []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("securevault chain key id v1"))
	return hex.EncodeToString(h.Sum(nil)[:8])
}
