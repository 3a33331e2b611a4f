package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP transport security.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// SMTPConfig is an SMTP relay to send through.
type SMTPConfig struct {
	Host string
	Port int
	// Username, when set, authenticates with AUTH PLAIN (only over TLS, or
	// to a loopback host).
	Username string
	Password []byte
	// From is the sender (header From; its address is the envelope sender).
	From string
	// Security is TLSStartTLS (required, never downgraded), TLSImplicit or
	// TLSNone.
	Security string
	// TLS overrides the client TLS settings (tests: their own CA).
	TLS *tls.Config
	// Timeout bounds one whole delivery; default 30s.
	Timeout time.Duration
}

// SMTP sends mail through an SMTP relay, one connection per mail.
type SMTP struct {
	cfg      SMTPConfig
	envelope string
}

// NewSMTP checks cfg and returns the sender.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" || cfg.Port <= 0 {
		return nil, errors.New("mail: SMTP needs a host and a port")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP sender: %w", err)
	}
	switch cfg.Security {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if cfg.Username != "" && !loopback(cfg.Host) {
			return nil, errors.New("mail: SMTP AUTH without TLS is refused unless the host is a loopback address")
		}
	default:
		return nil, fmt.Errorf("mail: unknown SMTP security %q", cfg.Security)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, envelope: from.Address}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.cfg.TLS != nil {
		c := s.cfg.TLS.Clone()
		if c.ServerName == "" {
			c.ServerName = s.cfg.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
}

// Send delivers m. A 5xx answer is a PermanentError; anything else
// (connection, 4xx, timeout) is worth retrying.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	raw, err := Build(s.cfg.From, m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var c *smtp.Client
	switch s.cfg.Security {
	case TLSImplicit:
		c = smtp.NewClient(tls.Client(conn, s.tlsConfig()))
	case TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, s.tlsConfig()); err != nil {
			conn.Close()
			return classify("STARTTLS", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if s.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, string(s.cfg.Password))); err != nil {
			return classify("AUTH", err)
		}
	}
	if err := c.SendMail(s.envelope, []string{m.To}, bytes.NewReader(raw)); err != nil {
		return classify("send", err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted at the end of DATA; a failed QUIT
		// changes nothing.
		return nil
	}
	return nil
}

func classify(step string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return &PermanentError{Err: fmt.Errorf("mail: SMTP %s: %w", step, err)}
	}
	return fmt.Errorf("mail: SMTP %s: %w", step, err)
}
