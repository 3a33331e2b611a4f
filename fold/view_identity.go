package fold

import (
	"time"

	"github.com/securevault/vault/domain"
)

// IdentityKinds are the aggregates authentication decides on: sessions,
// users, roles and policies. A new kind of principal (a service account,
// say) adds its Kind here and a lookup beside Session and User.
func IdentityKinds() []Kind {
	session := KindOf(domain.SessionAggregate, domain.LoadSession, domain.RestoreSession,
		// A revoked session never becomes valid again: let it go.
		func(s *domain.Session) bool { return !s.Revoked() })
	// Nor does an expired one: refreshing needs an unexpired session.
	session.Prune = func(agg any, now time.Time) bool {
		s, ok := agg.(*domain.Session)
		return ok && !now.Before(s.ExpiresAt())
	}
	return []Kind{
		session,
		KindOf(domain.UserAggregate, domain.LoadUser, domain.RestoreUser, nil),
		KindOf(domain.RoleAggregate, domain.LoadRole, domain.RestoreRole, nil),
		KindOf(domain.PolicyAggregate, domain.LoadPolicy, domain.RestorePolicy, nil),
	}
}

// Session is the session with that id as of the state; a session the view
// let go (revoked or expired) is not found, as it is not active.
func (s State) Session(id string) (*domain.Session, bool, error) {
	if !domain.IsID(id) {
		return nil, false, nil
	}
	return Held[*domain.Session](s, domain.StreamID(domain.SessionAggregate, id))
}

// User is the live user with that id; a deleted one is not found.
func (s State) User(id string) (*domain.User, bool, error) {
	if !domain.IsID(id) {
		return nil, false, nil
	}
	u, ok, err := Held[*domain.User](s, domain.StreamID(domain.UserAggregate, id))
	if err != nil || !ok || u.Deleted() {
		return nil, false, err
	}
	return u, true, nil
}

// PoliciesFor resolves roles to the policies in force, as Loader.PoliciesFor
// does from the log: deleted roles and policies contribute nothing.
func (s State) PoliciesFor(roleIDs []string) ([]domain.PolicyView, error) {
	roles := make(map[string]domain.RoleView, len(roleIDs))
	policies := map[string]domain.PolicyView{}
	for _, rid := range roleIDs {
		if !domain.IsID(rid) {
			continue
		}
		r, ok, err := Held[*domain.Role](s, domain.StreamID(domain.RoleAggregate, rid))
		if err != nil {
			return nil, err
		}
		if !ok || r.Deleted() {
			continue
		}
		roles[rid] = r.View()
		for _, pid := range r.PolicyIDs() {
			if _, done := policies[pid]; done || !domain.IsID(pid) {
				continue
			}
			p, ok, err := Held[*domain.Policy](s, domain.StreamID(domain.PolicyAggregate, pid))
			if err != nil {
				return nil, err
			}
			if ok && !p.Deleted() {
				policies[pid] = p.View()
			}
		}
	}
	return domain.PoliciesFor(roleIDs, roles, policies), nil
}
