package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAWriteOnOneReplicaIsReadByTheNextRequestOnAnother: writes answer
// without waiting for any read model, so read-your-writes rests on the
// reader: a request waits until its read models have applied what
// committed before it arrived. Each rotation, creation and audit record
// written on replica A is in the very next answer of replica B — the
// secret, the listing, the versions and the audit log — with no header,
// no retry and no sleep in between, again and again.
func TestAWriteOnOneReplicaIsReadByTheNextRequestOnAnother(t *testing.T) {
	t.Parallel()
	a, b := twoReplicas(t)
	onA := a.adminClient(t)
	onB := &client{t: t, base: b.baseURL, token: onA.token}

	status, body := onA.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": "ryw/rotated", "value": "v-" + randomText(t, 8)})
	require.Equal(t, http.StatusCreated, status, string(body))
	id := idOf(t, body)

	type secret struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		CurrentVersion int64  `json:"current_version"`
		VersionCount   int64  `json:"version_count"`
	}
	decode := func(body []byte, v any) {
		t.Helper()
		require.NoError(t, json.Unmarshal(body, v), string(body))
	}
	for want := int64(2); want <= 21; want++ {
		status, body := onA.do(http.MethodPut, "/api/v1/secrets/"+id+"/rotate", map[string]any{"value": "v-" + randomText(t, 8)})
		require.Equal(t, http.StatusOK, status, string(body))

		status, body = onB.do(http.MethodGet, "/api/v1/secrets/"+id, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var got secret
		decode(body, &got)
		require.Equal(t, want, got.CurrentVersion, "the secret on B right after rotation %d on A", want)
		// Read again, B answers from memory: still the rotation's row.
		status, body = onB.do(http.MethodGet, "/api/v1/secrets/"+id, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		decode(body, &got)
		require.Equal(t, want, got.CurrentVersion, "the secret on B read again after rotation %d on A", want)

		status, body = onB.do(http.MethodGet, "/api/v1/secrets?prefix=ryw/", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var page struct {
			Items []secret `json:"items"`
		}
		decode(body, &page)
		require.Len(t, page.Items, 1, string(body))
		require.Equal(t, want, page.Items[0].CurrentVersion, "the listing on B right after rotation %d on A", want)

		status, body = onB.do(http.MethodGet, "/api/v1/secrets/"+id+"/versions", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var versions struct {
			Items []struct {
				Version int64 `json:"version"`
			} `json:"items"`
		}
		decode(body, &versions)
		require.Equal(t, want, versions.Items[len(versions.Items)-1].Version, "the versions on B right after rotation %d on A", want)

		// The reveal on A is an audited write too: its record is in B's
		// audit log at once.
		status, body = onA.do(http.MethodGet, "/api/v1/secrets/"+id+"/reveal", nil)
		require.Equal(t, http.StatusOK, status, string(body))
		q := url.Values{"resource_id": {id}, "action": {"secret.reveal"}, "limit": {"100"}}
		status, body = onB.do(http.MethodGet, "/api/v1/audit/logs?"+q.Encode(), nil)
		require.Equal(t, http.StatusOK, status, string(body))
		var audit struct {
			Items []json.RawMessage `json:"items"`
		}
		decode(body, &audit)
		require.Len(t, audit.Items, int(want-1), "the audit log on B right after reveal %d on A", want-1)
	}

	// A new secret on A is in B's next listing.
	for i := range 10 {
		name := "ryw/new-" + itoa(int64(i))
		status, body := onA.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": name, "value": "v"})
		require.Equal(t, http.StatusCreated, status, string(body))
		status, body = onB.do(http.MethodGet, "/api/v1/secrets?prefix="+url.QueryEscape(name), nil)
		require.Equal(t, http.StatusOK, status, string(body))
		require.Contains(t, string(body), `"name":"`+name+`"`, "B's listing right after the create on A")
	}
}
