package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/internal/smtptest"
)

// Where the links of the test mails point: the test follows them to the
// instance itself (verification) or acts as the UI (reset).
const (
	testPublicURL   = "http://vault.test"
	testFrontendURL = "http://ui.test"
)

// useTestSMTP starts a real SMTP server and points the deployment's mail
// at it (plain SMTP to loopback, which dev mode allows).
func useTestSMTP(t *testing.T, d *deployment) *smtptest.Server {
	t.Helper()
	srv := smtptest.Start(t)
	d.env[config.EnvEmailProvider] = config.EmailProviderSMTP
	d.env[config.EnvSMTPHost] = srv.Host
	d.env[config.EnvSMTPPort] = strconv.Itoa(srv.Port)
	d.env[config.EnvSMTPTLS] = config.SMTPNone
	d.env[config.EnvSMTPFrom] = "Secure Vault <vault@example.com>"
	d.env[config.EnvPublicURL] = testPublicURL
	d.env[config.EnvFrontendBaseURL] = testFrontendURL
	return srv
}

// selfRegistration is a deployment where anyone may register and must
// verify the address before logging in, its mail going to a real SMTP
// server.
func selfRegistration(t *testing.T) (*deployment, *smtptest.Server) {
	t.Helper()
	d := newDeployment(t)
	srv := useTestSMTP(t, d)
	d.env[config.EnvTestMode] = "true"
	d.env[config.EnvSelfRegistration] = "true"
	d.env[config.EnvRequireVerifiedEmail] = "true"
	return d, srv
}

// follow turns a mail's link into a request path on the instance: the link
// must point where the configuration says.
func follow(t *testing.T, link, base string) (path, token string) {
	t.Helper()
	require.True(t, strings.HasPrefix(link, base+"?token="), "%s points at %s", link, base)
	u, err := url.Parse(link)
	require.NoError(t, err)
	token = u.Query().Get("token")
	require.Len(t, token, 43, "32 random bytes in base64url")
	return u.RequestURI(), token
}

// TestAccountEmailEndToEnd registers, is refused a login until the address
// is verified, follows the verification link of the mail a real SMTP server
// received, resets the password through the reset mail's token (ending
// every session), and has a mail that the server keeps refusing
// dead-lettered in the audit log and the metrics. A forgot-password request
// for an address nobody has answers the same 202 and sends nothing.
func TestAccountEmailEndToEnd(t *testing.T) {
	t.Parallel()
	d, srv := selfRegistration(t)
	d.env[config.EnvEmailMaxAttempts] = "2"
	inst := d.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			_, a := inst.adminClient(t).do(http.MethodGet, "/api/v1/audit/logs?limit=5", nil)
			t.Log(string(a))
			for _, line := range strings.Split(d.logSink.String(), "\n") {
				if strings.Contains(line, `"component":"mail"`) {
					t.Log(line)
				}
			}
		}
	})
	anon := &client{t: t, base: inst.baseURL}
	password := "first-passphrase-of-a"

	status, body := anon.do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"username": "alice", "email": "alice@example.com", "password": password,
	})
	require.Equal(t, http.StatusCreated, status, string(body))
	var registered struct {
		ID    string   `json:"id"`
		Roles []string `json:"roles"`
	}
	require.NoError(t, json.Unmarshal(body, &registered))
	require.Empty(t, registered.Roles, "a registered user holds no roles")

	status, body = anon.do(http.MethodPost, "/api/v1/auth/login", map[string]string{"username": "alice", "password": password})
	require.Equal(t, http.StatusForbidden, status, string(body))
	require.Contains(t, string(body), "not verified")

	// The verification mail, over the product's SMTP client.
	mails := srv.Wait(t, 1, 30*time.Second)
	require.Equal(t, []string{"alice@example.com"}, mails[0].To)
	require.Equal(t, "vault@example.com", mails[0].From)
	header, text, html := mails[0].Message(t)
	require.Contains(t, header.Get("Subject"), "Verify")
	require.Contains(t, text, "alice")
	require.Contains(t, html, "<a href=")
	path, _ := follow(t, mails[0].Link(t), testPublicURL+"/api/v1/auth/verify-email")
	status, body = anon.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), `"verified"`)
	status, body = anon.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusBadRequest, status, "a verification link works once: %s", body)

	alice := &client{t: t, base: inst.baseURL}
	alice.login("alice", password)
	status, _ = alice.do(http.MethodGet, "/api/v1/status", nil)
	require.Equal(t, http.StatusForbidden, status, "authenticated, and holding no roles")

	// Forgot-password: an unknown address answers as a known one does.
	status, unknownBody := anon.do(http.MethodPost, "/api/v1/auth/forgot-password", map[string]string{"email": "nobody@example.com"})
	require.Equal(t, http.StatusAccepted, status)
	status, knownBody := anon.do(http.MethodPost, "/api/v1/auth/forgot-password", map[string]string{"email": "Alice@Example.com"})
	require.Equal(t, http.StatusAccepted, status)
	require.JSONEq(t, string(unknownBody), string(knownBody), "the same answer either way")

	mails = srv.Wait(t, 2, 30*time.Second)
	require.Equal(t, []string{"alice@example.com"}, mails[1].To)
	header, _, _ = mails[1].Message(t)
	require.Contains(t, header.Get("Subject"), "Reset")
	_, token := follow(t, mails[1].Link(t), testFrontendURL+"/reset-password")

	// The UI posts the token with the new password.
	newPassword := "second-passphrase-of-a"
	status, body = anon.do(http.MethodPost, "/api/v1/auth/reset-password", map[string]string{"token": token, "new_password": "short"})
	require.Equal(t, http.StatusUnprocessableEntity, status, "the password policy applies: %s", body)
	status, body = anon.do(http.MethodPost, "/api/v1/auth/reset-password", map[string]string{"token": token, "new_password": newPassword})
	require.Equal(t, http.StatusNoContent, status, string(body))
	status, _ = alice.do(http.MethodGet, "/api/v1/status", nil)
	require.Equal(t, http.StatusUnauthorized, status, "a reset ends every session")
	status, _ = anon.do(http.MethodPost, "/api/v1/auth/login", map[string]string{"username": "alice", "password": password})
	require.Equal(t, http.StatusUnauthorized, status)
	alice.login("alice", newPassword)
	status, body = anon.do(http.MethodPost, "/api/v1/auth/reset-password", map[string]string{"token": token, "new_password": "third-passphrase-of-a"})
	require.Equal(t, http.StatusBadRequest, status, "a reset token works once: %s", body)

	// An administrator's new user with an address gets a verification
	// mail too.
	admin := inst.adminClient(t)
	status, body = admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": "bob", "email": "bob@example.com", "password": "first-passphrase-of-b"})
	require.Equal(t, http.StatusCreated, status, string(body))
	mails = srv.Wait(t, 3, 30*time.Second)
	require.Equal(t, []string{"bob@example.com"}, mails[2].To)

	// A mail the server keeps refusing is dead-lettered after
	// VAULT_EMAIL_MAX_ATTEMPTS.
	srv.FailNext(1000, 451)
	status, body = admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": "carol", "email": "carol@example.com", "password": "first-passphrase-of-c"})
	require.Equal(t, http.StatusCreated, status, string(body))
	var audit []byte
	require.Eventually(t, func() bool {
		status, audit = admin.do(http.MethodGet, "/api/v1/audit/logs?action=mail.dead_letter", nil)
		return status == http.StatusOK && strings.Contains(string(audit), `"mail.dead_letter"`)
	}, 60*time.Second, 200*time.Millisecond, "the dead letter is in the audit log")
	require.Contains(t, string(audit), `"outcome":"failed"`, string(audit))
	_, metrics := admin.do(http.MethodGet, "/metrics", nil)
	require.Contains(t, string(metrics), `vault_mail_dead_letters_total{purpose="verify_email"} 1`)

	for _, m := range srv.Mails() {
		require.NotContains(t, m.To, "nobody@example.com", "forgot-password for an unknown address sends nothing")
	}
	require.Len(t, srv.Mails(), 3, "each mail was sent once")
}

// plantAccountEmail drives a verification and a reset through real mail
// for the canary test and returns what must never leave: the two tokens
// (as sent and as bytes) and the passwords set.
func plantAccountEmail(t *testing.T, inst *instance, admin *client, srv *smtptest.Server) []string {
	t.Helper()
	anon := &client{t: t, base: inst.baseURL}
	first, second := "PLANTED-MAIL-PW-"+randomText(t, 16), "PLANTED-RESET-PW-"+randomText(t, 16)
	before := len(srv.Mails())
	status, body := admin.do(http.MethodPost, "/api/v1/users", map[string]any{"username": "canarymail", "email": "canarymail@example.com", "password": first})
	require.Equal(t, http.StatusCreated, status, string(body))
	mails := srv.Wait(t, before+1, 30*time.Second)
	path, verifyToken := follow(t, mails[before].Link(t), testPublicURL+"/api/v1/auth/verify-email")
	status, body = anon.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	status, _ = anon.do(http.MethodPost, "/api/v1/auth/forgot-password", map[string]string{"email": "canarymail@example.com"})
	require.Equal(t, http.StatusAccepted, status)
	mails = srv.Wait(t, before+2, 30*time.Second)
	_, resetToken := follow(t, mails[before+1].Link(t), testFrontendURL+"/reset-password")
	status, body = anon.do(http.MethodPost, "/api/v1/auth/reset-password", map[string]string{"token": resetToken, "new_password": second})
	require.Equal(t, http.StatusNoContent, status, string(body))
	out := []string{first, second, verifyToken, resetToken}
	for _, tok := range []string{verifyToken, resetToken} {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		require.NoError(t, err)
		out = append(out, string(raw))
	}
	return out
}
