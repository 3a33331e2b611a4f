package api

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/password"
)

// BenchmarkLoginStorm measures logins/s with the production Argon2id
// parameters (password.DefaultParams) through the whole HTTP path, while a
// prober measures /healthz latency: logins are meant to be slow, the rest
// of the server must not be. Run with -benchtime=Nx (each login costs tens
// of milliseconds of one core).
func BenchmarkLoginStorm(b *testing.B) {
	e := newIdentityEnv(b, identityEnvOptions{params: password.DefaultParams(), bootstrap: true})
	body := map[string]string{"username": domain.AdminUsername, "password": testAdminPassword}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		stop      = make(chan struct{})
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			start := time.Now()
			if res := e.do(http.MethodGet, "/healthz", "", nil); res.code != http.StatusOK {
				b.Errorf("healthz answered %d", res.code)
			}
			mu.Lock()
			latencies = append(latencies, time.Since(start))
			mu.Unlock()
		}
	}()

	b.SetParallelism(8) // a storm: many more logins in flight than cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := e.do(http.MethodPost, "/api/v1/auth/login", "", body); res.code != http.StatusOK {
				b.Errorf("login answered %d: %s", res.code, res.raw)
			}
		}
	})
	b.StopTimer()
	close(stop)
	<-done

	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	mu.Lock()
	defer mu.Unlock()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "healthz-p50-ms")
	b.ReportMetric(pct(0.99), "healthz-p99-ms")
	b.ReportMetric(pct(1.0), "healthz-max-ms")
}
