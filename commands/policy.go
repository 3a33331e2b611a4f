package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// PolicyView is a policy as a command answers it.
type PolicyView struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Statements  []domain.Statement `json:"statements"`
}

func policyView(p *domain.Policy) PolicyView {
	v := p.View()
	if v.Statements == nil {
		v.Statements = []domain.Statement{}
	}
	return PolicyView{ID: v.ID, Name: v.Name, Description: v.Description, Statements: v.Statements}
}

// PolicyInput is a policy's fields. For an update, nil leaves a field as is.
type PolicyInput struct {
	Name        *string
	Description *string
	Statements  *[]domain.Statement
}

// CreatePolicy needs `admin` on policies/<name>, and the caller must cover
// what its statements allow (or hold escalate there). The name is reserved
// in the same atomic append as PolicyCreated.
func (id *Identity) CreatePolicy(ctx context.Context, caller domain.Caller, in PolicyInput) (PolicyView, Written, error) {
	name, err := domain.NormalizeName("policy", derefInput(in.Name))
	if err != nil {
		return PolicyView{}, Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.PolicyResource(name)); err != nil {
		return PolicyView{}, Written{}, err
	}
	p, err := domain.NewPolicy(domain.NewID(), name, derefInput(in.Description), derefInput(in.Statements))
	if err != nil {
		return PolicyView{}, Written{}, err
	}
	if err := id.authorizeGrant(ctx, caller, domain.PolicyResource(name), nil, p.View().Statements); err != nil {
		return PolicyView{}, Written{}, err
	}
	res, err := id.loadReservation(ctx, domain.PolicyNameReservationStream(name))
	if err != nil {
		return PolicyView{}, Written{}, err
	}
	if err := res.Reserve(p.ID()); err != nil {
		return PolicyView{}, Written{}, err
	}
	md := caller.Metadata()
	w, err := id.svc.appendEvents(ctx, res.StreamAppend(md), p.StreamAppend(md))
	if err != nil {
		return PolicyView{}, Written{}, nameTaken(err, "policy", name)
	}
	return policyView(p), w, nil
}

// UpdatePolicy needs `admin` on the policy's name, and on the new name when
// it is renamed; the caller must cover the statements' grant (new allows,
// lifted denies). The change applies to every role using the policy at once.
func (id *Identity) UpdatePolicy(ctx context.Context, caller domain.Caller, policyID string, in PolicyInput) (PolicyView, Written, error) {
	if err := domain.ValidateID("policy id", policyID); err != nil {
		return PolicyView{}, Written{}, err
	}
	p, err := id.svc.fold.Policy(ctx, policyID, 0)
	if err != nil {
		return PolicyView{}, Written{}, err
	}
	oldName := p.Name()
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.PolicyResource(oldName)); err != nil {
		return PolicyView{}, Written{}, err
	}
	if p.ID() == domain.AdminPolicyID {
		return PolicyView{}, Written{}, domain.Errorf(domain.EUNPROCESSABLE, "the built-in admin policy cannot be changed")
	}
	cur := p.View()
	name, description, statements := oldName, cur.Description, cur.Statements
	if in.Name != nil {
		if name, err = domain.NormalizeName("policy", *in.Name); err != nil {
			return PolicyView{}, Written{}, err
		}
	}
	if in.Description != nil {
		description = *in.Description
	}
	if in.Statements != nil {
		statements = *in.Statements
	}
	if name != oldName {
		if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.PolicyResource(name)); err != nil {
			return PolicyView{}, Written{}, err
		}
	}
	if err := p.Update(name, description, statements); err != nil {
		return PolicyView{}, Written{}, err
	}
	if len(p.Changes()) == 0 {
		return policyView(p), Written{}, nil
	}
	if err := id.authorizeGrant(ctx, caller, domain.PolicyResource(oldName), cur.Statements, p.View().Statements); err != nil {
		return PolicyView{}, Written{}, err
	}
	md := caller.Metadata()
	appends := []domain.StreamAppend{p.StreamAppend(md)}
	if name != oldName {
		swap, err := id.swapReservations(ctx, domain.PolicyNameReservationStream(oldName), domain.PolicyNameReservationStream(name), p.ID())
		if err != nil {
			return PolicyView{}, Written{}, err
		}
		appends = append(appends, stamp(md, swap)...)
	}
	w, err := id.svc.appendEvents(ctx, appends...)
	if err != nil {
		return PolicyView{}, Written{}, nameTaken(err, "policy", name)
	}
	return policyView(p), w, nil
}

// DeletePolicy needs `admin` on policies/<name> and frees the name. Roles
// still naming the policy get nothing from it, at once, so its denies stop
// binding their holders: the caller must cover what it denies. The built-in
// admin policy stays.
func (id *Identity) DeletePolicy(ctx context.Context, caller domain.Caller, policyID string) (Written, error) {
	if err := domain.ValidateID("policy id", policyID); err != nil {
		return Written{}, err
	}
	p, err := id.svc.fold.Policy(ctx, policyID, 0)
	if err != nil {
		return Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.PolicyResource(p.Name())); err != nil {
		return Written{}, err
	}
	before := p.View().Statements
	if err := p.Delete(); err != nil {
		return Written{}, err
	}
	if err := id.authorizeGrant(ctx, caller, domain.PolicyResource(p.Name()), before, nil); err != nil {
		return Written{}, err
	}
	res, err := id.loadReservation(ctx, domain.PolicyNameReservationStream(p.Name()))
	if err != nil {
		return Written{}, err
	}
	if err := res.Release(p.ID()); err != nil {
		return Written{}, err
	}
	md := caller.Metadata()
	return id.svc.appendEvents(ctx, p.StreamAppend(md), res.StreamAppend(md))
}
