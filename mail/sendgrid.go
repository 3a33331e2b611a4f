package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	netmail "net/mail"
	"time"
)

// DefaultSendGridURL is SendGrid's v3 mail send endpoint.
const DefaultSendGridURL = "https://api.sendgrid.com/v3/mail/send"

// SendGridConfig is a SendGrid account to send through.
type SendGridConfig struct {
	APIKey []byte
	// URL is the v3 mail send endpoint; DefaultSendGridURL when empty.
	URL  string
	From string
	// Client defaults to one with a 30s timeout.
	Client *http.Client
}

// SendGrid sends mail with SendGrid's v3 mail send API.
type SendGrid struct {
	cfg  SendGridConfig
	from sgAddress
}

// NewSendGrid checks cfg and returns the sender.
func NewSendGrid(cfg SendGridConfig) (*SendGrid, error) {
	if len(cfg.APIKey) == 0 {
		return nil, errors.New("mail: SendGrid needs an API key")
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: SendGrid sender: %w", err)
	}
	if cfg.URL == "" {
		cfg.URL = DefaultSendGridURL
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &SendGrid{cfg: cfg, from: sgAddress{Email: from.Address, Name: from.Name}}, nil
}

type sgAddress struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

type sgContent struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type sgToggle struct {
	Enable bool `json:"enable"`
}

type sgClickTracking struct {
	Enable     bool `json:"enable"`
	EnableText bool `json:"enable_text"`
}

// sgRequest is the v3 mail send body. Click tracking is off: it would
// route the link, token and all, through SendGrid's redirector.
type sgRequest struct {
	Personalizations []struct {
		To []sgAddress `json:"to"`
	} `json:"personalizations"`
	From             sgAddress         `json:"from"`
	Subject          string            `json:"subject"`
	Content          []sgContent       `json:"content"`
	Headers          map[string]string `json:"headers,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
	TrackingSettings struct {
		ClickTracking sgClickTracking `json:"click_tracking"`
		OpenTracking  sgToggle        `json:"open_tracking"`
	} `json:"tracking_settings"`
}

// Send posts m. 2xx is sent; 429 and 5xx are worth retrying; any other
// answer (a bad key, a refused sender) is a PermanentError.
func (s *SendGrid) Send(ctx context.Context, m Message) error {
	if !headerSafe(m.To) || !headerSafe(m.Subject) {
		return &PermanentError{Err: errors.New("mail: a header contains a line break")}
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("mail: recipient is not an address: %w", err)}
	}
	var body sgRequest
	body.Personalizations = []struct {
		To []sgAddress `json:"to"`
	}{{To: []sgAddress{{Email: to.Address}}}}
	body.From = s.from
	body.Subject = m.Subject
	body.Content = []sgContent{{Type: "text/plain", Value: m.Text}, {Type: "text/html", Value: m.HTML}}
	body.Headers = map[string]string{"Auto-Submitted": "auto-generated"}
	body.CustomArgs = map[string]string{"vault_message_id": m.MessageID}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(payload))
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("mail: SendGrid request: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+string(s.cfg.APIKey))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("mail: SendGrid: %w", err)
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("mail: SendGrid answered %d: %s", resp.StatusCode, bytes.TrimSpace(detail))
	default:
		return &PermanentError{Err: fmt.Errorf("mail: SendGrid answered %d: %s", resp.StatusCode, bytes.TrimSpace(detail))}
	}
}
