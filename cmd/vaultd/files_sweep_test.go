package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
)

// failAfter yields n bytes, then fails, as a client that goes away.
type failAfter struct{ n int }

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("client went away")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

// blobFiles lists what the dev blob directory holds.
func blobFiles(t *testing.T, inst *instance) []string {
	t.Helper()
	var out []string
	root := filepath.Join(inst.app.cfg.StateDir, "files")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	require.NoError(t, err)
	return out
}

// An upload the client aborts half way appends nothing and leaves no blob;
// a blob no event names is swept once older than the grace, and a blob an
// event names never is.
func TestAbortedUploadsLeaveNothingAndOrphansAreSwept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	inst := d.start(t)
	admin := inst.adminClient(t)
	kept := plantFile(t, admin, "prod/kept.bin", "kept")
	head, err := inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)

	req, err := http.NewRequest(http.MethodPost, inst.baseURL+"/api/v1/files?name=prod/aborted.bin", io.NopCloser(&failAfter{n: 300 << 10}))
	require.NoError(t, err)
	req.ContentLength = 1 << 20
	req.Header.Set("Authorization", "Bearer "+admin.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		require.GreaterOrEqual(t, resp.StatusCode, 400)
	}
	// The client gives up before the server does: wait until the server has
	// answered the aborted upload (and so cleaned up after it) before
	// looking at the blobs, or a temp file still being removed is seen.
	answered := regexp.MustCompile(`vault_http_requests_total\{code="[45]\d\d",method="POST",route="/api/v1/files"\} [1-9]`)
	require.Eventually(t, func() bool {
		resp, err := http.Get(inst.baseURL + "/metrics")
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(resp.Body)
		return err == nil && answered.Match(body)
	}, 10*time.Second, 20*time.Millisecond, "the server answered the aborted upload")
	require.Eventually(t, func() bool {
		for _, f := range blobFiles(t, inst) {
			if !strings.HasPrefix(f, "files/"+kept+"/") {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "the aborted upload's blob is gone")
	after, err := inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, head, after, "an aborted upload appends nothing")

	// A crashed upload's blob: stored, never named by an event.
	orphan := domain.BlobKey(domain.NewID(), 1, domain.NewID())
	orphanPath := filepath.Join(inst.app.cfg.StateDir, "files", filepath.FromSlash(orphan))
	require.NoError(t, os.MkdirAll(filepath.Dir(orphanPath), 0o700))
	require.NoError(t, os.WriteFile(orphanPath, []byte("ciphertext"), 0o600))
	live := blobFiles(t, inst)
	require.Len(t, live, 2)

	st, err := inst.app.files.SweepOrphanBlobs(ctx, time.Hour)
	require.NoError(t, err)
	require.Zero(t, st.Deleted, "nothing is older than the grace")

	old := time.Now().Add(-2 * time.Hour)
	for _, f := range live {
		p := filepath.Join(inst.app.cfg.StateDir, "files", filepath.FromSlash(f))
		require.NoError(t, os.Chtimes(p, old, old))
	}
	st, err = inst.app.files.SweepOrphanBlobs(ctx, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 1, st.Deleted)
	remaining := blobFiles(t, inst)
	require.Len(t, remaining, 1)
	require.Equal(t, filter(live, kept), remaining, "the named blob is kept")
	_, err = os.Stat(orphanPath)
	require.True(t, errors.Is(err, fs.ErrNotExist), "the orphan is swept")

	// The file whose blob was kept still downloads.
	status, _, _ := admin.raw(http.MethodGet, "/api/v1/files/"+kept, "")
	require.Equal(t, http.StatusOK, status)
}

func filter(files []string, id string) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f, "files/"+id+"/") {
			out = append(out, f)
		}
	}
	return out
}

// Concurrent new versions of one file race for the same version number
// (and so the same data key); the losers' cleanup must never shred the
// key the winner recorded: every live version still downloads.
func TestRacingNewVersionsKeepTheWinnersKey(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	inst := d.start(t)
	admin := inst.adminClient(t)
	id := plantFile(t, admin, "prod/raced.bin", "v1")
	put := func(i int) int {
		req, err := http.NewRequest(http.MethodPut, inst.baseURL+"/api/v1/files/"+id, strings.NewReader(strings.Repeat("v", i+1)))
		if err != nil {
			return 0
		}
		req.Header.Set("Authorization", "Bearer "+admin.token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	statuses := make(chan int, 8)
	for i := range 8 {
		go func() { statuses <- put(i) }()
	}
	for range 8 {
		s := <-statuses
		require.Contains(t, []int{http.StatusOK, http.StatusConflict}, s)
	}
	var versions struct {
		Items []domain.FileVersionInfo `json:"items"`
	}
	status, body := admin.do(http.MethodGet, "/api/v1/files/"+id+"/versions", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, json.Unmarshal(body, &versions))
	require.GreaterOrEqual(t, len(versions.Items), 2)
	for _, v := range versions.Items {
		status, _, got := admin.raw(http.MethodGet, "/api/v1/files/"+id+"/download?version="+strconv.FormatInt(v.Version, 10), "")
		require.Equal(t, http.StatusOK, status, "version %d downloads: %s", v.Version, got)
		require.EqualValues(t, v.Size, len(got))
	}
}
