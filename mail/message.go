// Package mail sends the vault's account mail (address verification and
// password reset) from a durable JetStream consumer of the event stream,
// through SMTP, SendGrid or the log (console), and keeps the e-mail tokens
// (as hashes only) and the record of what was sent in PostgreSQL.
//
// The token of a mail is minted by the consumer at send time, bound to the
// user's state, and exists in clear only in the consumer's memory and in
// the mail: never in an event, on the bus or in a log line (the console
// provider logs links in dev mode only).
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/securevault/vault/domain"
)

//go:embed templates/*.tmpl
var templateFiles embed.FS

// Message is one mail to send. Link is the mail's one link (already in
// Text and HTML); only the console provider looks at it, to log it in dev
// mode.
type Message struct {
	To        string
	Subject   string
	Text      string
	HTML      string
	MessageID string
	Link      string
}

// Sender delivers a message; a *PermanentError says retrying is useless.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// PermanentError is a refusal that no retry will change (a rejected
// recipient, a bad API key): the mail is dead-lettered at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports whether err is a PermanentError.
func Permanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Templates renders the mails.
type Templates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// LoadTemplates parses the embedded templates.
func LoadTemplates() (*Templates, error) {
	text, err := texttemplate.ParseFS(templateFiles, "templates/*.txt.tmpl")
	if err != nil {
		return nil, fmt.Errorf("mail: text templates: %w", err)
	}
	html, err := htmltemplate.ParseFS(templateFiles, "templates/*.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("mail: html templates: %w", err)
	}
	return &Templates{text: text, html: html}, nil
}

var subjects = map[string]string{
	domain.TokenPurposeVerifyEmail:   "Verify your e-mail address for Secure Vault",
	domain.TokenPurposeResetPassword: "Reset your Secure Vault password",
}

var templateNames = map[string]string{
	domain.TokenPurposeVerifyEmail:   "verify",
	domain.TokenPurposeResetPassword: "reset",
}

// Render builds the mail of purpose for username at to, carrying link,
// valid for valid.
func (t *Templates) Render(purpose, to, username, link string, valid time.Duration, messageID string) (Message, error) {
	name, ok := templateNames[purpose]
	if !ok {
		return Message{}, fmt.Errorf("mail: no template for %q", purpose)
	}
	data := struct{ Username, Link, Valid string }{username, link, humanDuration(valid)}
	var text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", name, err)
	}
	if err := t.html.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", name, err)
	}
	return Message{To: to, Subject: subjects[purpose], Text: text.String(), HTML: html.String(), MessageID: messageID, Link: link}, nil
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

// headerSafe refuses what would let a value start a header of its own.
func headerSafe(s string) bool { return !strings.ContainsAny(s, "\r\n") }

// Build encodes m as an RFC 5322 message from from: multipart/alternative
// with a quoted-printable plain-text and HTML part.
func Build(from string, m Message, now time.Time) ([]byte, error) {
	if !headerSafe(from) || !headerSafe(m.To) || !headerSafe(m.Subject) || !headerSafe(m.MessageID) {
		return nil, &PermanentError{Err: errors.New("mail: a header contains a line break")}
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return nil, &PermanentError{Err: fmt.Errorf("mail: recipient is not an address: %w", err)}
	}
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	boundary := "vault-" + hex.EncodeToString(raw[:])
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+m.MessageID+">")
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, part.ctype)
		qp := quotedprintable.NewWriter(&b)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}
