package mail

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/smtptest"
	"github.com/securevault/vault/internal/testcerts"
)

func testMessage(t *testing.T) Message {
	t.Helper()
	tpl, err := LoadTemplates()
	require.NoError(t, err)
	m, err := tpl.Render(domain.TokenPurposeResetPassword, "alice@example.com", "alice", "http://ui.test/reset-password?token=TOKEN", 30*time.Minute, domain.NewID()+"@securevault")
	require.NoError(t, err)
	return m
}

// TestSendGridV3Request checks the request against what SendGrid's v3 mail
// send API takes: Bearer key, JSON with personalizations, from, subject,
// both bodies, and click tracking off (it would send the link through
// SendGrid's redirector); 429 and 5xx retry, other refusals are permanent.
func TestSendGridV3Request(t *testing.T) {
	t.Parallel()
	var got struct {
		auth, ctype, method, path string
		body                      map[string]any
	}
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.auth, got.ctype, got.method, got.path = r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Method, r.URL.Path
		raw, _ := io.ReadAll(r.Body)
		got.body = nil
		_ = json.Unmarshal(raw, &got.body)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errors":[{"message":"nope"}]}`))
	}))
	defer srv.Close()
	sg, err := NewSendGrid(SendGridConfig{APIKey: []byte("SG.test-key"), URL: srv.URL + "/v3/mail/send", From: "Secure Vault <vault@example.com>"})
	require.NoError(t, err)
	m := testMessage(t)
	require.NoError(t, sg.Send(context.Background(), m))
	require.Equal(t, "Bearer SG.test-key", got.auth)
	require.Equal(t, "application/json", got.ctype)
	require.Equal(t, http.MethodPost, got.method)
	require.Equal(t, "/v3/mail/send", got.path)
	pers := got.body["personalizations"].([]any)
	require.Len(t, pers, 1)
	require.Equal(t, []any{map[string]any{"email": "alice@example.com"}}, pers[0].(map[string]any)["to"])
	require.Equal(t, map[string]any{"email": "vault@example.com", "name": "Secure Vault"}, got.body["from"])
	require.Equal(t, m.Subject, got.body["subject"])
	content := got.body["content"].([]any)
	require.Len(t, content, 2)
	require.Equal(t, "text/plain", content[0].(map[string]any)["type"], "text/plain first, as v3 requires")
	require.Contains(t, content[0].(map[string]any)["value"], "http://ui.test/reset-password?token=TOKEN")
	require.Equal(t, "text/html", content[1].(map[string]any)["type"])
	tracking := got.body["tracking_settings"].(map[string]any)
	require.Equal(t, false, tracking["click_tracking"].(map[string]any)["enable"])

	for _, tc := range []struct {
		status    int
		permanent bool
	}{{http.StatusTooManyRequests, false}, {http.StatusBadGateway, false}, {http.StatusUnauthorized, true}, {http.StatusBadRequest, true}} {
		status = tc.status
		err := sg.Send(context.Background(), m)
		require.Error(t, err, tc.status)
		require.Equal(t, tc.permanent, Permanent(err), tc.status)
	}
}

// TestSMTPStartTLSAndAuth sends over STARTTLS with AUTH PLAIN to a real
// server, and refuses a server that does not offer STARTTLS rather than
// send in clear.
func TestSMTPStartTLSAndAuth(t *testing.T) {
	t.Parallel()
	ca := testcerts.NewCA(t, "smtp test CA")
	srv := smtptest.Start(t, smtptest.WithTLS(ca.Server(t, "localhost").TLS), smtptest.WithUser("mailer", "mail-password"))
	tlsConfig := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	s, err := NewSMTP(SMTPConfig{Host: srv.Host, Port: srv.Port, Username: "mailer", Password: []byte("mail-password"),
		From: "Secure Vault <vault@example.com>", Security: TLSStartTLS, TLS: tlsConfig})
	require.NoError(t, err)
	m := testMessage(t)
	require.NoError(t, s.Send(context.Background(), m))
	mails := srv.Wait(t, 1, 10*time.Second)
	require.True(t, mails[0].TLS, "sent after STARTTLS")
	require.Equal(t, "mailer", mails[0].User)
	header, text, html := mails[0].Message(t)
	require.Equal(t, "<"+m.MessageID+">", header.Get("Message-ID"))
	require.Contains(t, text, "http://ui.test/reset-password?token=TOKEN")
	require.Contains(t, html, `href="http://ui.test/reset-password?token=TOKEN"`)
	require.Equal(t, "http://ui.test/reset-password?token=TOKEN", mails[0].Link(t))

	wrong, err := NewSMTP(SMTPConfig{Host: srv.Host, Port: srv.Port, Username: "mailer", Password: []byte("wrong"),
		From: "vault@example.com", Security: TLSStartTLS, TLS: tlsConfig})
	require.NoError(t, err)
	require.Error(t, wrong.Send(context.Background(), m))

	plain := smtptest.Start(t)
	s, err = NewSMTP(SMTPConfig{Host: plain.Host, Port: plain.Port, From: "vault@example.com", Security: TLSStartTLS, TLS: tlsConfig})
	require.NoError(t, err)
	err = s.Send(context.Background(), m)
	require.ErrorContains(t, err, "STARTTLS")
	require.Empty(t, plain.Mails(), "never downgraded to plain text")

	_, err = NewSMTP(SMTPConfig{Host: "mail.example.com", Port: 25, Username: "u", From: "vault@example.com", Security: TLSNone})
	require.Error(t, err, "no AUTH in clear to a remote host")
}

func TestBuildRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	m := testMessage(t)
	for _, to := range []string{"alice@example.com\r\nBcc: eve@example.com", "not an address"} {
		m.To = to
		_, err := Build("vault@example.com", m, time.Now())
		require.True(t, Permanent(err), to)
	}
	m.To = "alice@example.com"
	raw, err := Build("vault@example.com", m, time.Now())
	require.NoError(t, err)
	require.True(t, strings.Contains(string(raw), "Content-Type: multipart/alternative"))
}
