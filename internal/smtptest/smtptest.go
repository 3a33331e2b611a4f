// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) in
// a test, on loopback, that keeps what it receives, so tests send through
// the product's own SMTP client and read the mail back.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one received message.
type Mail struct {
	From string
	To   []string
	Data []byte
	// TLS reports whether it came over TLS (STARTTLS).
	TLS bool
	// User is who authenticated, if anyone did.
	User string
}

// Server is the running server.
type Server struct {
	Host string
	Port int
	srv  *smtp.Server

	mu       sync.Mutex
	mails    []Mail
	arrived  chan struct{}
	failNext int
	failCode int
	users    map[string]string
}

// Option configures a Server.
type Option func(*Server)

// WithTLS offers STARTTLS with cert.
func WithTLS(cert tls.Certificate) Option {
	return func(s *Server) {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
}

// WithUser requires AUTH PLAIN as user with password.
func WithUser(user, password string) Option {
	return func(s *Server) { s.users[user] = password }
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{arrived: make(chan struct{}, 1024), users: map[string]string{}}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	for _, o := range opts {
		o(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// FailNext makes the next n messages fail at DATA with code (4xx: retry,
// 5xx: permanent).
func (s *Server) FailNext(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failCode = n, code
}

// Mails returns what arrived so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Wait blocks until at least n mails arrived, or fails the test after
// timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			t.Fatalf("smtptest: %d mails arrived within %s, want %d", len(s.Mails()), timeout, n)
		}
	}
}

type session struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		x.s.mu.Lock()
		want, ok := x.s.users[username]
		x.s.mu.Unlock()
		if !ok || want != password {
			return errors.New("invalid credentials")
		}
		x.user = username
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	needAuth := len(x.s.users) > 0
	x.s.mu.Unlock()
	if needAuth && x.user == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.failNext > 0 {
		x.s.failNext--
		return &smtp.SMTPError{Code: x.s.failCode, Message: "try again later"}
	}
	_, isTLS := x.conn.TLSConnectionState()
	x.s.mails = append(x.s.mails, Mail{From: x.from, To: x.to, Data: data, TLS: isTLS, User: x.user})
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// Message parses the mail's headers, text and HTML parts (transfer
// encodings decoded).
func (m Mail) Message(t testing.TB) (header netmail.Header, text, html string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("smtptest: parse mail: %v", err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("smtptest: content type: %v", err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("smtptest: part: %v", err)
		}
		body, _ := io.ReadAll(p)
		ctype, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ctype {
		case "text/plain":
			text = string(body)
		case "text/html":
			html = string(body)
		}
	}
	return msg.Header, text, html
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+`)

// Link is the first link of the mail's plain-text part.
func (m Mail) Link(t testing.TB) string {
	t.Helper()
	_, text, _ := m.Message(t)
	link := linkRE.FindString(text)
	if link == "" {
		t.Fatalf("smtptest: no link in %q", text)
	}
	return strings.TrimRight(link, ".")
}
