package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// benchHTTP measures the secrets API end to end against a real vaultd
// process (built from this checkout, on a scratch database, with embedded
// JetStream): create, rotate, masked get and reveal at 8 and 32 clients.
// The baselines, measured in the same run, are GET /healthz (the cost of
// the HTTP stack alone) and, on the same PostgreSQL at the same
// concurrency, a raw primary-key SELECT of a row shaped like the secrets
// read model's and a raw single-row INSERT of an event-shaped row. Beside
// each scenario it prints the PostgreSQL statements per request: vaultd's
// vault_db_statements_total (a pgx tracer on its pool, background
// pipelines included) over the scenario, divided by the requests served.
func benchHTTP(ctx context.Context, logger *slog.Logger, adminURL string, d time.Duration, opts httpOptions) error {
	db, err := newScratchDB(ctx, logger, adminURL, 32)
	if err != nil {
		return err
	}
	defer db.drop(ctx)

	dir, err := os.MkdirTemp("", "vaultbench-http-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // best effort: a temporary directory
	bin := filepath.Join(dir, "vaultd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vaultd") //nolint:gosec // G204: bin is a path in our own temporary directory
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build vaultd: %w", err)
	}

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	password := randomHex(16)
	vaultd := exec.CommandContext(ctx, bin) //nolint:gosec // G204: runs the vaultd this benchmark just built
	vaultd.Env = append(os.Environ(),
		"VAULT_ENV=dev",
		"DATABASE_URL="+db.url,
		"NATS_URL=",
		"VAULT_DATA_DIR="+filepath.Join(dir, "data"),
		"VAULT_LISTEN_ADDR="+addr,
		"VAULT_ADMIN_PASSWORD="+password,
		"SECRET_KEY="+randomHex(32),
		"ENCRYPTION_KEY="+randomBase64(32),
		"VAULT_RATE_LIMIT_RPS=0",
		"VAULT_LOG_LEVEL=warn",
	)
	vaultd.Stdout, vaultd.Stderr = io.Discard, os.Stderr
	if err := vaultd.Start(); err != nil {
		return fmt.Errorf("start vaultd: %w", err)
	}
	defer func() {
		_ = vaultd.Process.Signal(os.Interrupt)
		_ = vaultd.Wait()
	}()

	c := &apiClient{base: "http://" + addr, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
	}}
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	if err := c.login(ctx, "admin", password); err != nil {
		return err
	}

	// Each client works on its own secrets so rotations do not contend.
	const secretsPerClient = 4
	ids := make(map[int][]string)
	setup := func(clients int) error {
		for cl := range clients {
			for len(ids[cl]) < secretsPerClient {
				var out struct {
					ID string `json:"id"`
				}
				name := fmt.Sprintf("bench/c%d/s%d-%s", cl, len(ids[cl]), randomHex(4))
				if err := c.do(ctx, http.MethodPost, "/api/v1/secrets", map[string]any{"name": name, "value": randomHex(16)}, http.StatusCreated, &out); err != nil {
					return err
				}
				ids[cl] = append(ids[cl], out.ID)
			}
		}
		return nil
	}

	// Each scenario is one request shape, declared once: the Go client
	// sends it with c.do, wrk (-load wrk) from the same description.
	type scenario struct {
		name   string
		method string
		path   string // the path, or for perSecret the suffix after the secret's
		// perSecret requests go to the bench secrets: the Go client's
		// client cl to its own, wrk's connections to all of them in turn.
		perSecret bool
		body      requestBody
		want      int
	}
	secretPath := func(id, suffix string) string { return "/api/v1/secrets/" + id + suffix }
	scenarios := []scenario{
		{name: "GET /healthz (baseline)", method: http.MethodGet, path: "/healthz", want: http.StatusOK},
		{name: "create", method: http.MethodPost, path: "/api/v1/secrets", body: newSecretBody, want: http.StatusCreated},
		{name: "rotate", method: http.MethodPut, path: "/rotate", perSecret: true, body: newVersionBody, want: http.StatusOK},
		{name: "get (masked)", method: http.MethodGet, perSecret: true, want: http.StatusOK},
		{name: "reveal", method: http.MethodGet, path: "/reveal", perSecret: true, want: http.StatusOK},
	}
	drive := func(ctx context.Context, clients int, sc scenario) (result, error) {
		if opts.load == loadWrk {
			req := wrkRequest{method: sc.method, paths: []string{sc.path}, body: sc.body}
			if sc.perSecret {
				req.paths = nil
				for cl := range len(ids) {
					for _, id := range ids[cl] {
						req.paths = append(req.paths, secretPath(id, sc.path))
					}
				}
			}
			return runWrk(ctx, c.base, c.token, clients, d, req)
		}
		return run(ctx, clients, d, func(ctx context.Context, cl, i int) error {
			path := sc.path
			if sc.perSecret {
				path = secretPath(ids[cl][i%secretsPerClient], sc.path)
			}
			var body any
			switch sc.body {
			case newSecretBody:
				body = map[string]any{"name": fmt.Sprintf("bench/create/c%d/%d-%s", cl, i, randomHex(4)), "value": randomHex(16)}
			case newVersionBody:
				body = map[string]any{"value": randomHex(16)}
			case noBody:
			}
			return c.do(ctx, sc.method, path, body, sc.want, nil)
		})
	}

	raw, err := newRawBaselines(ctx, db)
	if err != nil {
		return err
	}
	var breakdown *statementBreakdown
	if opts.breakdown {
		if breakdown, err = newStatementBreakdown(ctx, db); err != nil {
			return err
		}
	}
	var details strings.Builder
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "clients\tscenario\treq/s\tvs baseline\tstatements/req\tCPU ms/req: vaultd / PostgreSQL / machine\tp50\tp99\t")
	cpuAround := func(drive func() (result, error)) (result, cpuSample, error) {
		before, err := sampleCPU("/proc", vaultd.Process.Pid)
		if err != nil {
			return result{}, cpuSample{}, err
		}
		res, err := drive()
		if err != nil {
			return res, cpuSample{}, err
		}
		after, err := sampleCPU("/proc", vaultd.Process.Pid)
		return res, after.sub(before), err
	}
	for _, clients := range opts.clientCounts() {
		if err := setup(clients); err != nil {
			return err
		}
		if err := raw.fill(ctx); err != nil {
			return err
		}
		rates := make(map[string]float64)
		cpus := make(map[string]cpuSample)
		ops := make(map[string]int64)
		var baseline float64
		for _, sc := range scenarios {
			if !opts.wants(sc.name) && baseline != 0 {
				continue
			}
			before, err := c.settledStatements(ctx)
			if err != nil {
				return err
			}
			var statements int64
			if breakdown != nil {
				if err := breakdown.reset(ctx); err != nil {
					return err
				}
			}
			// The CPU sample ends once the statements have settled, so
			// what the pipelines do after the last response is counted.
			var res result
			res, cpu, err := cpuAround(func() (result, error) {
				res, err := drive(ctx, clients, sc)
				if err != nil {
					return res, fmt.Errorf("%s at %d clients: %w", sc.name, clients, err)
				}
				after, err := c.settledStatements(ctx)
				statements = after - before
				return res, err
			})
			if err != nil {
				return err
			}
			if breakdown != nil && baseline != 0 {
				if err := breakdown.print(ctx, &details, fmt.Sprintf("%s at %d clients", sc.name, clients), res.ops); err != nil {
					return err
				}
			}
			if baseline == 0 {
				baseline = res.rate()
			}
			rates[sc.name] = res.rate()
			cpus[sc.name], ops[sc.name] = cpu, res.ops
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.3fx\t%.2f\t%s\t%s\t%s\t\n", clients, sc.name, res.rate(), res.rate()/baseline,
				float64(statements)/float64(max(res.ops, 1)), cpu.perRequest(res.ops, true),
				res.percentile(0.5).Round(10*time.Microsecond), res.percentile(0.99).Round(10*time.Microsecond))
		}
		// The raw baselines at the same concurrency, in the same run.
		sel, selCPU, err := cpuAround(func() (result, error) { return run(ctx, clients, d, raw.selectByKey) })
		if err != nil {
			return fmt.Errorf("raw SELECT: %w", err)
		}
		ins, insCPU, err := cpuAround(func() (result, error) { return run(ctx, clients, d, raw.insert) })
		if err != nil {
			return fmt.Errorf("raw INSERT: %w", err)
		}
		fmt.Fprintf(tw, "%d\traw primary-key SELECT\t%.0f\t\t1.00\t%s\t%s\t%s\t\n", clients, sel.rate(), selCPU.perRequest(sel.ops, false),
			sel.percentile(0.5).Round(10*time.Microsecond), sel.percentile(0.99).Round(10*time.Microsecond))
		fmt.Fprintf(tw, "%d\traw single-row INSERT\t%.0f\t\t1.00\t%s\t%s\t%s\t\n", clients, ins.rate(), insCPU.perRequest(ins.ops, false),
			ins.percentile(0.5).Round(10*time.Microsecond), ins.percentile(0.99).Round(10*time.Microsecond))
		// Beside each ratio of throughputs, the ratio of machine CPU per
		// request: what the throughput ratio can reach at most once the
		// cores are saturated.
		ratio := func(name, label string, base result, baseCPU cpuSample) {
			bound := "-"
			if c, ok := cpus[name]; ok && c.machine > 0 {
				perBase := float64(baseCPU.machine) / float64(max(base.ops, 1))
				perScenario := float64(c.machine) / float64(max(ops[name], 1))
				bound = fmt.Sprintf("CPU bound %.3fx", perBase/perScenario)
			}
			fmt.Fprintf(tw, "%d\t%s / %s\t%.3fx\t\t\t%s\t\t\t\n", clients, name, label, rates[name]/base.rate(), bound)
		}
		ratio("get (masked)", "raw SELECT", sel, selCPU)
		ratio("reveal", "raw SELECT", sel, selCPU)
		ratio("rotate", "raw INSERT", ins, insCPU)
		ratio("create", "raw INSERT", ins, insCPU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = io.WriteString(os.Stdout, details.String())
	return err
}

type apiClient struct {
	base  string
	http  *http.Client
	token string
}

func (c *apiClient) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := c.do(ctx, http.MethodGet, "/readyz", nil, http.StatusOK, nil); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("vaultd was not ready within %s", limit)
}

func (c *apiClient) login(ctx context.Context, username, password string) error {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"username": username, "password": password}, http.StatusOK, &out); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.token = out.AccessToken
	return nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
