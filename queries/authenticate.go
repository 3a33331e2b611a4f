package queries

import (
	"context"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
)

// AccessTokens verifies the signature and lifetime of access tokens;
// *authtoken.Manager satisfies it.
type AccessTokens interface {
	VerifyAccess(raw string) (authtoken.Claims, error)
}

// Authenticator turns bearer access tokens into principals. It is the seam
// the API authenticates every protected request through: one type, one
// method, so how identity is read (folded from the log today) can change
// behind it without touching a handler.
type Authenticator struct {
	svc    *Service
	tokens AccessTokens
}

// NewAuthenticator returns the authenticator over the service's log.
func NewAuthenticator(svc *Service, tokens AccessTokens) (*Authenticator, error) {
	if svc == nil || tokens == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "authentication needs a service and a token verifier")
	}
	return &Authenticator{svc: svc, tokens: tokens}, nil
}

// Authenticate turns a bearer access token into a Principal. Everything but
// the signature is folded from the event log: the session (logged out,
// revoked by reuse detection or expired: 401), the user (deleted or
// disabled: 401) and the policies of the user's roles. A change therefore
// takes effect on every replica as soon as its event commits.
func (a *Authenticator) Authenticate(ctx context.Context, bearerToken string) (domain.Principal, error) {
	claims, err := a.tokens.VerifyAccess(bearerToken)
	if err != nil {
		if p, handled, cerr := a.authenticateServiceAccount(ctx, bearerToken); handled {
			return p, cerr
		}
		return domain.Principal{}, err
	}
	sess, err := a.svc.fold.Session(ctx, claims.SessionID)
	if err != nil {
		return domain.Principal{}, domain.InvalidTokenUnlessInternal(err)
	}
	if !sess.Active(a.svc.opts.Now()) || sess.UserID() != claims.UserID {
		return domain.Principal{}, domain.ErrInvalidToken()
	}
	u, err := a.svc.fold.User(ctx, claims.UserID)
	if err != nil {
		return domain.Principal{}, domain.InvalidTokenUnlessInternal(err)
	}
	if u.Disabled() {
		return domain.Principal{}, domain.ErrInvalidToken()
	}
	policies, err := a.svc.fold.PoliciesFor(ctx, u.RoleIDs(), 0)
	if err != nil {
		return domain.Principal{}, err
	}
	return domain.Principal{UserID: u.ID(), Username: u.Username(), SessionID: sess.ID(), Policies: policies}, nil
}
