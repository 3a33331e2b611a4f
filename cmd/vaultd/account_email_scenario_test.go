package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/mail"
)

const selfPassword = "a-self-chosen-passphrase"

// accountEmailSteps are the scenario rows of registration, verification
// and reset. The tokens a mail would carry are minted here directly into
// the store (the mail tests follow real mails' links end to end).
func accountEmailSteps() []step {
	return []step{
		{name: "register", method: post, path: "/api/v1/auth/register",
			body: map[string]any{"username": "contract-self", "email": "self@example.com", "password": selfPassword}, status: 201,
			capture: captureField("self_id", "id")},
		{name: "register a taken name", method: post, path: "/api/v1/auth/register",
			body: map[string]any{"username": "contract-self", "email": "other@example.com", "password": selfPassword}, status: 409},
		{name: "register a weak password", method: post, path: "/api/v1/auth/register",
			body: map[string]any{"username": "contract-weak", "email": "weak@example.com", "password": "short"}, status: 422},
		{name: "register without an address", method: post, path: "/api/v1/auth/register",
			body: map[string]any{"username": "contract-none", "email": "", "password": selfPassword}, status: 400},
		{name: "resend-verification", method: post, path: "/api/v1/auth/resend-verification",
			body: map[string]any{"email": "self@example.com"}, status: 202},
		{name: "resend-verification, unknown address", method: post, path: "/api/v1/auth/resend-verification",
			body: map[string]any{"email": "nobody@example.com"}, status: 202},
		{name: "resend-verification, not an address", method: post, path: "/api/v1/auth/resend-verification",
			body: map[string]any{"email": "not an address"}, status: 400},
		{name: "forgot-password, unknown address", method: post, path: "/api/v1/auth/forgot-password",
			body: map[string]any{"email": "nobody@example.com"}, status: 202},
		{name: "forgot-password, not an address", method: post, path: "/api/v1/auth/forgot-password",
			body: map[string]any{"email": "not an address"}, status: 400},
		{name: "forgot-password", method: post, path: "/api/v1/auth/forgot-password",
			body: map[string]any{"email": "self@example.com"}, status: 202, capture: mintTokens},
		{name: "verify-email", method: get, path: "/api/v1/auth/verify-email?token={verify_token}", status: 200},
		{name: "verify-email again", method: get, path: "/api/v1/auth/verify-email?token={verify_token}", status: 400},
		{name: "verify-email with a malformed token", method: get, path: "/api/v1/auth/verify-email?token=abc", status: 400},
		{name: "reset-password, weak", method: post, path: "/api/v1/auth/reset-password",
			body: map[string]any{"token": "{reset_token}", "new_password": "short"}, status: 422},
		{name: "reset-password", method: post, path: "/api/v1/auth/reset-password",
			body: map[string]any{"token": "{reset_token}", "new_password": "a-brand-new-passphrase"}, status: 204},
		{name: "reset-password again", method: post, path: "/api/v1/auth/reset-password",
			body: map[string]any{"token": "{reset_token}", "new_password": "yet-another-passphrase"}, status: 400},
		login("login with the reset password", "contract-self", "a-brand-new-passphrase", 200, nil),
		login("login with the old password", "contract-self", selfPassword, 401, nil),
	}
}

// mintTokens stores a verification and a reset token for the registered
// user, as the mail consumer would, and keeps the raw tokens as vars.
func mintTokens(c *contract, _ *answer) {
	ctx := context.Background()
	loader := fold.NewLoader(c.inst.app.store, nil, slog.New(slog.DiscardHandler))
	u, err := loader.User(ctx, c.vars["self_id"])
	require.NoError(c.t, err)
	for purpose, name := range map[string]string{domain.TokenPurposeVerifyEmail: "verify_token", domain.TokenPurposeResetPassword: "reset_token"} {
		tok, err := domain.NewEmailToken(purpose, u)
		require.NoError(c.t, err)
		require.NoError(c.t, c.inst.app.mailStore.IssueToken(ctx, mail.Grant{
			Token: tok, Purpose: purpose, UserID: u.ID(), SourceEventID: domain.NewID(), ExpiresAt: time.Now().Add(time.Hour),
		}))
		c.vars[name] = tok.Raw
	}
}
