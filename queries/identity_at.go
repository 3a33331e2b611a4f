package queries

import (
	"context"
	"strings"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
)

// Users, roles and policies as of an instant, folded from the log from the
// nearest snapshot (see fold.At), in the read model's shape. Who may see one
// is decided with the caller's current policies on its name as it was then.

func (q *Identity) userAt(ctx context.Context, caller domain.Caller, id string, at Instant) (domain.UserSummary, error) {
	u, err := foldIdentity(ctx, q, domain.UserAggregate, id, at.Position, domain.LoadUser, domain.RestoreUser)
	if err == nil && u.Agg.Deleted() {
		err = domain.Errorf(domain.ENOTFOUND, "user not found at position %d", at.Position)
	}
	if err != nil {
		return domain.UserSummary{}, err
	}
	if err := q.mayReadUser(ctx, caller, u.Agg.ID(), u.Agg.Username()); err != nil {
		return domain.UserSummary{}, err
	}
	return q.userView(ctx, u)
}

func (q *Identity) userAtInList(ctx context.Context, caller domain.Caller, streamID, prefix string, at Instant) (domain.UserSummary, bool, error) {
	f, found, err := fold.At(ctx, q.svc.fold, streamID, at.Position, domain.LoadUser, domain.RestoreUser)
	if err != nil || !found {
		return domain.UserSummary{}, false, err
	}
	if u := f.Agg; u.Deleted() || !strings.HasPrefix(u.Username(), prefix) || !q.maySeeUser(caller, u.ID(), u.Username()) {
		return domain.UserSummary{}, false, nil
	}
	view, err := q.userView(ctx, f)
	return view, err == nil, err
}

func (q *Identity) roleAt(ctx context.Context, caller domain.Caller, id string, at Instant) (domain.RoleSummary, error) {
	r, err := foldIdentity(ctx, q, domain.RoleAggregate, id, at.Position, domain.LoadRole, domain.RestoreRole)
	if err == nil && r.Agg.Deleted() {
		err = domain.Errorf(domain.ENOTFOUND, "role not found at position %d", at.Position)
	}
	if err != nil {
		return domain.RoleSummary{}, err
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.RoleResource(r.Agg.Name())); err != nil {
		return domain.RoleSummary{}, err
	}
	return q.roleView(ctx, r)
}

func (q *Identity) roleAtInList(ctx context.Context, caller domain.Caller, streamID, prefix string, at Instant) (domain.RoleSummary, bool, error) {
	f, found, err := fold.At(ctx, q.svc.fold, streamID, at.Position, domain.LoadRole, domain.RestoreRole)
	if err != nil || !found {
		return domain.RoleSummary{}, false, err
	}
	if r := f.Agg; r.Deleted() || !strings.HasPrefix(r.Name(), prefix) || !q.svc.access.Allowed(caller, domain.ActionAdmin, domain.RoleResource(r.Name())) {
		return domain.RoleSummary{}, false, nil
	}
	view, err := q.roleView(ctx, f)
	return view, err == nil, err
}

func (q *Identity) policyAt(ctx context.Context, caller domain.Caller, id string, at Instant) (domain.PolicySummary, error) {
	p, err := foldIdentity(ctx, q, domain.PolicyAggregate, id, at.Position, domain.LoadPolicy, domain.RestorePolicy)
	if err == nil && p.Agg.Deleted() {
		err = domain.Errorf(domain.ENOTFOUND, "policy not found at position %d", at.Position)
	}
	if err != nil {
		return domain.PolicySummary{}, err
	}
	if err := q.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.PolicyResource(p.Agg.Name())); err != nil {
		return domain.PolicySummary{}, err
	}
	return q.policyView(ctx, p)
}

func (q *Identity) policyAtInList(ctx context.Context, caller domain.Caller, streamID, prefix string, at Instant) (domain.PolicySummary, bool, error) {
	f, found, err := fold.At(ctx, q.svc.fold, streamID, at.Position, domain.LoadPolicy, domain.RestorePolicy)
	if err != nil || !found {
		return domain.PolicySummary{}, false, err
	}
	if p := f.Agg; p.Deleted() || !strings.HasPrefix(p.Name(), prefix) || !q.svc.access.Allowed(caller, domain.ActionAdmin, domain.PolicyResource(p.Name())) {
		return domain.PolicySummary{}, false, nil
	}
	view, err := q.policyView(ctx, f)
	return view, err == nil, err
}

// foldIdentity folds an aggregate's stream up to pos, answering ENOTFOUND
// when the id is malformed or nothing was recorded by then.
func foldIdentity[A fold.Aggregate](ctx context.Context, q *Identity, aggregate, id string, pos int64,
	load fold.LoadFunc[A], restore fold.RestoreFunc[A]) (fold.Folded[A], error) {
	if !domain.IsID(id) {
		return fold.Folded[A]{}, domain.Errorf(domain.ENOTFOUND, "%s not found", aggregate)
	}
	f, found, err := fold.At(ctx, q.svc.fold, domain.StreamID(aggregate, id), pos, load, restore)
	if err != nil {
		return f, err
	}
	if !found {
		return f, domain.Errorf(domain.ENOTFOUND, "%s not found at position %d", aggregate, pos)
	}
	return f, nil
}

// listAt is the shared listing of identity aggregates at an instant, in
// stream id order.
func listAt[T any](ctx context.Context, q *Identity, aggregate, cursor string, limit int, at Instant,
	view func(streamID string) (T, bool, error)) (Page[T], error) {
	after, err := domain.DecodeStreamCursor(aggregate, cursor)
	if err != nil {
		return Page[T]{}, err
	}
	page := Page[T]{Items: []T{}}
	next, err := q.svc.scanAt(ctx, q.catalog, aggregate, at.Position, after, limit, func(streamID string) (bool, error) {
		item, ok, err := view(streamID)
		if err != nil || !ok {
			return false, err
		}
		page.Items = append(page.Items, item)
		return true, nil
	})
	if err != nil {
		return Page[T]{}, err
	}
	if next != "" {
		page.NextCursor = domain.EncodeCursor(next)
	}
	return page, nil
}

// identityActor is the actor the identity read model records: events
// without one were the system's.
func identityActor(md domain.Metadata) string {
	if md.Actor == "" {
		return domain.SystemActor
	}
	return md.Actor
}

// createdAndChanged is the event that created an aggregate and the one a
// listing shows as its last update, fetched by version unless the fold read
// them.
func (q *Identity) createdAndChanged(ctx context.Context, streamID string, first, last domain.RecordedEvent, changed int64) (domain.RecordedEvent, domain.RecordedEvent, error) {
	events, err := q.svc.fold.EventsAt(ctx, streamID, []domain.RecordedEvent{first, last}, 1, changed)
	if err != nil {
		return domain.RecordedEvent{}, domain.RecordedEvent{}, err
	}
	return events[1], events[changed], nil
}

func (q *Identity) userView(ctx context.Context, f fold.Folded[*domain.User]) (domain.UserSummary, error) {
	u := f.Agg
	// Logins are not profile changes: the user's last update is the event
	// the aggregate remembers, which may lie long before the instant.
	first, changed, err := q.createdAndChanged(ctx, u.StreamID(), f.First, f.Last, u.ProfileVersion())
	if err != nil {
		return domain.UserSummary{}, err
	}
	roles := u.RoleIDs()
	if roles == nil {
		roles = []string{}
	}
	return domain.UserSummary{
		ID: u.ID(), Username: u.Username(), Email: u.Email(), Roles: roles, Disabled: u.Disabled(),
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: changed.RecordedAt, UpdatedBy: identityActor(changed.Metadata),
	}, nil
}

func (q *Identity) roleView(ctx context.Context, f fold.Folded[*domain.Role]) (domain.RoleSummary, error) {
	r := f.Agg
	first, last, err := q.createdAndChanged(ctx, r.StreamID(), f.First, f.Last, f.Last.Version)
	if err != nil {
		return domain.RoleSummary{}, err
	}
	policies := r.PolicyIDs()
	if policies == nil {
		policies = []string{}
	}
	return domain.RoleSummary{
		ID: r.ID(), Name: r.Name(), Description: r.Description(), Policies: policies,
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}, nil
}

func (q *Identity) policyView(ctx context.Context, f fold.Folded[*domain.Policy]) (domain.PolicySummary, error) {
	p := f.Agg
	first, last, err := q.createdAndChanged(ctx, p.StreamID(), f.First, f.Last, f.Last.Version)
	if err != nil {
		return domain.PolicySummary{}, err
	}
	v := p.View()
	if v.Statements == nil {
		v.Statements = []domain.Statement{}
	}
	return domain.PolicySummary{
		ID: p.ID(), Name: v.Name, Description: v.Description, Statements: v.Statements,
		CreatedAt: first.RecordedAt, CreatedBy: identityActor(first.Metadata),
		UpdatedAt: last.RecordedAt, UpdatedBy: identityActor(last.Metadata),
	}, nil
}
