package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/eventstore"
	"github.com/securevault/vault/keys"
	"github.com/securevault/vault/password"
	"github.com/securevault/vault/projections/secrets"
	"github.com/securevault/vault/queries"
)

// Shape of the generated histories.
const (
	// historyBenchBatch is how many rotations one append writes while a
	// history is generated.
	historyBenchBatch = 50
	// historyBenchPage is the page the timed history reads ask for.
	historyBenchPage = 100
	// historyBenchPassword is the bootstrap admin's, on a scratch database.
	historyBenchPassword = "history-bench-correct-horse"
)

// historyTarget is one generated secret and the instants its reads ask
// about.
type historyTarget struct {
	versions int
	id       string
	events   int
	reveals  int
	// middle is the position of the secret's middle event, rangeEnd that of
	// the event historyBenchPage events later: a diff over a fixed span.
	middle, rangeEnd int64
}

// benchHistory measures time travel over secrets with long histories:
// the first and a middle page of GET /secrets/{id}/history, a diff over a
// fixed span in the middle, and GET /secrets/{id}?at_position= in the
// middle, at each history length, each beside the figure at the shortest.
// The histories are appended straight to the event store (rotations under
// the default retention, metadata updates, reveals); the timed reads go
// through the API's handlers in-process, authentication included.
func benchHistory(ctx context.Context, logger *slog.Logger, adminURL string, sizes []int, budget time.Duration, maxQueries int) error {
	if len(sizes) == 0 {
		return domain.Errorf(domain.EINVALID, "-versions needs at least one size")
	}
	db, err := newScratchDB(ctx, logger, adminURL, 8)
	if err != nil {
		return err
	}
	defer db.drop(ctx)
	store, err := newBenchStoreWith(db, logger, eventstore.Options{Upcasters: wire.Upcasters()})
	if err != nil {
		return err
	}
	defer store.Close()
	svc := commands.NewService(store, nil, logger, commands.Options{Snapshots: wire.Snapshots(store)})

	root := make([]byte, 32)
	_, _ = rand.Read(root)
	keyring, err := keys.NewKeyring(ctx, db.pool, root, logger, keys.KeyringOptions{})
	if err != nil {
		return err
	}
	defer keyring.Close()
	dataKeys := keys.NewStore(db.pool, keyring, logger)
	sec, err := commands.NewSecrets(svc, commands.SecretDeps{
		DataKeys: dataKeys, ReadModel: secrets.NewQuery(db.pool), KeyProvider: keys.ProviderLocal,
	})
	if err != nil {
		return err
	}
	hasher, err := password.New(password.Config{Params: password.Params{Memory: 7168, Iterations: 5, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	if err != nil {
		return err
	}
	tokenKeys, err := authtoken.NewKeyring(rand.Text() + rand.Text())
	if err != nil {
		return err
	}
	tokens, err := authtoken.New(tokenKeys, authtoken.Config{AccessTTL: time.Hour})
	if err != nil {
		return err
	}
	ident, err := commands.NewIdentity(svc, commands.IdentityDeps{Hasher: hasher, Tokens: tokens, DataKeys: dataKeys}, commands.IdentityOptions{LoginIPRate: -1, LoginAccountRate: -1})
	if err != nil {
		return err
	}
	reads, err := wire.NewQueries(queries.NewService(store, nil, logger, queries.Options{Snapshots: wire.Snapshots(store)}), db.pool, tokens, nil)
	if err != nil {
		return err
	}
	server, err := api.New(api.Config{}, api.Deps{Logger: logger, Authenticator: reads.Authenticator})
	if err != nil {
		return err
	}
	server.MountIdentity(api.IdentityDeps{Commands: ident, Queries: reads.Identity})
	server.MountSecrets(api.SecretsDeps{Commands: sec, Queries: reads.Secrets})
	if _, err := ident.Bootstrap(ctx, historyBenchPassword); err != nil {
		return err
	}
	h := &inProcessClient{handler: server.Handler()}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := h.do(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"username": domain.AdminUsername, "password": historyBenchPassword}, &login); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	h.token = login.AccessToken

	targets := make([]historyTarget, 0, len(sizes))
	for _, n := range sizes {
		began := time.Now()
		target, err := generateHistory(ctx, store, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "generated a secret with %d versions (%d events, %d reveals) in %s\n",
			n, target.events, target.reveals, time.Since(began).Round(time.Millisecond))
		targets = append(targets, target)
	}

	type scenario struct {
		name string
		path func(h historyTarget) string
	}
	scenarios := []scenario{
		{"history, first page", func(h historyTarget) string {
			return fmt.Sprintf("/api/v1/secrets/%s/history?limit=%d", h.id, historyBenchPage)
		}},
		{"history, middle page", func(h historyTarget) string {
			return fmt.Sprintf("/api/v1/secrets/%s/history?limit=%d&cursor=%s", h.id, historyBenchPage, domain.EncodePositionCursor(h.middle))
		}},
		{"diff over 100 events", func(h historyTarget) string {
			return fmt.Sprintf("/api/v1/secrets/%s/diff?from=%d&to=%d", h.id, h.middle, h.rangeEnd)
		}},
		{"get ?at_position= (middle)", func(h historyTarget) string {
			return fmt.Sprintf("/api/v1/secrets/%s?at_position=%d", h.id, h.middle)
		}},
		{"versions ?at_position= (middle)*", func(h historyTarget) string {
			return fmt.Sprintf("/api/v1/secrets/%s/versions?at_position=%d", h.id, h.middle)
		}},
	}
	fmt.Printf("time travel through the API handlers in-process, one client. After one cold read of each, the sizes take turns,\n")
	fmt.Printf("one read each, for up to %d rounds or %s per size, so the machine's noise falls on every size alike.\n", maxQueries, budget)
	fmt.Printf("(cold: the first read, which may fold past snapshots and store them; * lists every version, so it grows with the history by design)\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tversions\tevents\tcold\tp50\tp90\treads\tvs shortest\t")
	for _, sc := range scenarios {
		read := func(target historyTarget) (time.Duration, error) {
			t0 := time.Now()
			if err := h.do(ctx, http.MethodGet, sc.path(target), nil, nil); err != nil {
				return 0, fmt.Errorf("%s at %d versions: %w", sc.name, target.versions, err)
			}
			return time.Since(t0), nil
		}
		cold := make([]time.Duration, len(targets))
		lat := make([][]time.Duration, len(targets))
		for i, target := range targets {
			if cold[i], err = read(target); err != nil {
				return err
			}
		}
		for began := time.Now(); len(lat[0]) < maxQueries && (len(lat[0]) < 3 || time.Since(began) < budget*time.Duration(len(targets))); {
			for i, target := range targets {
				d, err := read(target)
				if err != nil {
					return err
				}
				lat[i] = append(lat[i], d)
			}
		}
		var base time.Duration
		for i, target := range targets {
			slices.Sort(lat[i])
			p50 := lat[i][len(lat[i])/2]
			if i == 0 {
				base = p50
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%.2fx\t\n", sc.name, target.versions, target.events, roundLatency(cold[i]),
				roundLatency(p50), roundLatency(lat[i][len(lat[i])*9/10]), len(lat[i]), float64(p50)/float64(base))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return reportSnapshots(ctx, db, targets)
}

// generateHistory appends a secret with n versions: rotations in batches,
// retention destroying the oldest beyond the default ten, a metadata update
// every tenth rotation and a reveal every fourth, as an administrator would
// leave them.
func generateHistory(ctx context.Context, store *eventstore.Store, n int) (historyTarget, error) {
	md := domain.Metadata{Actor: domain.NewID(), ActorName: "bench", ClientIP: "192.0.2.9", UserAgent: "vaultbench", RequestID: "bench"}
	target := historyTarget{versions: n}
	s, err := domain.NewSecret(domain.NewID(), fmt.Sprintf("bench/history/%d-%s", n, randomHex(4)), "generated", []string{"bench"})
	if err != nil {
		return target, err
	}
	target.id = s.ID()
	sealed := make([]byte, 60)
	for done := 0; done < n; {
		var reveals []domain.NewEvent
		for range min(historyBenchBatch, n-done) {
			done++
			_, _ = rand.Read(sealed)
			if _, err := s.AddVersion(s.NextVersion(), sealed, keys.ProviderLocal, false, domain.DefaultKeepVersions); err != nil {
				return target, err
			}
			if done%10 == 0 {
				if err := s.UpdateMetadata(fmt.Sprintf("generated, rotation %d", done), []string{"bench", "rotated"}[:1+done/10%2]); err != nil {
					return target, err
				}
			}
			if done%4 == 0 {
				reveals = append(reveals, domain.NewSecretRevealedEvent(s.ID(), s.CurrentVersion(), md))
			}
		}
		appends := []domain.StreamAppend{s.StreamAppend(md)}
		if len(reveals) > 0 {
			appends = append(appends, domain.StreamAppend{StreamID: domain.SecretAccessStream(s.ID()), Expected: domain.ExpectAny, Events: reveals})
			target.reveals += len(reveals)
		}
		if _, err := store.AppendStreams(ctx, appends...); err != nil {
			return target, err
		}
		s.Committed()
	}
	target.events = int(s.Version())
	mid, err := store.ReadStream(ctx, s.StreamID(), s.Version()/2-1, historyBenchPage+1)
	if err != nil {
		return target, err
	}
	if len(mid) == 0 {
		return target, fmt.Errorf("secret %s has no middle", s.ID())
	}
	target.middle, target.rangeEnd = mid[0].Position, mid[len(mid)-1].Position
	return target, nil
}

// reportSnapshots prints how many snapshots each secret has and how large
// its newest one is: the state stays the size of the live versions.
func reportSnapshots(ctx context.Context, db *scratchDB, targets []historyTarget) error {
	for _, target := range targets {
		var rows, newest int
		err := db.pool.QueryRow(ctx, `SELECT count(*), COALESCE((SELECT octet_length(state) FROM stream_snapshots
			WHERE stream_id = $1 ORDER BY position DESC LIMIT 1), 0) FROM stream_snapshots WHERE stream_id = $1`,
			domain.StreamID(domain.SecretAggregate, target.id)).Scan(&rows, &newest)
		if err != nil {
			// The table of snapshots by position does not exist before
			// migration 00090.
			fmt.Printf("snapshots of the %d-version secret: not available (%v)\n", target.versions, err)
			continue
		}
		fmt.Printf("snapshots of the %d-version secret: %d stored, the newest %d bytes\n", target.versions, rows, newest)
	}
	return nil
}

// inProcessClient sends requests straight to the API handler.
type inProcessClient struct {
	handler http.Handler
	token   string
}

func (c *inProcessClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequestWithContext(ctx, method, path, rd)
	req.RemoteAddr = "192.0.2.9:4000"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, path, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
	if out != nil {
		return json.Unmarshal(rec.Body.Bytes(), out)
	}
	return nil
}

// parseSizes reads a comma-separated list of history lengths.
func parseSizes(v string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, domain.Errorf(domain.EINVALID, "-versions must list positive numbers, not %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
