package config

import (
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Account e-mail variables.
//
//nolint:gosec // G101: names of environment variables, not their values
const (
	EnvEmailProvider        = "EMAIL_PROVIDER"
	EnvSMTPHost             = "SMTP_HOST"
	EnvSMTPPort             = "SMTP_PORT"
	EnvSMTPUsername         = "SMTP_USERNAME"
	EnvSMTPPassword         = "SMTP_PASSWORD"
	EnvSMTPFrom             = "SMTP_FROM"
	EnvSMTPTLS              = "SMTP_TLS"
	EnvSendGridAPIKey       = "SENDGRID_API_KEY"
	EnvSendGridAPIURL       = "SENDGRID_API_URL"
	EnvFrontendBaseURL      = "FRONTEND_BASE_URL"
	EnvPublicURL            = "VAULT_PUBLIC_URL"
	EnvSelfRegistration     = "VAULT_SELF_REGISTRATION"
	EnvRequireVerifiedEmail = "VAULT_REQUIRE_VERIFIED_EMAIL"
	EnvEmailTokenTTL        = "VAULT_EMAIL_TOKEN_TTL"
	EnvEmailVerifyTokenTTL  = "VAULT_EMAIL_VERIFY_TOKEN_TTL"
	EnvEmailMaxAttempts     = "VAULT_EMAIL_MAX_ATTEMPTS"
	EnvEmailRequestsPerHour = "VAULT_EMAIL_REQUESTS_PER_HOUR"
)

// Mail providers and SMTP transport security.
const (
	EmailProviderSMTP     = "smtp"
	EmailProviderSendGrid = "sendgrid"
	EmailProviderConsole  = "console"

	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNone     = "none"
)

// Email is the account e-mail configuration: who sends the mail and how,
// where its links point, and the rules of registration, verification and
// reset.
type Email struct {
	Provider string
	From     string

	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword Secret
	SMTPTLS      string

	SendGridAPIKey Secret
	SendGridAPIURL string

	// PublicURL is the API's own address (verification links);
	// FrontendBaseURL the UI's (reset links), PublicURL when unset.
	PublicURL       string
	FrontendBaseURL string

	SelfRegistration     bool
	RequireVerifiedEmail bool
	// ResetTokenTTL and VerifyTokenTTL are separate because the risks are:
	// a reset link takes over the account, so it lives minutes; a
	// verification link only proves an address and may wait in an inbox
	// for a day.
	ResetTokenTTL   time.Duration
	VerifyTokenTTL  time.Duration
	MaxAttempts     int
	RequestsPerHour int
	// ShowLinks lets the console provider log the links (dev mode only).
	ShowLinks bool
}

func emailVars() []Var {
	return []Var{
		{EnvEmailProvider, "console", "no", "Who sends account mail (verification, password reset): `smtp`, `sendgrid`, or `console` (logs that a mail was sent, and in dev mode only its link). Production refuses `console` when VAULT_SELF_REGISTRATION or VAULT_REQUIRE_VERIFIED_EMAIL is on."},
		{EnvSMTPFrom, "", "with EMAIL_PROVIDER=smtp or sendgrid", "Sender address of account mail (both providers)."},
		{EnvSMTPHost, "", "with EMAIL_PROVIDER=smtp", "SMTP server host."},
		{EnvSMTPPort, "587", "no", "SMTP server port (587 for STARTTLS, 465 for SMTP_TLS=tls)."},
		{EnvSMTPUsername, "", "no", "SMTP AUTH PLAIN user; empty sends without authentication."},
		{EnvSMTPPassword, "", "with SMTP_USERNAME", "SMTP AUTH password (never logged)."},
		{EnvSMTPTLS, "starttls", "no", "`starttls` (required: a server that does not offer it is refused), `tls` (implicit TLS) or `none`, which production refuses unless SMTP_HOST is a loopback address."},
		{EnvSendGridAPIKey, "", "with EMAIL_PROVIDER=sendgrid", "SendGrid API key (Bearer), sent only to SENDGRID_API_URL."},
		{EnvSendGridAPIURL, "https://api.sendgrid.com/v3/mail/send", "no", "SendGrid v3 mail send endpoint."},
		{EnvPublicURL, "", "production", "The API's public base URL (https://vault.example.com); verification links point at its /api/v1/auth/verify-email. Dev default: http:// + VAULT_LISTEN_ADDR."},
		{EnvFrontendBaseURL, "", "no", "Base URL of the UI; reset links are `<FRONTEND_BASE_URL>/reset-password?token=…`, and the UI posts the token to /api/v1/auth/reset-password. Empty uses VAULT_PUBLIC_URL."},
		{EnvSelfRegistration, "false", "no", "`true` opens POST /api/v1/auth/register to anyone; new accounts hold no roles."},
		{EnvRequireVerifiedEmail, "false", "no", "`true` refuses logins (403) of users whose address is not verified; users without an address are not affected."},
		{EnvEmailTokenTTL, "30m", "no", "Lifetime of a password reset link (at most 24h)."},
		{EnvEmailVerifyTokenTTL, "24h", "no", "Lifetime of an address verification link (at most 168h)."},
		{EnvEmailMaxAttempts, "8", "no", "Delivery attempts of one mail (with exponential backoff) before it is dead-lettered: a MailDeadLettered event in the audit log and `vault_mail_dead_letters_total`."},
		{EnvEmailRequestsPerHour, "5", "no", "Mails (reset, resent verification, registration) one e-mail address and one account may ask for per hour; an account's resets and resends are counted apart."},
	}
}

// loadEmail reads the account e-mail variables.
func (c *Config) loadEmail(p *parser, logger *slog.Logger) {
	e := Email{
		Provider:             strings.ToLower(p.str(EnvEmailProvider)),
		From:                 p.str(EnvSMTPFrom),
		SMTPHost:             p.str(EnvSMTPHost),
		SMTPPort:             p.int(EnvSMTPPort, 1),
		SMTPUsername:         p.str(EnvSMTPUsername),
		SMTPPassword:         Secret(p.str(EnvSMTPPassword)),
		SMTPTLS:              strings.ToLower(p.str(EnvSMTPTLS)),
		SendGridAPIKey:       Secret(p.str(EnvSendGridAPIKey)),
		SendGridAPIURL:       p.str(EnvSendGridAPIURL),
		PublicURL:            strings.TrimRight(p.str(EnvPublicURL), "/"),
		FrontendBaseURL:      strings.TrimRight(p.str(EnvFrontendBaseURL), "/"),
		SelfRegistration:     p.bool(EnvSelfRegistration),
		RequireVerifiedEmail: p.bool(EnvRequireVerifiedEmail),
		ResetTokenTTL:        p.duration(EnvEmailTokenTTL),
		VerifyTokenTTL:       p.duration(EnvEmailVerifyTokenTTL),
		MaxAttempts:          p.int(EnvEmailMaxAttempts, 1),
		RequestsPerHour:      p.int(EnvEmailRequestsPerHour, 1),
		ShowLinks:            c.Mode == ModeDev,
	}
	if e.SMTPPort > 65535 {
		p.fail(EnvSMTPPort, "must be a port number (1 to 65535)")
	}
	if e.ResetTokenTTL > 24*time.Hour {
		p.fail(EnvEmailTokenTTL, "must be at most 24h: a reset link takes over the account")
	}
	if e.VerifyTokenTTL > 7*24*time.Hour {
		p.fail(EnvEmailVerifyTokenTTL, "must be at most 168h")
	}
	if e.PublicURL == "" {
		if c.Mode == ModeProduction {
			p.fail(EnvPublicURL, "is required in production (the https:// address clients reach the API at; verification links point there)")
		} else if c.ListenAddr != "" {
			e.PublicURL = "http://" + c.ListenAddr
		}
	} else if !validBaseURL(e.PublicURL) {
		p.fail(EnvPublicURL, "must be an absolute http(s) URL without query or fragment")
	}
	if e.FrontendBaseURL == "" {
		e.FrontendBaseURL = e.PublicURL
	} else if !validBaseURL(e.FrontendBaseURL) {
		p.fail(EnvFrontendBaseURL, "must be an absolute http(s) URL without query or fragment")
	}
	switch e.SMTPTLS {
	case SMTPStartTLS, SMTPTLS, SMTPNone:
	default:
		p.fail(EnvSMTPTLS, "must be %q, %q or %q, got %q", SMTPStartTLS, SMTPTLS, SMTPNone, e.SMTPTLS)
	}
	switch e.Provider {
	case EmailProviderSMTP:
		if e.SMTPHost == "" {
			p.fail(EnvSMTPHost, "is required with %s=smtp", EnvEmailProvider)
		}
		if e.SMTPUsername != "" && !e.SMTPPassword.IsSet() {
			p.fail(EnvSMTPPassword, "is required with %s", EnvSMTPUsername)
		}
		if e.SMTPTLS == SMTPNone && c.Mode == ModeProduction && !loopbackHost(e.SMTPHost) {
			p.fail(EnvSMTPTLS, "none is refused in production unless %s is a loopback address: mail carries reset links", EnvSMTPHost)
		}
		checkFrom(p, e.From)
	case EmailProviderSendGrid:
		if !e.SendGridAPIKey.IsSet() {
			p.fail(EnvSendGridAPIKey, "is required with %s=sendgrid", EnvEmailProvider)
		}
		if u, err := url.Parse(e.SendGridAPIURL); err != nil || (u.Scheme != "https" && (u.Scheme != "http" || !loopbackHost(u.Hostname()))) || u.Host == "" {
			p.fail(EnvSendGridAPIURL, "must be an https URL (http only to a loopback address)")
		}
		checkFrom(p, e.From)
	case EmailProviderConsole:
		if c.Mode == ModeProduction {
			if e.SelfRegistration || e.RequireVerifiedEmail {
				p.fail(EnvEmailProvider, "console sends no mail: production needs smtp or sendgrid with %s or %s", EnvSelfRegistration, EnvRequireVerifiedEmail)
			} else {
				logger.Warn("production mode with EMAIL_PROVIDER=console: account mail (verification, password reset) is logged, not sent")
			}
		}
	default:
		p.fail(EnvEmailProvider, "must be smtp, sendgrid or console, got %q", e.Provider)
	}
	c.Email = e
}

func checkFrom(p *parser, from string) {
	if from == "" {
		p.fail(EnvSMTPFrom, "is required to send mail")
		return
	}
	if _, err := mail.ParseAddress(from); err != nil {
		p.fail(EnvSMTPFrom, "must be an e-mail address (optionally with a name: Vault <vault@example.com>)")
	}
}

func validBaseURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

// loopbackHost reports whether host names this machine: localhost or a
// loopback IP.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
