package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// plantFile uploads a small file through the API and returns its id.
func plantFile(t *testing.T, c *client, name, content string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+"/api/v1/files?name="+name, bytes.NewBufferString(content))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.ID
}

// hostileFileCases are the file endpoints' rows of
// TestHostileInputAnswers4xxNever5xx: malformed forms, names, ranges,
// versions and ids. None may store or record anything.
func hostileFileCases(t *testing.T, e *hostileEnv) []hostileCase {
	t.Helper()
	id := plantFile(t, e.admin, "prod/report.bin", "the report")
	form := func(parts ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(parts); i += 2 {
			b.WriteString("--b\r\nContent-Disposition: form-data; name=\"" + parts[i] + "\"\r\n\r\n" + parts[i+1] + "\r\n")
		}
		return b.String() + "--b--\r\n"
	}
	multipart := []string{"Content-Type", "multipart/form-data; boundary=b"}
	bin := []string{"Content-Type", "application/octet-stream"}
	files, file := "/api/v1/files", "/api/v1/files/"+id
	return []hostileCase{
		{"FileUploadMultipartWithoutBoundaryAnswers400", "POST", files, "x", []string{"Content-Type", "multipart/form-data"}, 400},
		{"FileUploadMalformedMultipartAnswers400", "POST", files, "garbage", multipart, 400},
		{"FileUploadMultipartWithoutFileAnswers400", "POST", files, form("name", "prod/x"), multipart, 400},
		{"FileUploadMultipartUnknownFieldAnswers400", "POST", files, form("name", "prod/x", "owner", "me", "file", "x"), multipart, 400},
		{"FileUploadMultipartDuplicateNameAnswers400", "POST", files, form("name", "prod/x", "name", "prod/y", "file", "x"), multipart, 400},
		{"FileUploadMultipartNULInNameAnswers400", "POST", files, form("name", "prod/a\x00b", "file", "x"), multipart, 400},
		{"FileUploadMultipartTraversalNameAnswers400", "POST", files, form("name", "prod/../etc", "file", "x"), multipart, 400},
		{"FileUploadMultipartInvalidUTF8NameAnswers400", "POST", files, form("name", "prod/\xff", "file", "x"), multipart, 400},
		{"FileUploadMultipartHugeFieldAnswers400", "POST", files, form("name", "prod/x", "description", strings.Repeat("d", 9<<10), "file", "x"), multipart, 400},
		{"FileUploadMultipartBadTagAnswers400", "POST", files, form("name", "prod/x", "tags", "Not A Tag", "file", "x"), multipart, 400},
		{"FileUploadMultipartWithQueryAnswers400", "POST", files + "?name=prod/x", form("file", "x"), multipart, 400},
		{"FileUploadRawNameWithNULByteAnswers400", "POST", files + "?name=prod/%00", "x", bin, 400},
		{"FileUploadRawNameWithInvalidUTF8Answers400", "POST", files + "?name=prod/%FF", "x", bin, 400},
		{"FileUploadRawTakenNameAnswers409", "POST", files + "?name=PROD/report.bin", "x", bin, 409},
		{"FileNewVersionIfMatchWithInvalidUTF8Answers400", "PUT", file, "x", append([]string{"If-Match", "\xff"}, bin...), 400},
		{"FileNewVersionStaleIfMatchAnswers412", "PUT", file, "x", append([]string{"If-Match", `"7"`}, bin...), 412},
		{"FileListCursorWithNULByteAnswers400", "GET", files + "?cursor=AA", "", nil, 400},
		{"FileListCursorOfAnotherAggregateAnswers400", "GET", files + "?cursor=" + cursorOf("secret-"+e.secretID), "", nil, 400},
		{"FileListPrefixWithTraversalAnswers400", "GET", files + "?prefix=prod/../", "", nil, 400},
		{"FileListPrefixWithInvalidUTF8Answers400", "GET", files + "?prefix=%FF", "", nil, 400},
		{"FileListAsOfCursorWithNULByteAnswers400", "GET", files + "?at_position=1&cursor=AA", "", nil, 400},
		{"FileHistoryCursorWithNULByteAnswers400", "GET", file + "/history?cursor=%00", "", nil, 400},
		{"FileHistoryCursorBeyondInt64Answers400", "GET", file + "/history?cursor=99999999999999999999", "", nil, 400},
		{"FileDiffFromWithInvalidUTF8Answers400", "GET", file + "/diff?from=%FF", "", nil, 400},
		{"FileDiffFromAfterToAnswers400", "GET", file + "/diff?from=5&to=1", "", nil, 400},
		{"FilePathIDWithNULByteAnswers404", "GET", "/api/v1/files/%00", "", nil, 404},
		{"FilePathIDWithInvalidUTF8Answers404", "GET", "/api/v1/files/%FF/versions", "", nil, 404},
		{"FileDownloadVersionWithNULByteAnswers400", "GET", file + "/download?version=%00", "", nil, 400},
		{"FileDownloadVersionBeyondInt64Answers400", "GET", file + "/download?version=99999999999999999999", "", nil, 400},
		{"FileDownloadRangeGarbageAnswers416", "GET", file + "/download", "", []string{"Range", "bytes=abc"}, 416},
		{"FileDownloadRangeBackwardsAnswers416", "GET", file + "/download", "", []string{"Range", "bytes=5-2"}, 416},
		{"FileDownloadRangeEmptySuffixAnswers416", "GET", file + "/download", "", []string{"Range", "bytes=-0"}, 416},
		{"FileDownloadRangeBeyondInt64Answers416", "GET", file + "/download", "", []string{"Range", "bytes=0-99999999999999999999"}, 416},
		{"FileDestroyVersionWithNULByteAnswers404", "POST", file + "/versions/%00/destroy", "", nil, 404},
	}
}

// plantFileCanary uploads a file whose content is a canary and checks it
// downloads intact, for TestCanaryNeverLeaves; it returns the canary.
func plantFileCanary(t *testing.T, c *client) string {
	t.Helper()
	canary := "FILE-CANARY-" + randomText(t, 24)
	id := plantFile(t, c, "prod/canary.txt", canary)
	req, err := http.NewRequest(http.MethodGet, c.base+"/api/v1/files/"+id+"/download", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got bytes.Buffer
	_, err = got.ReadFrom(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, canary, got.String(), "the file round-trips through encryption")
	return canary
}

// blobDump is everything the dev blob directory holds, as one string.
func blobDump(t *testing.T, inst *instance) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, filepath.WalkDir(filepath.Join(inst.app.cfg.StateDir, "files"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p) //nolint:gosec // G122: the test's own temporary directory
		b.Write(data)
		return err
	}))
	require.NotZero(t, b.Len(), "the file was stored")
	return b.String()
}
