package queries

import (
	"context"

	"github.com/securevault/vault/authtoken"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// AccessTokens verifies the signature and lifetime of access tokens;
// *authtoken.Manager satisfies it.
type AccessTokens interface {
	VerifyAccess(raw string) (authtoken.Claims, error)
}

// IdentityView is the identity state a replica holds in memory;
// *fold.View (over fold.IdentityKinds) satisfies it. Read must call fn with
// the state as of a position at least the head of the log when Read was
// called.
type IdentityView interface {
	Read(ctx context.Context, fn func(fold.State) error) error
}

// Authenticator turns bearer access tokens into principals. It is the seam
// the API authenticates every protected request through: one type, one
// method, so how identity is read can change behind it without touching a
// handler.
type Authenticator struct {
	svc    *Service
	tokens AccessTokens
	view   IdentityView
}

// NewAuthenticator returns the authenticator over the identity view, or,
// with view nil, over the service's log (each request folds its session,
// user, roles and policies).
func NewAuthenticator(svc *Service, tokens AccessTokens, view IdentityView) (*Authenticator, error) {
	if svc == nil || tokens == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "authentication needs a service and a token verifier")
	}
	return &Authenticator{svc: svc, tokens: tokens, view: view}, nil
}

// Authenticate turns a bearer access token into a Principal. Everything but
// the signature is decided on the log as of a position at least the head of
// the log when the request arrived: the session (logged out, revoked by
// reuse detection or expired: 401), the user (deleted or disabled: 401) and
// the policies of the user's roles. A change therefore takes effect on
// every replica for every request that starts after its event commits.
// clientIP is the request's client address (after trusted proxies): a
// service account's token is refused outside its credential's networks.
func (a *Authenticator) Authenticate(ctx context.Context, bearerToken, clientIP string) (domain.Principal, error) {
	claims, err := a.tokens.VerifyAccess(bearerToken)
	if err != nil {
		if p, handled, cerr := a.authenticateServiceAccount(ctx, bearerToken, clientIP); handled {
			return p, cerr
		}
		return domain.Principal{}, err
	}
	if a.view == nil {
		return a.fromLog(ctx, claims)
	}
	var p domain.Principal
	err = a.view.Read(ctx, func(st fold.State) error {
		sess, ok, err := st.Session(claims.SessionID)
		if err != nil {
			return err
		}
		if !ok || !sess.Active(a.svc.opts.Now()) || sess.UserID() != claims.UserID {
			return domain.ErrInvalidToken()
		}
		u, ok, err := st.User(claims.UserID)
		if err != nil {
			return err
		}
		if !ok || u.Disabled() {
			return domain.ErrInvalidToken()
		}
		policies, err := st.PoliciesFor(u.RoleIDs())
		if err != nil {
			return err
		}
		p = domain.Principal{
			UserID: u.ID(), Username: u.Username(), SessionID: sess.ID(), Policies: policies, DecidedAt: st.Position(),
		}
		return nil
	})
	if err != nil {
		return domain.Principal{}, err
	}
	return p, nil
}

// fromLog decides on the session, user, roles and policies folded from the
// log.
func (a *Authenticator) fromLog(ctx context.Context, claims authtoken.Claims) (domain.Principal, error) {
	// The head is read first: what is folded after it is at least as new.
	head, err := a.svc.log.HeadPosition(ctx)
	if err != nil {
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
	return domain.Principal{
		UserID: u.ID(), Username: u.Username(), SessionID: sess.ID(), Policies: policies, DecidedAt: head,
	}, nil
}
