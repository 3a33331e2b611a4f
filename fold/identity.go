package fold

import (
	"context"

	"github.com/securevault/vault/domain"
)

// User folds a live user; a malformed id or a deleted user is not found.
func (l *Loader) User(ctx context.Context, userID string) (*domain.User, error) {
	if !domain.IsID(userID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "user not found")
	}
	u, _, err := Latest(ctx, l, domain.StreamID(domain.UserAggregate, userID), domain.LoadUser, domain.RestoreUser)
	if err != nil {
		return nil, err
	}
	if u.Deleted() {
		return nil, domain.Errorf(domain.ENOTFOUND, "user not found")
	}
	return u, nil
}

// Session folds a session.
func (l *Loader) Session(ctx context.Context, sessionID string) (*domain.Session, error) {
	if !domain.IsID(sessionID) {
		return nil, domain.Errorf(domain.ENOTFOUND, "session not found")
	}
	s, _, err := Latest(ctx, l, domain.StreamID(domain.SessionAggregate, sessionID), domain.LoadSession, domain.RestoreSession)
	return s, err
}

// Role folds a live role. maxPosition > 0 folds it as it was then.
func (l *Loader) Role(ctx context.Context, roleID string, maxPosition int64) (*domain.Role, error) {
	return live(ctx, l, domain.RoleAggregate, roleID, maxPosition, domain.LoadRole, domain.RestoreRole)
}

// Policy folds a live policy. maxPosition > 0 folds it as it was then.
func (l *Loader) Policy(ctx context.Context, policyID string, maxPosition int64) (*domain.Policy, error) {
	return live(ctx, l, domain.PolicyAggregate, policyID, maxPosition, domain.LoadPolicy, domain.RestorePolicy)
}

// deletable is an aggregate that can be deleted.
type deletable interface {
	Aggregate
	Deleted() bool
}

// live folds an aggregate now (maxPosition <= 0) or as it was at
// maxPosition; a malformed id, a stream without events by then or a deleted
// aggregate is not found.
func live[A deletable](ctx context.Context, l *Loader, aggregate, id string, maxPosition int64, load LoadFunc[A], restore RestoreFunc[A]) (A, error) {
	var zero A
	if !domain.IsID(id) {
		return zero, domain.Errorf(domain.ENOTFOUND, "%s not found", aggregate)
	}
	agg, err := AsOf(ctx, l, domain.StreamID(aggregate, id), maxPosition, load, restore)
	if err != nil {
		return zero, err
	}
	if agg.Deleted() {
		return zero, domain.Errorf(domain.ENOTFOUND, "%s not found", aggregate)
	}
	return agg, nil
}

// PoliciesFor resolves roles to the policies in force, folded from the log
// (as of maxPosition when > 0). Deleted roles and policies contribute
// nothing, which is also what makes deleting one take effect at once.
func (l *Loader) PoliciesFor(ctx context.Context, roleIDs []string, maxPosition int64) ([]domain.PolicyView, error) {
	roles := make(map[string]domain.RoleView, len(roleIDs))
	policies := map[string]domain.PolicyView{}
	for _, rid := range roleIDs {
		r, err := l.Role(ctx, rid, maxPosition)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		roles[rid] = r.View()
		for _, pid := range r.PolicyIDs() {
			if _, done := policies[pid]; done {
				continue
			}
			p, err := l.Policy(ctx, pid, maxPosition)
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				continue
			}
			if err != nil {
				return nil, err
			}
			policies[pid] = p.View()
		}
	}
	return domain.PoliciesFor(roleIDs, roles, policies), nil
}

// PolicyStatements are the statements of the live policies among ids, in
// order; deleted or missing policies hold nothing.
func (l *Loader) PolicyStatements(ctx context.Context, policyIDs []string) ([]domain.Statement, error) {
	var out []domain.Statement
	for _, pid := range policyIDs {
		p, err := l.Policy(ctx, pid, 0)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p.View().Statements...)
	}
	return out, nil
}

// UserStatements are the statements a user with roleIDs holds now.
func (l *Loader) UserStatements(ctx context.Context, roleIDs []string) ([]domain.Statement, error) {
	policies, err := l.PoliciesFor(ctx, roleIDs, 0)
	if err != nil {
		return nil, err
	}
	return domain.StatementsOf(policies), nil
}

// RequireRoles checks that every role id names a live role. A role deleted
// right after the check is harmless: deleted roles grant nothing.
func (l *Loader) RequireRoles(ctx context.Context, roleIDs []string) error {
	for _, rid := range roleIDs {
		if err := domain.ValidateID("role id", rid); err != nil {
			return err
		}
		if _, err := l.Role(ctx, rid, 0); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.Errorf(domain.EUNPROCESSABLE, "role %s does not exist", rid)
			}
			return err
		}
	}
	return nil
}

// RequirePolicies checks that every policy id names a live policy.
func (l *Loader) RequirePolicies(ctx context.Context, policyIDs []string) error {
	for _, pid := range policyIDs {
		if err := domain.ValidateID("policy id", pid); err != nil {
			return err
		}
		if _, err := l.Policy(ctx, pid, 0); err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				return domain.Errorf(domain.EUNPROCESSABLE, "policy %s does not exist", pid)
			}
			return err
		}
	}
	return nil
}
