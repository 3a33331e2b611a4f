package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/s3test"
	"github.com/securevault/vault/streamseal"
)

func TestMain(m *testing.M) { os.Exit(s3test.Run(m)) }

// fileClient speaks the file endpoints of one vaultd.
type fileClient struct {
	t     *testing.T
	base  string
	token string
}

func (c fileClient) request(method, path string, body io.Reader, headers ...string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	return resp
}

func (c fileClient) json(method, path string, body io.Reader, want int, out any, headers ...string) {
	c.t.Helper()
	resp := c.request(method, path, body, headers...)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	require.Equal(c.t, want, resp.StatusCode, "%s %s: %s", method, path, data)
	if out != nil {
		require.NoError(c.t, json.Unmarshal(data, out), string(data))
	}
}

// uploadForm posts a multipart form, streamed from content.
func (c fileClient) uploadForm(name, tags string, content []byte) domain.FileSummary {
	c.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("name", name)
		_ = mw.WriteField("tags", tags)
		part, err := mw.CreateFormFile("file", filepath.Base(name))
		if err == nil {
			_, err = part.Write(content)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	var out domain.FileSummary
	c.json(http.MethodPost, "/api/v1/files", pr, http.StatusCreated, &out, "Content-Type", mw.FormDataContentType())
	return out
}

// download returns the status and body; a transfer the server aborted
// comes back as a read error.
func (c fileClient) download(path string, headers ...string) (int, http.Header, []byte, error) {
	c.t.Helper()
	resp := c.request(http.MethodGet, path, nil, headers...)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

// onlyBlob is the path of the one object the posix backend holds for a
// version of a file.
func onlyBlob(t *testing.T, b s3test.Bucket, fileID string, version int64) string {
	t.Helper()
	var found []string
	require.NoError(t, filepath.WalkDir(b.Path(domain.BlobKeyPrefix(fileID)), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(filepath.Base(p), strings.TrimPrefix(domain.BlobKeyVersionPrefix(fileID, version), domain.BlobKeyPrefix(fileID))) {
			found = append(found, p)
		}
		return nil
	}))
	require.Len(t, found, 1, "one stored object for version %d", version)
	return found[0]
}

// TestFilesEndToEndOnS3 runs the file endpoints of a real vaultd against a
// real S3 server (versitygw): upload, list, download, range, versions,
// soft delete, restore, destroy; then a flipped byte in the stored object
// and a truncated object both fail the download.
func TestFilesEndToEndOnS3(t *testing.T) {
	t.Parallel()
	bucket := s3test.New(t)
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	for k, v := range bucket.Env() {
		d.env[k] = v
	}
	inst := d.start(t)
	admin := inst.adminClient(t)
	c := fileClient{t: t, base: inst.baseURL, token: admin.token}

	// Three segments and a bit, so ranges cross segment boundaries.
	content := make([]byte, 3*streamseal.SegmentSize+1234)
	_, _ = rand.Read(content)
	sum := sha256.Sum256(content)
	f := c.uploadForm("e2e/report.bin", "q1,env:prod", content)
	require.Equal(t, "e2e/report.bin", f.Name)
	require.EqualValues(t, len(content), f.Size)
	require.Equal(t, hex.EncodeToString(sum[:]), f.SHA256)
	require.EqualValues(t, 1, f.CurrentVersion)
	base := "/api/v1/files/" + f.ID

	// Only ciphertext reached the bucket.
	stored, err := os.ReadFile(onlyBlob(t, bucket, f.ID, 1))
	require.NoError(t, err)
	require.EqualValues(t, streamseal.SealedSize(int64(len(content))), len(stored))
	require.False(t, bytes.Contains(stored, content[:64]), "the stored object is ciphertext")

	var page struct {
		Items []domain.FileSummary `json:"items"`
	}
	c.json(http.MethodGet, "/api/v1/files?prefix=e2e/&tag=q1", nil, http.StatusOK, &page)
	require.Len(t, page.Items, 1)
	require.Equal(t, f.ID, page.Items[0].ID)
	// The log holds the digest sealed; reads open it with the version's key.
	require.Equal(t, hex.EncodeToString(sum[:]), page.Items[0].SHA256)
	var got1 domain.FileSummary
	c.json(http.MethodGet, base, nil, http.StatusOK, &got1)
	require.Equal(t, hex.EncodeToString(sum[:]), got1.SHA256)
	// A caller who may only list the file sees it, not its digest.
	lister := roleWith(t, admin, "e2e-lister", []map[string]any{{"effect": "allow", "actions": []string{"list"}, "resources": []string{"files/e2e/**"}}})
	createdID(t)(admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": "e2e-lister", "password": "a-long-passphrase-2026", "roles": []string{lister}}))
	listing := &client{t: t, base: inst.baseURL}
	listing.login("e2e-lister", "a-long-passphrase-2026")
	status, body := listing.do(http.MethodGet, "/api/v1/files?prefix=e2e/", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.NoError(t, json.Unmarshal(body, &page))
	require.Len(t, page.Items, 1)
	require.Equal(t, f.ID, page.Items[0].ID)
	require.Empty(t, page.Items[0].SHA256)

	status, hd, got, err := c.download(base + "/download")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, content, got)
	require.Equal(t, "attachment; filename=\"report.bin\"; filename*=UTF-8''report.bin", hd.Get("Content-Disposition"))
	require.Equal(t, `"1"`, hd.Get("ETag"))

	from, to := streamseal.SegmentSize-10, 2*streamseal.SegmentSize+10
	status, hd, got, err = c.download(base+"/download", "Range", "bytes="+strconv.Itoa(from)+"-"+strconv.Itoa(to))
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, status)
	require.Equal(t, content[from:to+1], got)
	require.Equal(t, "bytes "+strconv.Itoa(from)+"-"+strconv.Itoa(to)+"/"+strconv.Itoa(len(content)), hd.Get("Content-Range"))

	second := []byte("the second version")
	var v2 domain.FileSummary
	c.json(http.MethodPut, base, bytes.NewReader(second), http.StatusOK, &v2, "If-Match", `"1"`, "Content-Type", "text/plain")
	require.EqualValues(t, 2, v2.CurrentVersion)
	c.json(http.MethodPut, base, bytes.NewReader(second), http.StatusPreconditionFailed, nil, "If-Match", `"1"`)
	var versions struct {
		Items []domain.FileVersionInfo `json:"items"`
	}
	c.json(http.MethodGet, base+"/versions", nil, http.StatusOK, &versions)
	require.Len(t, versions.Items, 2)
	secondSum := sha256.Sum256(second)
	require.Equal(t, hex.EncodeToString(secondSum[:]), v2.SHA256)
	require.Equal(t, hex.EncodeToString(sum[:]), versions.Items[0].SHA256)
	require.Equal(t, hex.EncodeToString(secondSum[:]), versions.Items[1].SHA256)
	status, hd, got, err = c.download(base + "/download")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, second, got)
	require.Equal(t, "text/plain", hd.Get("Content-Type"))
	status, _, got, err = c.download(base + "/download?version=1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, content, got)

	// If-Range: a download resumed across a new version starts over
	// instead of splicing version 1's start onto version 2's end.
	for _, tc := range []struct {
		name, path, ifRange string
		wantStatus          int
		want                []byte
	}{
		{"the version it names", "/download?version=1", `"1"`, http.StatusPartialContent, content[2:10]},
		{"the current version it names", "/download", `"2"`, http.StatusPartialContent, second[2:10]},
		{"a version since replaced", "/download", `"1"`, http.StatusOK, second},
		{"a weak tag", "/download", `W/"2"`, http.StatusOK, second},
		{"a date (downloads carry no Last-Modified)", "/download", time.Now().UTC().Format(http.TimeFormat), http.StatusOK, second},
		{"garbage", "/download", "\xff not a validator", http.StatusOK, second},
	} {
		status, _, got, err = c.download(base+tc.path, "Range", "bytes=2-9", "If-Range", tc.ifRange)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.wantStatus, status, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}

	c.json(http.MethodDelete, base, nil, http.StatusNoContent, nil)
	status, _, _, err = c.download(base + "/download")
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, status)
	restored := c.request(http.MethodPost, base+"/restore", nil)
	var restoredFile domain.FileSummary
	require.NoError(t, json.NewDecoder(restored.Body).Decode(&restoredFile))
	require.NoError(t, restored.Body.Close())
	require.Equal(t, http.StatusOK, restored.StatusCode)
	require.Equal(t, hex.EncodeToString(secondSum[:]), restoredFile.SHA256, "the answer opens the current version's digest")
	beforeDestroy := restored.Header.Get(api.HeaderPosition)
	require.NotEmpty(t, beforeDestroy)
	status, _, _, err = c.download(base + "/download")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	// Destroy shreds version 1: its key and its object are gone.
	v1Object := onlyBlob(t, bucket, f.ID, 1)
	var afterDestroy domain.FileSummary
	c.json(http.MethodPost, base+"/versions/1/destroy", nil, http.StatusOK, &afterDestroy)
	require.Equal(t, hex.EncodeToString(secondSum[:]), afterDestroy.SHA256, "version 2 is still current")
	status, _, _, err = c.download(base + "/download?version=1")
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, status)
	_, err = inst.app.dataKeys.Get(context.Background(), f.ID, 1)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "the data key is deleted")
	_, err = os.Stat(v1Object)
	require.True(t, errors.Is(err, fs.ErrNotExist), "the object is deleted")
	// Its digest went with its key, in the present and in the past.
	c.json(http.MethodGet, base+"/versions", nil, http.StatusOK, &versions)
	require.Equal(t, domain.FileVersionStateDestroyed, versions.Items[0].State)
	require.Empty(t, versions.Items[0].SHA256)
	require.Equal(t, hex.EncodeToString(secondSum[:]), versions.Items[1].SHA256)
	c.json(http.MethodGet, base+"/versions?at_position="+beforeDestroy, nil, http.StatusOK, &versions)
	require.Equal(t, domain.FileVersionStateActive, versions.Items[0].State, "live at that instant")
	require.Empty(t, versions.Items[0].SHA256, "but its digest is shredded now")
	require.Equal(t, hex.EncodeToString(secondSum[:]), versions.Items[1].SHA256)

	// The timeline shows every change and every download.
	var history struct {
		Items []struct {
			Type            string                    `json:"type"`
			Changes         map[string]map[string]any `json:"changes"`
			RevealedVersion int64                     `json:"revealed_version"`
		} `json:"items"`
	}
	c.json(http.MethodGet, base+"/history", nil, http.StatusOK, &history)
	counts := map[string]int{}
	for _, e := range history.Items {
		counts[e.Type]++
		if e.Type == domain.EventFileVersionDestroyed {
			require.Equal(t, "destroyed", e.Changes["versions.1"]["to"])
		}
	}
	require.Equal(t, map[string]int{
		domain.EventFileCreated: 1, domain.EventFileVersionAdded: 2, domain.EventFileDeleted: 1,
		domain.EventFileRestored: 1, domain.EventFileVersionDestroyed: 1, domain.EventFileDownloaded: 11,
	}, counts)

	var diff struct {
		Existed           bool                     `json:"existed_at_from"`
		VersionsAdded     []domain.FileVersionInfo `json:"versions_added"`
		VersionsDestroyed []domain.FileVersionInfo `json:"versions_destroyed"`
		Downloads         []map[string]any         `json:"downloads"`
	}
	c.json(http.MethodGet, base+"/diff?from=1", nil, http.StatusOK, &diff)
	require.False(t, diff.Existed)
	require.Len(t, diff.VersionsAdded, 2)
	require.Len(t, diff.VersionsDestroyed, 1)
	require.Len(t, diff.Downloads, 11)

	// Tampering with what S3 holds: a large file, so the failure comes
	// after the first segment went out and the connection is aborted.
	big := c.uploadForm("e2e/big.bin", "", content)
	path := onlyBlob(t, bucket, big.ID, 1)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	bigURL := "/api/v1/files/" + big.ID + "/download"

	flipped := bytes.Clone(good)
	flipped[streamseal.SegmentOffset(2)+100] ^= 0x01
	require.NoError(t, os.WriteFile(path, flipped, 0o600))
	status, _, got, err = c.download(bigURL)
	require.Equal(t, http.StatusOK, status, "the first segments verified")
	require.Error(t, err, "a flipped byte aborts the transfer")
	require.Less(t, len(got), len(content))
	require.Equal(t, content[:len(got)], got, "only verified bytes were sent")

	require.NoError(t, os.WriteFile(path, good[:streamseal.SegmentOffset(3)], 0o600))
	status, _, got, err = c.download(bigURL)
	require.Equal(t, http.StatusOK, status)
	require.Error(t, err, "a truncated object aborts the transfer")
	require.Less(t, len(got), len(content))

	// A tampered first segment fails before any byte: a clean 500.
	flipped = bytes.Clone(good)
	flipped[streamseal.HeaderSize+3] ^= 0x80
	require.NoError(t, os.WriteFile(path, flipped, 0o600))
	status, _, got, err = c.download(bigURL)
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, status, string(got))

	// Restored, it downloads again.
	require.NoError(t, os.WriteFile(path, good, 0o600))
	status, _, got, err = c.download(bigURL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, content, got)

	// Every download was audited before its first byte.
	events, err := inst.app.store.ReadStream(context.Background(), domain.FileAccessStream(big.ID), 0, 100)
	require.NoError(t, err)
	require.Len(t, events, 4, "four downloads of the big file")
}
