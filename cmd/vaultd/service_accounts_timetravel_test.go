package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestServiceAccountAsOfReadsAsTheReadModelDidThen: after every change of a
// service account (created, described, credentials added, rotated and
// revoked, disabled, deleted) the test keeps what the present read answered
// (account, credentials, its listing entry); at the end, each of those
// instants read back with at_position answers exactly that, folded from the
// log, deletion included.
func TestServiceAccountAsOfReadsAsTheReadModelDidThen(t *testing.T) {
	t.Parallel()
	env := newSAEnv(t)
	admin := env.admin
	ctx := context.Background()
	role := roleWith(t, admin, "tt-reader", []map[string]any{{"effect": "allow", "actions": []string{"read"}, "resources": []string{"secrets/app/*"}}})
	base := "/api/v1/service-accounts"

	type seen struct {
		position    int64
		account     map[string]any
		credentials []any
		listed      []any // the account's entry in the listing, if any
	}
	decode := func(status int, body []byte, want int) map[string]any {
		t.Helper()
		require.Equal(t, want, status, string(body))
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m), string(body))
		return m
	}
	entries := func(listing map[string]any, id string) []any {
		var out []any
		for _, item := range listing["items"].([]any) {
			if item.(map[string]any)["id"] == id {
				out = append(out, item)
			}
		}
		return out
	}
	read := func(id, query string) seen {
		t.Helper()
		var s seen
		status, body := admin.do(http.MethodGet, base+"/"+id+query, nil)
		if status == http.StatusNotFound {
			s.account = nil
		} else {
			s.account = decode(status, body, http.StatusOK)
			status, body = admin.do(http.MethodGet, base+"/"+id+"/credentials"+query, nil)
			s.credentials = decode(status, body, http.StatusOK)["items"].([]any)
		}
		status, body = admin.do(http.MethodGet, base+query, nil)
		s.listed = entries(decode(status, body, http.StatusOK), id)
		return s
	}
	var history []seen
	snapshot := func(id string) {
		t.Helper()
		head, err := env.inst.app.store.HeadPosition(ctx)
		require.NoError(t, err)
		s := read(id, "")
		s.position = head
		history = append(history, s)
	}

	id := createdID(t)(admin.do(http.MethodPost, base, map[string]any{"name": "timetravel", "description": "first", "roles": []string{role}}))
	snapshot(id)
	status, body := admin.do(http.MethodPut, base+"/"+id, map[string]any{"description": "second"})
	require.Equal(t, http.StatusOK, status, string(body))
	snapshot(id)
	ci := newCredential(t, admin, id, map[string]any{"name": "ci"})
	snapshot(id)
	deploy := newCredential(t, admin, id, map[string]any{"name": "deploy", "allowed_cidrs": []string{"10.0.0.0/8"}, "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339Nano)})
	snapshot(id)
	status, body = admin.do(http.MethodPost, base+"/"+id+"/credentials/"+ci.ID+"/rotate", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	snapshot(id)
	status, body = admin.do(http.MethodDelete, base+"/"+id+"/credentials/"+deploy.ID, nil)
	require.Equal(t, http.StatusNoContent, status, string(body))
	snapshot(id)
	status, body = admin.do(http.MethodPut, base+"/"+id, map[string]any{"disabled": true})
	require.Equal(t, http.StatusOK, status, string(body))
	snapshot(id)
	status, body = admin.do(http.MethodDelete, base+"/"+id, nil)
	require.Equal(t, http.StatusNoContent, status, string(body))
	snapshot(id)

	require.Len(t, history[3].credentials, 2, "both credentials were live")
	require.Nil(t, history[len(history)-1].account, "deleted")
	for i, want := range history {
		got := read(id, "?at_position="+strconv.FormatInt(want.position, 10))
		require.Equal(t, want.account, got.account, "step %d: the account as of position %d", i, want.position)
		require.Equal(t, want.credentials, got.credentials, "step %d: its credentials", i)
		require.Equal(t, want.listed, got.listed, "step %d: its listing entry", i)
	}

	// Who may see it then is decided with the caller's policies now.
	nobody := createdID(t)(admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": "tt-nobody", "password": "a-long-passphrase-2026"}))
	require.NotEmpty(t, nobody)
	other := &client{t: t, base: env.inst.baseURL}
	other.login("tt-nobody", "a-long-passphrase-2026")
	at := "?at_position=" + strconv.FormatInt(history[2].position, 10)
	status, body = other.do(http.MethodGet, base+"/"+id+at, nil)
	require.Equal(t, http.StatusForbidden, status, string(body))
	status, body = other.do(http.MethodGet, base+"/"+id+"/credentials"+at, nil)
	require.Equal(t, http.StatusForbidden, status, string(body))
	status, body = other.do(http.MethodGet, base+at, nil)
	require.Empty(t, entries(decode(status, body, http.StatusOK), id))
}
