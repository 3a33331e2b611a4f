package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestResendVerificationEndToEnd: a user whose verification mail was lost
// asks for another; a real SMTP server receives it and its link verifies
// the address, after which the user logs in. Asking for an address nobody
// has, and for one already verified, answers the same 202 and sends
// nothing; every request is in the audit log.
func TestResendVerificationEndToEnd(t *testing.T) {
	t.Parallel()
	d, srv := selfRegistration(t)
	inst := d.start(t)
	anon := &client{t: t, base: inst.baseURL}
	password := "first-passphrase-of-d"

	status, body := anon.do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"username": "dave", "email": "dave@example.com", "password": password,
	})
	require.Equal(t, http.StatusCreated, status, string(body))
	srv.Wait(t, 1, 30*time.Second) // the first mail: lost in a spam folder

	resend := func(address string) string {
		t.Helper()
		status, body := anon.do(http.MethodPost, "/api/v1/auth/resend-verification", map[string]string{"email": address})
		require.Equal(t, http.StatusAccepted, status, string(body))
		return string(body)
	}
	unknown := resend("nobody@example.com")
	known := resend("Dave@Example.com")
	require.JSONEq(t, unknown, known, "the same answer either way")

	mails := srv.Wait(t, 2, 30*time.Second)
	require.Equal(t, []string{"dave@example.com"}, mails[1].To)
	header, text, _ := mails[1].Message(t)
	require.Contains(t, header.Get("Subject"), "Verify")
	require.Contains(t, text, "dave")
	path, _ := follow(t, mails[1].Link(t), testPublicURL+"/api/v1/auth/verify-email")
	status, body = anon.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	dave := &client{t: t, base: inst.baseURL}
	dave.login("dave", password)

	verified := resend("dave@example.com")
	require.JSONEq(t, unknown, verified, "a verified address answers the same")

	admin := inst.adminClient(t)
	status, body = admin.do(http.MethodGet, "/api/v1/audit/logs?action=auth.resend_verification", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var audit struct {
		Items []struct {
			Outcome string `json:"outcome"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(body, &audit))
	outcomes := map[string]int{}
	for _, e := range audit.Items {
		outcomes[e.Outcome]++
	}
	require.Equal(t, map[string]int{"allowed": 1, "failed": 2}, outcomes, "one request matched, two did not")

	for _, m := range srv.Mails() {
		require.False(t, strings.Contains(strings.Join(m.To, ","), "nobody@"), "nothing is sent for an unknown address")
	}
	require.Len(t, srv.Mails(), 2, "the registration's mail and the one asked for again")
}
