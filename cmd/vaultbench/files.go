package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/securevault/vault/internal/s3test"
	"github.com/securevault/vault/s3blob"
)

// benchFiles uploads and downloads one large file through a real vaultd
// (built from this checkout) backed by a real S3 server (versitygw), while
// sampling vaultd's RSS from /proc; the baseline is a raw S3 PUT and GET of
// the same bytes to the same server in the same run, through the same
// uploader settings s3blob uses.
func benchFiles(ctx context.Context, logger *slog.Logger, adminURL string, size int64) error {
	db, err := newScratchDB(ctx, logger, adminURL, 4)
	if err != nil {
		return err
	}
	defer db.drop(ctx)
	srv, err := s3test.Start()
	if err != nil {
		return fmt.Errorf("start the S3 server: %w", err)
	}
	defer srv.Stop()
	bucket, err := srv.CreateBucket(ctx, "bench-"+randomHex(4))
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "vaultbench-files-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	bin := filepath.Join(dir, "vaultd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vaultd") //nolint:gosec // G204: builds this checkout into a temporary directory of its own
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build vaultd: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	password := randomHex(16)
	vaultd := exec.CommandContext(ctx, bin) //nolint:gosec // G204: the vaultd just built
	vaultd.Env = append(os.Environ(),
		"VAULT_ENV=dev", "DATABASE_URL="+db.url, "NATS_URL=", "VAULT_DATA_DIR="+filepath.Join(dir, "data"),
		"VAULT_LISTEN_ADDR="+addr, "VAULT_ADMIN_PASSWORD="+password, "SECRET_KEY="+randomHex(32),
		"ENCRYPTION_KEY="+randomBase64(32), "VAULT_RATE_LIMIT_RPS=0", "VAULT_LOG_LEVEL=warn",
		// The OWASP floor, as TOOLING.md's idle figure: the login's hash
		// must not be what the RSS shows.
		"VAULT_ARGON2_MEMORY_KIB=19456", "VAULT_ARGON2_ITERATIONS=2", "VAULT_ARGON2_PARALLELISM=1",
		"VAULT_MAX_FILE_BYTES="+strconv.FormatInt(size+1, 10),
	)
	for k, v := range bucket.Env() {
		vaultd.Env = append(vaultd.Env, k+"="+v)
	}
	vaultd.Stdout, vaultd.Stderr = io.Discard, os.Stderr
	if err := vaultd.Start(); err != nil {
		return fmt.Errorf("start vaultd: %w", err)
	}
	defer func() {
		_ = vaultd.Process.Signal(os.Interrupt)
		_ = vaultd.Wait()
	}()
	c := &apiClient{base: "http://" + addr, http: &http.Client{}}
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		return err
	}
	if err := c.login(ctx, "admin", password); err != nil {
		return err
	}

	// The digest the upload must report, computed before anything is timed.
	want := sha256.New()
	if _, err := io.Copy(want, content(size)); err != nil {
		return err
	}
	wantSum := hex.EncodeToString(want.Sum(nil))

	// The raw baseline: the same bytes, the same server, s3blob's uploader;
	// both GETs hash what they read, as the check of the download must.
	raw := s3blob.NewWithClient(bucket.Name, bucket.Client())
	start := time.Now()
	if _, err := raw.Put(ctx, "raw/object", content(size)); err != nil {
		return fmt.Errorf("raw PUT: %w", err)
	}
	rawPut := time.Since(start)
	start = time.Now()
	out, err := bucket.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket.Name), Key: aws.String("raw/object")})
	if err != nil {
		return fmt.Errorf("raw GET: %w", err)
	}
	rawSum := sha256.New()
	n, err := io.Copy(rawSum, out.Body)
	out.Body.Close()
	if err != nil || n != size || hex.EncodeToString(rawSum.Sum(nil)) != wantSum {
		return fmt.Errorf("raw GET read %d of %d bytes: %v", n, size, err)
	}
	rawGet := time.Since(start)

	// Through vaultd, with RSS sampled meanwhile.
	pid := vaultd.Process.Pid
	time.Sleep(time.Second)
	idle, err := rss(pid)
	if err != nil {
		return err
	}
	sampler := startSampling(pid)
	start = time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/files?name=bench/big.bin", content(size))
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.http.Do(req) //nolint:gosec // G704: the vaultd this run started, on loopback
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("upload: status %d: %s", resp.StatusCode, body)
	}
	vaultPut := time.Since(start)
	upPeak := sampler.stop()
	var file struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(body, &file); err != nil {
		return err
	}
	if file.SHA256 != wantSum {
		return fmt.Errorf("upload: digest %s, sent %s", file.SHA256, wantSum)
	}

	time.Sleep(time.Second)
	idleDown, err := rss(pid)
	if err != nil {
		return err
	}
	sampler = startSampling(pid)
	start = time.Now()
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/files/"+file.ID+"/download", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err = c.http.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	got := sha256.New()
	n, err = io.Copy(got, resp.Body)
	resp.Body.Close()
	if err != nil || n != size || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: status %d, %d of %d bytes: %v", resp.StatusCode, n, size, err)
	}
	vaultGet := time.Since(start)
	downPeak := sampler.stop()
	if hex.EncodeToString(got.Sum(nil)) != file.SHA256 {
		return fmt.Errorf("download: the bytes differ from the upload")
	}

	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f MiB/s", float64(size)/(1<<20)/d.Seconds()) }
	fmt.Printf("files: %s through vaultd and S3 (versitygw), vaultd's RSS from /proc/%d/status\n", mib(size), pid)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transfer\traw S3\tvaultd\tvs raw\tRSS before\tRSS peak\tgrowth\t")
	fmt.Fprintf(tw, "upload\t%s\t%s\t%.2fx\t%s\t%s\t%s\t\n", rate(rawPut), rate(vaultPut), rawPut.Seconds()/vaultPut.Seconds(), mib(idle), mib(upPeak), mib(upPeak-idle))
	fmt.Fprintf(tw, "download\t%s\t%s\t%.2fx\t%s\t%s\t%s\t\n", rate(rawGet), rate(vaultGet), rawGet.Seconds()/vaultGet.Seconds(), mib(idleDown), mib(downPeak), mib(downPeak-idle))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Println("goals: throughput at least 0.5x raw S3; RSS growth over the idle figure (before the upload) under 64 MiB")
	return nil
}

// content is size reproducible pseudo-random bytes, generated as read.
func content(size int64) io.Reader {
	return io.LimitReader(bufio.NewReaderSize(rand.NewChaCha8([32]byte{7}), 1<<16), size)
}

// rss reads a process's resident set size from /proc.
func rss(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kib << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

type rssSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak int64
}

// startSampling records the largest RSS every 20 ms until stop.
func startSampling(pid int) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rss(pid); err == nil && v > s.peak {
				s.peak = v
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *rssSampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	return s.peak
}
