package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
)

// ClientToken is what the client-credentials grant hands out: an access
// token and no refresh token (the client holds its secret and asks again).
type ClientToken struct {
	Access    authtoken.Token
	ExpiresIn time.Duration
}

// errInvalidClient is the one answer to an unknown client id or a wrong
// secret, so neither tells which it was.
func errInvalidClient() error {
	return domain.Errorf(domain.EUNAUTHORIZED, "client authentication failed")
}

// ClientCredentialsToken is the OAuth 2.0 client-credentials grant (RFC
// 6749 section 4.4): a client id and secret buy an access token whose
// subject is the service account. Requests are limited per address and per
// client id; the secret is checked before anything about the credential is
// told (disabled account, expiry, networks), and every issuance and every
// refusal of a known credential is an event on the account's token stream,
// appended before the token is returned (fail closed).
func (id *Identity) ClientCredentialsToken(ctx context.Context, caller domain.Caller, clientID, clientSecret string) (ClientToken, error) {
	address := loginAddress(caller.ClientIP)
	if ok, wait := id.clients.byIP.Allow(address); !ok {
		return ClientToken{}, newRateLimitError("too many token requests from this address; retry later", wait)
	}
	if !domain.IsClientID(clientID) {
		return ClientToken{}, errInvalidClient()
	}
	if ok, wait := id.clients.byClient.Allow(clientID); !ok {
		return ClientToken{}, newRateLimitError("too many token requests for this client; retry later", wait)
	}
	events, err := id.svc.fold.ReadStream(ctx, domain.ClientIDStream(clientID))
	if err != nil {
		return ClientToken{}, err
	}
	owner, ok, err := domain.ClientIDOwner(events)
	if err != nil || !ok {
		return ClientToken{}, firstErr(err, errInvalidClient())
	}
	a, err := id.svc.fold.ServiceAccount(ctx, owner.ServiceAccountID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return ClientToken{}, errInvalidClient()
	}
	if err != nil {
		return ClientToken{}, err
	}
	now := id.now()
	g, reason, err := a.CredentialForGrant(owner.CredentialID, caller.ClientIP, now)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return ClientToken{}, errInvalidClient() // revoked
	}
	if err != nil {
		return ClientToken{}, err
	}
	good, err := id.verifyClientSecret(ctx, a.ID(), g, clientSecret)
	if err != nil {
		return ClientToken{}, err
	}
	refused := domain.ClientTokenRefused{ServiceAccountID: a.ID(), CredentialID: g.ID, ClientID: clientID, Address: address}
	if !good {
		refused.Reason = domain.ClientRefusedSecret
		return ClientToken{}, firstErr(id.recordClientToken(ctx, caller, a, domain.NewClientTokenRefusedEvent(refused, id.clientMetadata(caller, a))), errInvalidClient())
	}
	if reason != "" {
		refused.Reason = reason
		if err := id.recordClientToken(ctx, caller, a, domain.NewClientTokenRefusedEvent(refused, id.clientMetadata(caller, a))); err != nil {
			return ClientToken{}, err
		}
		return ClientToken{}, domain.Errorf(domain.EUNAUTHORIZED, "%s", refusalMessage(reason))
	}
	ttl := id.clients.opts.TokenTTL
	if !g.ExpiresAt.IsZero() {
		ttl = min(ttl, g.ExpiresAt.Sub(now))
	}
	ttl = max(ttl.Truncate(time.Second), time.Second)
	tok, err := id.tokens.IssueClient(a.ID(), g.SecretID, ttl)
	if err != nil {
		return ClientToken{}, err
	}
	issued := domain.NewClientTokenIssuedEvent(domain.ClientTokenIssued{
		ServiceAccountID: a.ID(), CredentialID: g.ID, ClientID: clientID, TokenID: tok.ID, Address: address, ExpiresAt: tok.ExpiresAt,
	}, id.clientMetadata(caller, a))
	if err := id.recordClientToken(ctx, caller, a, issued); err != nil {
		return ClientToken{}, err
	}
	return ClientToken{Access: tok, ExpiresIn: ttl}, nil
}

// clientMetadata names the account as the actor of its own token events.
func (id *Identity) clientMetadata(caller domain.Caller, a *domain.ServiceAccount) domain.Metadata {
	md := caller.Metadata()
	md.Actor, md.ActorName = a.ID(), domain.ServiceAccountResource(a.Name())
	return md
}

// recordClientToken appends one token event whatever the stream's
// version: it is a fact, and it survives the client hanging up.
func (id *Identity) recordClientToken(ctx context.Context, _ domain.Caller, a *domain.ServiceAccount, ev domain.NewEvent) error {
	_, err := id.svc.log.AppendStreams(context.WithoutCancel(ctx), domain.StreamAppend{
		StreamID: domain.ClientTokenStream(a.ID()), Expected: domain.ExpectAny, Events: []domain.NewEvent{ev},
	})
	return err
}

func refusalMessage(reason string) string {
	switch reason {
	case domain.ClientRefusedExpired:
		return "the client credential has expired"
	case domain.ClientRefusedAddress:
		return "the client credential may not be used from this address"
	case domain.ClientRefusedDisabled:
		return "the service account is disabled"
	}
	return "client authentication failed"
}

// firstErr is err when set, otherwise fallback.
func firstErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
