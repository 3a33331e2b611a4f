// Package password hashes and verifies passwords with Argon2id, in the PHC
// string format, behind a limiter so a burst of logins cannot take every
// core from the rest of the server.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/securevault/vault/domain"
)

// Params are Argon2id cost parameters. Memory is in KiB.
type Params struct {
	Memory      uint32
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32
	KeyLength   uint32
}

// DefaultParams are well above the OWASP minimum (19 MiB, t=2, p=1):
// 64 MiB, t=3, p=2 is RFC 9106's second recommended profile with a lower
// lane count, and costs tens of milliseconds on a server core.
func DefaultParams() Params {
	return Params{Memory: 64 * 1024, Iterations: 3, Parallelism: 2, SaltLength: 16, KeyLength: 32}
}

// Bounds on what Verify accepts from a stored hash, so a corrupted or
// planted row cannot make one login allocate gigabytes.
const (
	maxMemory      = 1 << 21 // 2 GiB in KiB
	maxIterations  = 64
	maxKeyLength   = 128
	maxSaltLength  = 128
	maxPasswordLen = 4096 // bytes; the domain policy stops at 1024 characters
)

// ParamsFromInts builds Params from configured integers (memory in KiB,
// iterations, lanes) with the default salt and key lengths. A value its field
// cannot hold is an error rather than a wrapped conversion (a lane count of
// -1 would otherwise become 255).
func ParamsFromInts(memoryKiB, iterations, parallelism int) (Params, error) {
	switch {
	case memoryKiB < 0 || memoryKiB > math.MaxUint32:
		return Params{}, fmt.Errorf("argon2id memory %d KiB is out of range", memoryKiB)
	case iterations < 0 || iterations > math.MaxUint32:
		return Params{}, fmt.Errorf("argon2id iterations %d is out of range", iterations)
	case parallelism < 0 || parallelism > math.MaxUint8:
		return Params{}, fmt.Errorf("argon2id parallelism %d is out of range", parallelism)
	}
	p := DefaultParams()
	p.Memory, p.Iterations, p.Parallelism = uint32(memoryKiB), uint32(iterations), uint8(parallelism)
	return p, nil
}

// Validate rejects parameters below the OWASP recommendation or too small
// to be meaningful.
func (p Params) Validate() error {
	if err := p.sane(); err != nil {
		return err
	}
	// The OWASP Password Storage Cheat Sheet's equivalent Argon2id
	// configurations (memory KiB at an iteration count); reaching any one of
	// them is the minimum accepted.
	floor := [...]struct{ memory, iterations uint32 }{
		{47104, 1}, {19456, 2}, {12288, 3}, {9216, 4}, {7168, 5},
	}
	for _, f := range floor {
		if p.Iterations >= f.iterations && p.Memory >= f.memory {
			return nil
		}
	}
	return fmt.Errorf("argon2id parameters m=%d KiB, t=%d are below the OWASP minimum (for example m=19456, t=2)", p.Memory, p.Iterations)
}

func (p Params) sane() error {
	switch {
	case p.Parallelism < 1:
		return fmt.Errorf("argon2id parallelism must be at least 1")
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("argon2id iterations must be 1 to %d", maxIterations)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory must be %d to %d KiB", 8*uint32(p.Parallelism), maxMemory)
	case p.SaltLength < 16 || p.SaltLength > maxSaltLength:
		return fmt.Errorf("argon2id salt must be 16 to %d bytes", maxSaltLength)
	case p.KeyLength < 16 || p.KeyLength > maxKeyLength:
		return fmt.Errorf("argon2id key must be 16 to %d bytes", maxKeyLength)
	}
	return nil
}

// Config tunes a Hasher.
type Config struct {
	Params Params
	// MaxConcurrent bounds hashes running at once (default: the number of
	// cores divided by Parallelism, at least 1). Each running hash holds
	// Params.Memory of RAM.
	MaxConcurrent int
	// MaxWaiting bounds callers queued for a slot (default 64 per slot);
	// beyond it Hash and Verify fail fast with EUNAVAILABLE instead of
	// piling up goroutines and memory.
	MaxWaiting int
}

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params     Params
	slots      chan struct{}
	maxWaiting int64
	waiting    atomic.Int64
	dummy      string
	// derive is argon2.IDKey; tests observe it to prove both login paths do
	// the same work.
	derive func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// New returns a Hasher; it refuses parameters below the OWASP minimum.
func New(cfg Config) (*Hasher, error) {
	if err := cfg.Params.Validate(); err != nil {
		return nil, err
	}
	return newHasher(cfg)
}

// newHasher skips the OWASP floor so tests can run with cheap parameters.
func newHasher(cfg Config) (*Hasher, error) {
	if err := cfg.Params.sane(); err != nil {
		return nil, err
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = max(1, runtime.GOMAXPROCS(0)/int(cfg.Params.Parallelism))
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = 64 * cfg.MaxConcurrent
	}
	h := &Hasher{
		params:     cfg.Params,
		slots:      make(chan struct{}, cfg.MaxConcurrent),
		maxWaiting: int64(cfg.MaxWaiting),
		derive:     argon2.IDKey,
	}
	// The dummy hash has the current parameters, so verifying against it
	// costs what verifying a real user's password costs.
	dummyPassword := make([]byte, 32)
	_, _ = rand.Read(dummyPassword)
	salt, p := h.newSalt(), h.params
	h.dummy = encode(p, salt, h.derive(dummyPassword, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength))
	return h, nil
}

func (h *Hasher) newSalt() []byte {
	salt := make([]byte, h.params.SaltLength)
	_, _ = rand.Read(salt)
	return salt
}

// Params returns the parameters new hashes use.
func (h *Hasher) Params() Params { return h.params }

// acquire waits for a hashing slot, giving up when ctx ends or the queue is
// full.
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return nil, domain.Errorf(domain.EUNAVAILABLE, "too many password checks in progress; retry shortly")
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-ctx.Done():
		return nil, domain.WrapError(domain.EUNAVAILABLE, "password check timed out", ctx.Err())
	}
}

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > maxPasswordLen {
		return "", domain.Errorf(domain.EUNPROCESSABLE, "password is too long")
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	salt := h.newSalt()
	p := h.params
	key := h.derive([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return encode(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded. A
// malformed hash is an error, never a match.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordLen {
		// Still spend the work, so the length check is not a timing oracle.
		return false, h.VerifyDummy(ctx, password)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	got := h.derive([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends the work of one Verify and matches nothing. Call it
// when the user does not exist (or is disabled), so a login's duration does
// not reveal which usernames exist.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	p, salt, want, err := decode(h.dummy)
	if err != nil {
		return err
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	got := h.derive([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	_ = subtle.ConstantTimeCompare(got, want)
	return nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// the current ones (or cannot be read), so a successful login can upgrade
// it.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := decode(encoded)
	if err != nil {
		return true
	}
	return p.Memory != h.params.Memory || p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism || p.SaltLength != h.params.SaltLength ||
		p.KeyLength != h.params.KeyLength
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func errMalformed() error {
	return domain.Errorf(domain.EINTERNAL, "stored password hash is malformed")
}

// decode parses $argon2id$v=19$m=M,t=T,p=P$salt$hash.
func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errMalformed()
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, errMalformed()
	}
	var p Params
	for i, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return Params{}, nil, nil, errMalformed()
		}
		switch {
		case i == 0 && k == "m":
			p.Memory = uint32(n)
		case i == 1 && k == "t":
			p.Iterations = uint32(n)
		case i == 2 && k == "p" && n <= 255:
			p.Parallelism = uint8(n)
		default:
			return Params{}, nil, nil, errMalformed()
		}
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, errMalformed()
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return Params{}, nil, nil, errMalformed()
	}
	if len(salt) > maxSaltLength || len(key) > maxKeyLength {
		return Params{}, nil, nil, errMalformed()
	}
	p.SaltLength, p.KeyLength = uint32(len(salt)), uint32(len(key)) //nolint:gosec // G115: both lengths are bounded just above
	if p.sane() != nil {
		return Params{}, nil, nil, errMalformed()
	}
	return p, salt, key, nil
}
