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

// identityAggregate is a user, role or policy aggregate.
type identityAggregate interface {
	fold.Aggregate
	ID() string
	Deleted() bool
}

// timeline is where one kind of identity reads from: the read model for
// the present (its checkpoint name), and the log and the stream catalog
// for the past.
type timeline struct {
	svc       *Service
	catalog   StreamCatalog
	readModel string
}

// identityKind is how one kind of identity aggregate reads as of an
// instant: its stream, its name, who may see it, and its view.
type identityKind[A identityAggregate, T any] struct {
	tl        timeline
	aggregate string
	load      fold.LoadFunc[A]
	restore   fold.RestoreFunc[A]
	name      func(A) string
	// authorize decides a get (a refusal is recorded); visible decides a
	// listing (nothing is recorded).
	authorize func(context.Context, domain.Caller, A) error
	visible   func(domain.Caller, A) bool
	view      func(context.Context, fold.Folded[A]) (T, error)
}

func (q *Identity) users() identityKind[*domain.User, domain.UserSummary] {
	return identityKind[*domain.User, domain.UserSummary]{
		tl: q.timeline(), aggregate: domain.UserAggregate, load: domain.LoadUser, restore: domain.RestoreUser,
		name: (*domain.User).Username,
		authorize: func(ctx context.Context, caller domain.Caller, u *domain.User) error {
			return q.mayReadUser(ctx, caller, u.ID(), u.Username())
		},
		visible: func(caller domain.Caller, u *domain.User) bool { return q.maySeeUser(caller, u.ID(), u.Username()) },
		view:    q.userView,
	}
}

func (q *Identity) roles() identityKind[*domain.Role, domain.RoleSummary] {
	return identityKind[*domain.Role, domain.RoleSummary]{
		tl: q.timeline(), aggregate: domain.RoleAggregate, load: domain.LoadRole, restore: domain.RestoreRole,
		name: (*domain.Role).Name,
		authorize: func(ctx context.Context, caller domain.Caller, r *domain.Role) error {
			return q.adminOf(ctx, caller, domain.RoleResource(r.Name()))
		},
		visible: func(caller domain.Caller, r *domain.Role) bool {
			return q.administers(caller, domain.RoleResource(r.Name()))
		},
		view: q.roleView,
	}
}

func (q *Identity) policies() identityKind[*domain.Policy, domain.PolicySummary] {
	return identityKind[*domain.Policy, domain.PolicySummary]{
		tl: q.timeline(), aggregate: domain.PolicyAggregate, load: domain.LoadPolicy, restore: domain.RestorePolicy,
		name: (*domain.Policy).Name,
		authorize: func(ctx context.Context, caller domain.Caller, p *domain.Policy) error {
			return q.adminOf(ctx, caller, domain.PolicyResource(p.Name()))
		},
		visible: func(caller domain.Caller, p *domain.Policy) bool {
			return q.administers(caller, domain.PolicyResource(p.Name()))
		},
		view: q.policyView,
	}
}

// foldAt folds one aggregate as it was at pos; one deleted by then is not
// found.
func (k identityKind[A, T]) foldAt(ctx context.Context, id string, pos int64) (fold.Folded[A], error) {
	f, err := foldIdentity(ctx, k.tl, k.aggregate, id, pos, k.load, k.restore)
	if err == nil && f.Agg.Deleted() {
		err = domain.Errorf(domain.ENOTFOUND, "%s not found at position %d", k.aggregate, pos)
	}
	return f, err
}

// authorizedAt is one aggregate as it was at the instant, once the caller
// may see it (a refusal is recorded).
func (k identityKind[A, T]) authorizedAt(ctx context.Context, caller domain.Caller, id string, at Instant) (fold.Folded[A], error) {
	f, err := k.foldAt(ctx, id, at.Position)
	if err != nil {
		return f, err
	}
	return f, k.authorize(ctx, caller, f.Agg)
}

// get is one aggregate's view as it was at the instant, once the caller
// may see it.
func (k identityKind[A, T]) get(ctx context.Context, caller domain.Caller, id string, at Instant) (T, error) {
	f, err := k.authorizedAt(ctx, caller, id, at)
	if err != nil {
		var zero T
		return zero, err
	}
	return k.view(ctx, f)
}

// inList is one stream of a listing as of the instant: kept when it
// existed then, was not deleted, its name started with prefix, and the
// caller may see it.
func (k identityKind[A, T]) inList(ctx context.Context, caller domain.Caller, streamID, prefix string, at Instant) (T, bool, error) {
	var zero T
	f, found, err := fold.At(ctx, k.tl.svc.fold, streamID, at.Position, k.load, k.restore)
	if err != nil || !found {
		return zero, false, err
	}
	if a := f.Agg; a.Deleted() || !strings.HasPrefix(k.name(a), prefix) || !k.visible(caller, a) {
		return zero, false, nil
	}
	view, err := k.view(ctx, f)
	return view, err == nil, err
}

// foldIdentity folds an aggregate's stream up to pos, answering ENOTFOUND
// when the id is malformed or nothing was recorded by then.
func foldIdentity[A fold.Aggregate](ctx context.Context, tl timeline, aggregate, id string, pos int64,
	load fold.LoadFunc[A], restore fold.RestoreFunc[A]) (fold.Folded[A], error) {
	if !domain.IsID(id) {
		return fold.Folded[A]{}, domain.Errorf(domain.ENOTFOUND, "%s not found", aggregate)
	}
	f, found, err := fold.At(ctx, tl.svc.fold, domain.StreamID(aggregate, id), pos, load, restore)
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
func listAt[T any](ctx context.Context, tl timeline, aggregate, cursor string, limit int, at Instant,
	view func(streamID string) (T, bool, error)) (Page[T], error) {
	after, err := domain.DecodeStreamCursor(aggregate, cursor)
	if err != nil {
		return Page[T]{}, err
	}
	page := Page[T]{Items: []T{}}
	next, err := tl.svc.scanAt(ctx, tl.catalog, aggregate, at.Position, after, limit, func(streamID string) (bool, error) {
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
func createdAndChanged(ctx context.Context, svc *Service, streamID string, first, last domain.RecordedEvent, changed int64) (domain.RecordedEvent, domain.RecordedEvent, error) {
	events, err := svc.fold.EventsAt(ctx, streamID, []domain.RecordedEvent{first, last}, 1, changed)
	if err != nil {
		return domain.RecordedEvent{}, domain.RecordedEvent{}, err
	}
	return events[1], events[changed], nil
}

func (q *Identity) userView(ctx context.Context, f fold.Folded[*domain.User]) (domain.UserSummary, error) {
	u := f.Agg
	// Logins are not profile changes: the user's last update is the event
	// the aggregate remembers, which may lie long before the instant.
	first, changed, err := createdAndChanged(ctx, q.svc, u.StreamID(), f.First, f.Last, u.ProfileVersion())
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
	first, last, err := createdAndChanged(ctx, q.svc, r.StreamID(), f.First, f.Last, f.Last.Version)
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
	first, last, err := createdAndChanged(ctx, q.svc, p.StreamID(), f.First, f.Last, f.Last.Version)
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
