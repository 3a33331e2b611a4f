package main

import (
	"github.com/securevault/vault/api"
	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/mail"
	"github.com/securevault/vault/projections/identity"
)

// openMail wires account e-mail: the token store the commands redeem from,
// the identity read model as the directory of addresses, and the routes.
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
	return nil
}
