package password

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/securevault/vault/domain"
)

// cheap keeps tests fast; only TestDefaultParams pays the real cost.
func cheap() Params {
	return Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func newCheap(t *testing.T, cfg Config) *Hasher {
	t.Helper()
	if cfg.Params == (Params{}) {
		cfg.Params = cheap()
	}
	h, err := newHasher(cfg)
	require.NoError(t, err)
	return h
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	with := func(f func(*Params)) Params { p := DefaultParams(); f(&p); return p }
	cases := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"default", DefaultParams(), true},
		{"OWASP m=19MiB t=2", with(func(p *Params) { p.Memory, p.Iterations, p.Parallelism = 19456, 2, 1 }), true},
		{"OWASP m=46MiB t=1", with(func(p *Params) { p.Memory, p.Iterations = 47104, 1 }), true},
		{"OWASP m=7MiB t=5", with(func(p *Params) { p.Memory, p.Iterations = 7168, 5 }), true},
		{"below: m=19MiB t=1", with(func(p *Params) { p.Memory, p.Iterations = 19456, 1 }), false},
		{"below: m=12MiB t=2", with(func(p *Params) { p.Memory, p.Iterations = 12288, 2 }), false},
		{"cheap test params", cheap(), false},
		{"no parallelism", with(func(p *Params) { p.Parallelism = 0 }), false},
		{"short salt", with(func(p *Params) { p.SaltLength = 8 }), false},
		{"short key", with(func(p *Params) { p.KeyLength = 8 }), false},
		{"absurd memory", with(func(p *Params) { p.Memory = 1 << 30 }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
			_, err = New(Config{Params: tc.p})
			require.Equal(t, tc.ok, err == nil, "New applies the same floor")
		})
	}
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newCheap(t, Config{})
	pw := "correct horse battery staple"
	encoded, err := h.Hash(ctx, pw)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`), encoded)
	require.True(t, strings.HasPrefix(encoded, "$argon2id$v=19$m=64,t=1,p=1$"))
	require.NotContains(t, encoded, pw)

	again, err := h.Hash(ctx, pw)
	require.NoError(t, err)
	require.NotEqual(t, encoded, again, "every hash has a fresh salt")

	cases := []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", pw, true},
		{"wrong password", "correct horse battery stapl", false},
		{"case matters", strings.ToUpper(pw), false},
		{"empty", "", false},
		{"over-long", strings.Repeat("x", maxPasswordLen+1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, tc.password, encoded)
			require.NoError(t, err)
			require.Equal(t, tc.want, ok)
		})
	}
}

func TestVerifyMatchesReferenceDerivation(t *testing.T) {
	t.Parallel()
	// Built by hand from golang.org/x/crypto/argon2 so the PHC layout (raw
	// standard base64, field order) is checked independently of encode.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("hunter2hunter2"), salt, 2, 128, 2, 24)
	encoded := fmt.Sprintf("$argon2id$v=19$m=128,t=2,p=2$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	h := newCheap(t, Config{})
	ok, err := h.Verify(context.Background(), "hunter2hunter2", encoded)
	require.NoError(t, err)
	require.True(t, ok, "a hash made with other parameters still verifies")
	require.True(t, h.NeedsRehash(encoded))
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	h := newCheap(t, Config{})
	good, err := h.Hash(context.Background(), "some long password")
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	join := func(p ...string) string { return strings.Join(p, "$") }
	cases := map[string]string{
		"empty":            "",
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":          join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"wrong version":    join("", "argon2id", "v=16", parts[3], parts[4], parts[5]),
		"params reordered": join("", "argon2id", parts[2], "t=1,m=64,p=1", parts[4], parts[5]),
		"missing param":    join("", "argon2id", parts[2], "m=64,t=1", parts[4], parts[5]),
		"huge memory":      join("", "argon2id", parts[2], "m=4294967295,t=1,p=1", parts[4], parts[5]),
		"zero iterations":  join("", "argon2id", parts[2], "m=64,t=0,p=1", parts[4], parts[5]),
		"bad salt":         join("", "argon2id", parts[2], parts[3], "!!!", parts[5]),
		"padded base64":    join("", "argon2id", parts[2], parts[3], parts[4], parts[5]+"="),
		"short salt":       join("", "argon2id", parts[2], parts[3], "c2FsdA", parts[5]),
		"long salt":        join("", "argon2id", parts[2], parts[3], base64.RawStdEncoding.EncodeToString(make([]byte, maxSaltLength+1)), parts[5]),
		"long key":         join("", "argon2id", parts[2], parts[3], parts[4], base64.RawStdEncoding.EncodeToString(make([]byte, maxKeyLength+1))),
		"extra field":      good + "$x",
	}
	for name, encoded := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), "some long password", encoded)
			require.False(t, ok)
			require.Equal(t, domain.EINTERNAL, domain.ErrorCode(err))
			require.True(t, h.NeedsRehash(encoded))
		})
	}
}

func TestParamsFromInts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                      string
		memory, iterations, lanes int
		want                      Params
		wantErr                   string
	}{
		{name: "in range", memory: 19456, iterations: 2, lanes: 1, want: Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}},
		{name: "largest values", memory: math.MaxUint32, iterations: math.MaxUint32, lanes: math.MaxUint8, want: Params{Memory: math.MaxUint32, Iterations: math.MaxUint32, Parallelism: math.MaxUint8, SaltLength: 16, KeyLength: 32}},
		{name: "negative memory", memory: -1, iterations: 2, lanes: 1, wantErr: "memory"},
		{name: "memory past uint32", memory: math.MaxUint32 + 1, iterations: 2, lanes: 1, wantErr: "memory"},
		{name: "negative iterations", memory: 19456, iterations: -1, lanes: 1, wantErr: "iterations"},
		{name: "negative lanes would wrap to 255", memory: 19456, iterations: 2, lanes: -1, wantErr: "parallelism"},
		{name: "lanes past uint8", memory: 19456, iterations: 2, lanes: 256, wantErr: "parallelism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParamsFromInts(tc.memory, tc.iterations, tc.lanes)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newCheap(t, Config{})
	encoded, err := h.Hash(ctx, "a long enough password")
	require.NoError(t, err)
	require.False(t, h.NeedsRehash(encoded))

	for name, p := range map[string]Params{
		"more memory":     {Memory: 128, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		"more iterations": {Memory: 64, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		"more lanes":      {Memory: 64, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32},
		"longer key":      {Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 64},
	} {
		t.Run(name, func(t *testing.T) {
			stronger := newCheap(t, Config{Params: p})
			require.True(t, stronger.NeedsRehash(encoded))
			ok, err := stronger.Verify(ctx, "a long enough password", encoded)
			require.NoError(t, err)
			require.True(t, ok, "old hashes keep working until rehashed")
		})
	}
}

// derivation is one call of the key derivation function, minus the inputs
// that are secret or random.
type derivation struct {
	time, memory uint32
	threads      uint8
	keyLen       uint32
	saltLen      int
}

func observe(h *Hasher) *[]derivation {
	var mu sync.Mutex
	calls := &[]derivation{}
	inner := h.derive
	h.derive = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		mu.Lock()
		*calls = append(*calls, derivation{time, memory, threads, keyLen, len(salt)})
		mu.Unlock()
		return inner(pw, salt, time, memory, threads, keyLen)
	}
	return calls
}

func TestUnknownUserCostsTheSameWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newCheap(t, Config{Params: Params{Memory: 256, Iterations: 2, Parallelism: 2, SaltLength: 16, KeyLength: 32}})
	stored, err := h.Hash(ctx, "the user's real password")
	require.NoError(t, err)
	calls := observe(h)

	// The login paths: existing user with a wrong password, existing user
	// with the right one, unknown user, and an over-long password.
	ok, err := h.Verify(ctx, "a wrong password", stored)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = h.Verify(ctx, "the user's real password", stored)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, h.VerifyDummy(ctx, "a wrong password"))
	ok, err = h.Verify(ctx, strings.Repeat("y", maxPasswordLen+10), stored)
	require.NoError(t, err)
	require.False(t, ok)

	require.Len(t, *calls, 4, "each path derives exactly one key")
	for _, c := range *calls {
		require.Equal(t, (*calls)[0], c, "every path derives with the same cost parameters")
	}
	require.Equal(t, derivation{time: 2, memory: 256, threads: 2, keyLen: 32, saltLen: 16}, (*calls)[0])
}

func TestLimiterBoundsConcurrentHashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newCheap(t, Config{MaxConcurrent: 2, MaxWaiting: 100})
	var running, peak atomic.Int64
	inner := h.derive
	h.derive = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		defer running.Add(-1)
		return inner(pw, salt, time, memory, threads, keyLen)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := h.Hash(ctx, "password password")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, peak.Load(), int64(2))
	require.GreaterOrEqual(t, peak.Load(), int64(1))
}

func TestLimiterGivesUpInsteadOfPilingUp(t *testing.T) {
	t.Parallel()
	h := newCheap(t, Config{MaxConcurrent: 1, MaxWaiting: 1})
	entered, unblock := make(chan struct{}), make(chan struct{})
	inner := h.derive
	h.derive = func(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		entered <- struct{}{}
		<-unblock
		return inner(pw, salt, time, memory, threads, keyLen)
	}
	done := make(chan error)
	go func() {
		_, err := h.Hash(context.Background(), "holds the only slot")
		done <- err
	}()
	<-entered // the slot is taken

	t.Run("a cancelled wait fails with unavailable", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := h.Hash(ctx, "password password")
		require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	})
	t.Run("a full queue fails fast", func(t *testing.T) {
		waiterCtx, stopWaiter := context.WithCancel(context.Background())
		waiterDone := make(chan error)
		go func() { waiterDone <- h.VerifyDummy(waiterCtx, "queued") }()
		// Wait until the waiter occupies the single queue place.
		for h.waiting.Load() < 1 {
			select {
			case err := <-waiterDone:
				t.Fatalf("waiter returned early: %v", err)
			default:
				runtime.Gosched()
			}
		}
		_, err := h.Hash(context.Background(), "password password")
		require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
		stopWaiter()
		require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(<-waiterDone))
	})
	close(unblock)
	require.NoError(t, <-done)
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := New(Config{Params: DefaultParams()})
	require.NoError(t, err)
	encoded, err := h.Hash(ctx, "a real-cost password")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(encoded, "$argon2id$v=19$m=65536,t=3,p=2$"), encoded)
	ok, err := h.Verify(ctx, "a real-cost password", encoded)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = h.Verify(ctx, "a real-cost passwore", encoded)
	require.NoError(t, err)
	require.False(t, ok)
	require.False(t, h.NeedsRehash(encoded))
}

// BenchmarkLogin measures password checks per second with the default
// parameters, for a known user and for an unknown one (which must cost the
// same). Run with -cpu to see the limiter's effect.
func BenchmarkLogin(b *testing.B) {
	ctx := context.Background()
	h, err := New(Config{Params: DefaultParams()})
	require.NoError(b, err)
	encoded, err := h.Hash(ctx, "benchmark password")
	require.NoError(b, err)
	b.Run("known user", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := h.Verify(ctx, "benchmark password", encoded); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
	b.Run("unknown user", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := h.VerifyDummy(ctx, "benchmark password"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
}
