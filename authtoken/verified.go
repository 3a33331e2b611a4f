package authtoken

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCacheSize bounds how many verified tokens a Manager remembers.
// Only tokens that passed every check get in, and minting one takes a
// login (Argon2id, rate limited) or a client-credentials grant, so the
// bound is about memory, not about an attacker filling it: 8,192 entries
// are well under a megabyte.
const verifiedCacheSize = 8192

// verifiedCache remembers the tokens a Manager has already verified, so a
// client that sends the same access token on every request pays the HMAC
// and the JSON decoding of its claims once per replica, not once per
// request (they were a third of a masked get's CPU).
//
// It is exact, not a guess. A token's verdict depends only on its bytes,
// the Manager's keyring and options, which never change after New, and the
// clock: so an entry keeps the verdict's time bounds and every hit checks
// them against the clock again, with the same leeway the parser applies.
// Revocation is not the token's business: the caller checks the session or
// credential against the identity state on every request, hit or miss.
//
// Entries are keyed by the SHA-256 of the token, so the cache holds no
// bearer credential: a digest cannot be presented in its place. A map
// lookup on the digest leaks through timing nothing an attacker without a
// preimage could use. Refused tokens are never cached.
type verifiedCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]verifiedEntry
}

// verifiedEntry is one token's verdict: its claims and the instants
// between which it holds.
type verifiedEntry struct {
	claims    Claims
	notBefore time.Time // nbf
}

func newVerifiedCache() *verifiedCache {
	return &verifiedCache{entries: make(map[[sha256.Size]byte]verifiedEntry)}
}

// lookup returns the cached verdict of the token with digest key if it
// still holds at now under leeway. ok is false for a token never verified
// here and for one whose verdict has lapsed (expired): the caller then
// verifies it in full, which refuses it with the parser's own error.
func (c *verifiedCache) lookup(key [sha256.Size]byte, now time.Time, leeway time.Duration) (Claims, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !e.holdsAt(now, leeway) {
		return Claims{}, false
	}
	return e.claims, true
}

// holdsAt repeats the parser's time checks (golang-jwt's Validator): not
// expired, not before nbf, not issued in the future, each with leeway.
func (e verifiedEntry) holdsAt(now time.Time, leeway time.Duration) bool {
	return now.Before(e.claims.ExpiresAt.Add(leeway)) &&
		!now.Before(e.notBefore.Add(-leeway)) &&
		!now.Before(e.claims.IssuedAt.Add(-leeway))
}

// store remembers a verdict. When the cache is full it first drops the
// entries that have lapsed at now, then arbitrary ones (map order) until at
// most half remain: dropping a live entry costs one full verification
// later, nothing more.
func (c *verifiedCache) store(key [sha256.Size]byte, e verifiedEntry, now time.Time, leeway time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= verifiedCacheSize {
		for k, old := range c.entries {
			if !old.holdsAt(now, leeway) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < verifiedCacheSize/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}

// len is how many verdicts are remembered (for tests).
func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
