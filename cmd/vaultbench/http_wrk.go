package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkRequest is a scenario as wrk sends it: wrk (a C load generator) is how
// the issue's own figures were taken, and on a two-core machine it leaves
// vaultd the CPU that vaultbench's Go client would otherwise take from it.
type wrkRequest struct {
	method string
	paths  []string // each connection cycles through these, from its own offset
	body   requestBody
}

// requestBody is what a scenario sends; both load generators make a fresh
// one for every request.
type requestBody int

const (
	noBody         requestBody = iota
	newSecretBody              // {"name": a name never used before, "value": random}
	newVersionBody             // {"value": random}
)

// wrkScript is the Lua program wrk runs: each thread numbers its requests
// from its own range so created names never collide across threads, and
// walks the paths from its own offset so two threads rarely rotate the same
// secret at once.
const wrkScript = `
local paths = {%s}
local method = %q
local body_kind = %d
local run = %q
local headers = {["Authorization"] = %q, ["Content-Type"] = "application/json"}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + tid)
  n = tid * 100000000
  at = (tid * 7919) %% #paths
end
local function hex(k)
  local t = {}
  for i = 1, k do t[i] = string.format("%%02x", math.random(0, 255)) end
  return table.concat(t)
end
function request()
  n = n + 1
  at = at %% #paths + 1
  local body = nil
  if body_kind == 1 then
    body = string.format('{"name":"bench/wrk/%%s/%%d","value":"%%s"}', run, n, hex(16))
  elseif body_kind == 2 then
    body = string.format('{"value":"%%s"}', hex(16))
  end
  return wrk.format(method, paths[at], headers, body)
end
`

var (
	wrkTotal     = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m),`)
	wrkQuantile  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	wrkNon2xx    = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocketErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk drives req at base with `clients` connections on two threads for d.
// Any non-2xx answer or socket error fails the scenario: a rate of refusals
// is not a rate of requests served.
func runWrk(ctx context.Context, base, token string, clients int, d time.Duration, req wrkRequest) (result, error) {
	quoted := make([]string, len(req.paths))
	for i, p := range req.paths {
		quoted[i] = strconv.Quote(p)
	}
	script := fmt.Sprintf(wrkScript, strings.Join(quoted, ", "), req.method, int(req.body), randomHex(4), "Bearer "+token)
	dir, err := os.MkdirTemp("", "vaultbench-wrk-")
	if err != nil {
		return result{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // best effort: a temporary directory
	path := filepath.Join(dir, "scenario.lua")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return result{}, err
	}
	threads := min(2, clients)
	cmd := exec.CommandContext(ctx, "wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(clients), //nolint:gosec // G204: fixed program, our own arguments
		"-d"+strconv.Itoa(max(1, int(d.Seconds())))+"s", "--latency", "-s", path, base)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("wrk: %w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return parseWrk(out.String())
}

func parseWrk(out string) (result, error) {
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		return result{}, fmt.Errorf("wrk: %s answers were not 2xx:\n%s", m[1], out)
	}
	if m := wrkSocketErr.FindStringSubmatch(out); m != nil {
		return result{}, fmt.Errorf("wrk: socket errors:\n%s", out)
	}
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("wrk: no request count in its output:\n%s", out)
	}
	ops, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return result{}, fmt.Errorf("wrk: request count: %w", err)
	}
	elapsed, err := wrkDuration(m[2], m[3])
	if err != nil {
		return result{}, err
	}
	res := result{ops: ops, elapsed: elapsed, quantiles: make(map[float64]time.Duration)}
	for _, q := range wrkQuantile.FindAllStringSubmatch(out, -1) {
		v, err := wrkDuration(q[2], q[3])
		if err != nil {
			return result{}, err
		}
		p, _ := strconv.ParseFloat(q[1], 64) // matched \d+
		res.quantiles[p/100] = v
	}
	return res, nil
}

func wrkDuration(value, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return 0, fmt.Errorf("wrk: duration %q: %w", value, err)
	}
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[unit]
	return time.Duration(v * float64(scale)), nil
}
