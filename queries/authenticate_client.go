package queries

import (
	"context"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// ClientTokens verifies the access tokens of the client-credentials grant;
// *authtoken.Manager satisfies it. An Authenticator whose AccessTokens
// also verify client tokens accepts service accounts.
type ClientTokens interface {
	VerifyClient(raw string) (authtoken.Claims, error)
}

// authenticateServiceAccount is the principal resolution of a service
// account's token, kept apart from the user's so it can move wherever
// identity is read from. handled is false when the token is no client
// token (the user's answer stands). Like a user's, everything but the
// signature is decided on the log as of at least its head when the request
// arrived (the identity view, or folded per request): the account (deleted
// or disabled: 401), the credential whose current secret bought the token
// (rotated, revoked or expired, or the request from outside its allowed
// networks: 401) and the policies of the account's
// roles, so a change is honoured by the very next request on every
// replica.
func (a *Authenticator) authenticateServiceAccount(ctx context.Context, bearerToken, clientIP string) (p domain.Principal, handled bool, err error) {
	clients, ok := a.tokens.(ClientTokens)
	if !ok {
		return domain.Principal{}, false, nil
	}
	claims, err := clients.VerifyClient(bearerToken)
	if err != nil {
		return domain.Principal{}, false, nil
	}
	principal := func(acc *domain.ServiceAccount, policies []domain.PolicyView, decidedAt int64) domain.Principal {
		return domain.Principal{
			UserID: acc.ID(), Username: domain.ServiceAccountResource(acc.Name()), SessionID: claims.SessionID, Policies: policies,
			DecidedAt: decidedAt,
		}
	}
	if a.view != nil {
		// From the identity view, as of at least the head of the log when
		// the request arrived (see Authenticate).
		err = a.view.Read(ctx, func(st fold.State) error {
			acc, ok, err := st.ServiceAccount(claims.UserID)
			if err != nil {
				return err
			}
			if !ok || !acc.AcceptsToken(claims.SessionID, clientIP, a.svc.opts.Now()) {
				return domain.ErrInvalidToken()
			}
			policies, err := st.PoliciesFor(acc.RoleIDs())
			if err != nil {
				return err
			}
			p = principal(acc, policies, st.Position())
			return nil
		})
		if err != nil {
			return domain.Principal{}, true, err
		}
		return p, true, nil
	}
	head, err := a.svc.log.HeadPosition(ctx)
	if err != nil {
		return domain.Principal{}, true, err
	}
	acc, err := a.svc.fold.ServiceAccount(ctx, claims.UserID)
	if err != nil {
		return domain.Principal{}, true, domain.InvalidTokenUnlessInternal(err)
	}
	if !acc.AcceptsToken(claims.SessionID, clientIP, a.svc.opts.Now()) {
		return domain.Principal{}, true, domain.ErrInvalidToken()
	}
	policies, err := a.svc.fold.PoliciesFor(ctx, acc.RoleIDs(), 0)
	if err != nil {
		return domain.Principal{}, true, err
	}
	return principal(acc, policies, head), true, nil
}
