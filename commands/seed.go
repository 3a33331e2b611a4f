package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// SeedReport lists what Seed created ("policy read-dev-secrets", ...);
// items that existed already are not listed.
type SeedReport struct {
	Created []string
}

type seedPolicy struct {
	name, description string
	statements        []domain.Statement
}

type seedRole struct {
	name, description string
	policies          []string
}

type seedUser struct {
	username, email string
	roles           []string
}

// demoSet is the seed: developers read and reveal dev secrets but are
// explicitly denied production (deny wins even if another policy allows
// it); auditors read the audit log. A function, not variables, so nothing
// can edit it.
func demoSet() ([]seedPolicy, []seedRole, []seedUser) {
	policies := []seedPolicy{
		{"read-dev-secrets", "Read, list and reveal secrets under dev/.", []domain.Statement{
			{Effect: domain.EffectAllow, Actions: []string{domain.ActionRead, domain.ActionList, domain.ActionReveal}, Resources: []string{"secrets/dev/**"}},
		}},
		{"deny-prod-secrets", "Nothing at all on secrets under prod/.", []domain.Statement{
			{Effect: domain.EffectDeny, Actions: []string{domain.ActionAny}, Resources: []string{"secrets/prod/**"}},
		}},
		{"audit-reader", "Read the audit log.", []domain.Statement{
			{Effect: domain.EffectAllow, Actions: []string{domain.ActionRead, domain.ActionList}, Resources: []string{domain.ResourceAudit}},
		}},
	}
	roles := []seedRole{
		{"developer", "Works with development secrets.", []string{"read-dev-secrets", "deny-prod-secrets"}},
		{"auditor", "Reviews the audit log.", []string{"audit-reader"}},
	}
	users := []seedUser{
		{"alice", "alice@example.com", []string{"developer"}},
		{"bob", "bob@example.com", []string{"auditor"}},
	}
	return policies, roles, users
}

// Seed creates the demo users, roles and policies that do not exist yet,
// as the system actor. Names are reserved as for any creation, so running
// it twice, or on two machines at once, creates each item once. The demo
// users get demoPassword, which must satisfy the password policy.
func (id *Identity) Seed(ctx context.Context, demoPassword string) (SeedReport, error) {
	var report SeedReport
	md := systemMetadata("seed")
	seedPolicies, seedRoles, seedUsers := demoSet()
	policyIDs := map[string]string{}
	for _, sp := range seedPolicies {
		pid, created, err := id.seedOne(ctx, domain.PolicyNameReservationStream(sp.name), md, func(newID string) (domain.StreamAppend, error) {
			p, err := domain.NewPolicy(newID, sp.name, sp.description, sp.statements)
			if err != nil {
				return domain.StreamAppend{}, err
			}
			return p.StreamAppend(md), nil
		})
		if err != nil {
			return report, err
		}
		policyIDs[sp.name] = pid
		if created {
			report.Created = append(report.Created, "policy "+sp.name)
		}
	}
	roleIDs := map[string]string{}
	for _, sr := range seedRoles {
		var pids []string
		for _, n := range sr.policies {
			pids = append(pids, policyIDs[n])
		}
		rid, created, err := id.seedOne(ctx, domain.RoleNameReservationStream(sr.name), md, func(newID string) (domain.StreamAppend, error) {
			r, err := domain.NewRole(newID, sr.name, sr.description, pids)
			if err != nil {
				return domain.StreamAppend{}, err
			}
			return r.StreamAppend(md), nil
		})
		if err != nil {
			return report, err
		}
		roleIDs[sr.name] = rid
		if created {
			report.Created = append(report.Created, "role "+sr.name)
		}
	}
	for _, su := range seedUsers {
		if err := id.opts.PasswordPolicy.Check(su.username, demoPassword); err != nil {
			return report, err
		}
		var rids []string
		for _, n := range su.roles {
			rids = append(rids, roleIDs[n])
		}
		_, created, err := id.seedOne(ctx, domain.UsernameReservationStream(su.username), md, func(newID string) (domain.StreamAppend, error) {
			sealed, err := id.hashAndSeal(ctx, newID, domain.FirstPasswordVersion, demoPassword)
			if err != nil {
				return domain.StreamAppend{}, err
			}
			u, err := domain.NewUser(newID, su.username, su.email, sealed)
			if err != nil {
				return domain.StreamAppend{}, err
			}
			if err := u.AssignRoles(rids); err != nil {
				return domain.StreamAppend{}, err
			}
			return u.StreamAppend(md), nil
		})
		if err != nil {
			return report, err
		}
		if created {
			report.Created = append(report.Created, "user "+su.username)
		}
	}
	return report, nil
}

// seedOne returns the owner of a name, creating the named item with build
// when the name is free. A conflict means someone else created it at the
// same moment; the name's new owner is then the answer.
func (id *Identity) seedOne(ctx context.Context, reservation string, md domain.Metadata,
	build func(newID string) (domain.StreamAppend, error)) (string, bool, error) {
	for attempt := 0; ; attempt++ {
		res, err := id.loadReservation(ctx, reservation)
		if err != nil {
			return "", false, err
		}
		if res.Owner() != "" {
			return res.Owner(), false, nil
		}
		newID := domain.NewID()
		item, err := build(newID)
		if err != nil {
			return "", false, err
		}
		if err := res.Reserve(newID); err != nil {
			return "", false, err
		}
		_, err = id.svc.log.AppendStreams(ctx, res.StreamAppend(md), item)
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue
		}
		if err != nil {
			return "", false, err
		}
		return newID, true, nil
	}
}
