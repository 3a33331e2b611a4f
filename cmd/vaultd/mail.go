package main

import (
	"fmt"
	"log/slog"

	"github.com/securevault/vault/api"
	"github.com/securevault/vault/cmd/internal/wire"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/mail"
	"github.com/securevault/vault/projections/identity"
)

// openMail wires account e-mail: the token store the commands redeem from,
// the identity read model as the directory of addresses, the routes, and
// the consumer that sends the mail.
func (a *app) openMail(deps api.IdentityDeps) error {
	a.mailStore = mail.NewStore(a.pool)
	e := a.cfg.Email
	if err := a.identity.EnableAccountEmail(commands.AccountEmailDeps{
		Tokens: a.mailStore, Directory: identity.NewReader(a.pool),
	}, commands.AccountEmailOptions{
		SelfRegistration:     e.SelfRegistration,
		RequireVerifiedEmail: e.RequireVerifiedEmail,
		RequestsPerHour:      e.RequestsPerHour,
	}); err != nil {
		return err
	}
	a.server.MountAccountEmail(deps)

	logger := a.logger.With("component", "mail")
	sender, err := newSender(e, logger)
	if err != nil {
		return err
	}
	a.mailer, err = mail.NewConsumer(mail.Deps{
		Pool: a.pool, NATS: a.nc, Users: fold.NewLoader(a.store, wire.Snapshots(a.store), logger),
		Log: a.store, Sender: sender, Logger: logger, Metrics: mail.NewMetrics(a.registry),
	}, mail.Config{
		Stream: a.cfg.JetStreamStream, SubjectPrefix: a.cfg.SubjectPrefix,
		MaxAttempts: e.MaxAttempts, ResetTTL: e.ResetTokenTTL, VerifyTTL: e.VerifyTokenTTL,
		PublicURL: e.PublicURL, FrontendURL: e.FrontendBaseURL,
	})
	return err
}

// newSender is the provider EMAIL_PROVIDER names.
func newSender(e config.Email, logger *slog.Logger) (mail.Sender, error) {
	switch e.Provider {
	case config.EmailProviderSMTP:
		return mail.NewSMTP(mail.SMTPConfig{
			Host: e.SMTPHost, Port: e.SMTPPort, Username: e.SMTPUsername, Password: e.SMTPPassword.Bytes(),
			From: e.From, Security: e.SMTPTLS,
		})
	case config.EmailProviderSendGrid:
		return mail.NewSendGrid(mail.SendGridConfig{APIKey: e.SendGridAPIKey.Bytes(), URL: e.SendGridAPIURL, From: e.From})
	case config.EmailProviderConsole:
		return mail.NewConsole(logger, e.ShowLinks), nil
	}
	return nil, fmt.Errorf("%s: unknown provider %q", config.EnvEmailProvider, e.Provider)
}
