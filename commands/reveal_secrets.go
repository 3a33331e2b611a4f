package commands

import (
	"context"
	"slices"
	"strings"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// SecretRevealBatchMax bounds one batch reveal: the names asked for, or the
// secrets under a prefix.
const SecretRevealBatchMax = 500

// Why a batch reveal did not return a secret.
const (
	// RevealNotPermitted: the caller may not reveal it. For a name asked
	// for, also said when the caller may neither reveal nor list the name,
	// whether or not it exists.
	RevealNotPermitted = "not_permitted"
	// RevealNotFound: no secret has the name (said only to a caller who may
	// reveal or list the name).
	RevealNotFound = "not_found"
	// RevealGone: the secret is deleted.
	RevealGone = "gone"
)

// RevealSecretsInput is a batch reveal: Names, or every secret under
// Prefix, never both.
type RevealSecretsInput struct {
	Names  []string
	Prefix string
}

// RevealedNamed is one value of a batch reveal. The caller zeroes Value.
type RevealedNamed struct {
	Name    string
	ID      string
	Version int64
	Value   []byte
}

// RevealRefusal is one secret a batch reveal did not return, and why.
type RevealRefusal struct {
	Name   string
	Reason string
}

// RevealedSecrets is the answer of a batch reveal, in name order.
type RevealedSecrets struct {
	Values  []RevealedNamed
	Refused []RevealRefusal
}

// Zero wipes every value.
func (r RevealedSecrets) Zero() {
	for _, v := range r.Values {
		envelope.Zero(v.Value)
	}
}

// RevealSecrets reveals several secrets in one request, each as
// RevealSecret would: `reveal` on secrets/<name>, one SecretRevealed event
// per secret on its access stream, all appended in one atomic append before
// any value is returned (if it fails, nothing is returned).
//
// Names asked for that the caller may not reveal are refused (and the
// refusal recorded, as for a single reveal); whether such a name exists is
// said only to a caller who may list it. Under a prefix, secrets the caller
// may neither reveal nor list are left out silently, as a listing would.
func (s *Secrets) RevealSecrets(ctx context.Context, caller domain.Caller, in RevealSecretsInput) (RevealedSecrets, Written, error) {
	if err := caller.RequireAuthenticated(); err != nil {
		return RevealedSecrets{}, Written{}, err
	}
	var (
		targets []revealTarget
		out     RevealedSecrets
		err     error
	)
	switch {
	case len(in.Names) > 0 && in.Prefix != "":
		return RevealedSecrets{}, Written{}, domain.Errorf(domain.EINVALID, "give either names or prefix, not both")
	case len(in.Names) > 0:
		targets, out.Refused, err = s.namedTargets(ctx, caller, in.Names)
	case in.Prefix != "":
		targets, out.Refused, err = s.prefixTargets(ctx, caller, in.Prefix)
	default:
		return RevealedSecrets{}, Written{}, domain.Errorf(domain.EINVALID, "names or prefix is required")
	}
	if err != nil {
		return RevealedSecrets{}, Written{}, err
	}
	w, err := s.revealAll(ctx, caller, targets, &out)
	if err != nil {
		return RevealedSecrets{}, Written{}, err
	}
	slices.SortFunc(out.Refused, func(a, b RevealRefusal) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Values, func(a, b RevealedNamed) int { return strings.Compare(a.Name, b.Name) })
	return out, w, nil
}

// revealTarget is a secret the caller may reveal, found by name.
type revealTarget struct {
	name, id string
}

// namedTargets checks each name asked for.
func (s *Secrets) namedTargets(ctx context.Context, caller domain.Caller, names []string) ([]revealTarget, []RevealRefusal, error) {
	if len(names) > SecretRevealBatchMax {
		return nil, nil, domain.Errorf(domain.EINVALID, "at most %d names per request", SecretRevealBatchMax)
	}
	var (
		targets []revealTarget
		refused []RevealRefusal
		seen    = map[string]bool{}
	)
	for _, raw := range names {
		name, err := domain.NormalizeSecretName(raw)
		if err != nil {
			return nil, nil, err
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		resource := domain.SecretResource(name)
		if !s.svc.access.Allowed(caller, domain.ActionReveal, resource) {
			reason := RevealNotPermitted
			if s.svc.access.Allowed(caller, domain.ActionList, resource) {
				if _, err := s.svc.fold.SecretID(ctx, raw); domain.ErrorCode(err) == domain.ENOTFOUND {
					reason = RevealNotFound
				} else if err != nil {
					return nil, nil, err
				}
			}
			if reason == RevealNotPermitted {
				// A refused reveal is an attempt, recorded as a single one is.
				_ = s.svc.access.Authorize(ctx, caller, domain.ActionReveal, resource)
			}
			refused = append(refused, RevealRefusal{Name: name, Reason: reason})
			continue
		}
		id, err := s.svc.fold.SecretID(ctx, raw)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			refused = append(refused, RevealRefusal{Name: name, Reason: RevealNotFound})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, revealTarget{name: name, id: id})
	}
	return targets, refused, nil
}

// prefixTargets walks the secrets under prefix in the read model.
func (s *Secrets) prefixTargets(ctx context.Context, caller domain.Caller, rawPrefix string) ([]revealTarget, []RevealRefusal, error) {
	prefix, err := domain.NormalizeSecretNamePrefix(rawPrefix)
	if err != nil {
		return nil, nil, err
	}
	var (
		targets []revealTarget
		refused []RevealRefusal
		after   string
	)
	if err := s.svc.awaitReadModel(ctx, caller, domain.ReadModelSecrets); err != nil {
		return nil, nil, err
	}
	const pageSize = domain.SecretListMaxLimit
	for {
		rows, err := s.deps.ReadModel.List(ctx, domain.SecretFilter{Prefix: prefix, After: after, Limit: pageSize})
		if err != nil {
			return nil, nil, err
		}
		for _, row := range rows {
			after = row.Name
			resource := domain.SecretResource(row.Name)
			switch {
			case s.svc.access.Allowed(caller, domain.ActionReveal, resource):
				targets = append(targets, revealTarget{name: row.Name, id: row.ID})
			case s.svc.access.Allowed(caller, domain.ActionList, resource):
				refused = append(refused, RevealRefusal{Name: row.Name, Reason: RevealNotPermitted})
			default:
				continue
			}
			if len(targets)+len(refused) > SecretRevealBatchMax {
				return nil, nil, domain.Errorf(domain.EUNPROCESSABLE,
					"more than %d secrets under prefix %q; use a longer prefix", SecretRevealBatchMax, prefix)
			}
		}
		if len(rows) < pageSize {
			return targets, refused, nil
		}
	}
}

// revealAll opens every target's current version from the log, appends
// one SecretRevealed per secret in one append, and only then hands the
// values out.
func (s *Secrets) revealAll(ctx context.Context, caller domain.Caller, targets []revealTarget, out *RevealedSecrets) (Written, error) {
	var appends []domain.StreamAppend
	fail := func(err error) (Written, error) {
		out.Zero()
		out.Values = nil
		return Written{}, err
	}
	for _, t := range targets {
		sec, err := s.load(ctx, t.id)
		if err != nil {
			return fail(err)
		}
		// The name of record decides (a legacy name keeps its capitals).
		if sec.Name() != t.name && !s.svc.access.Allowed(caller, domain.ActionReveal, domain.SecretResource(sec.Name())) {
			out.Refused = append(out.Refused, RevealRefusal{Name: t.name, Reason: RevealNotPermitted})
			continue
		}
		v, err := sec.Revealable(0)
		switch domain.ErrorCode(err) {
		case "":
		case domain.EGONE:
			out.Refused = append(out.Refused, RevealRefusal{Name: t.name, Reason: RevealGone})
			continue
		case domain.ENOTFOUND:
			out.Refused = append(out.Refused, RevealRefusal{Name: t.name, Reason: RevealNotFound})
			continue
		default:
			return fail(err)
		}
		plaintext, err := s.openVersion(ctx, sec.Secret, v)
		if err != nil {
			return fail(err)
		}
		out.Values = append(out.Values, RevealedNamed{Name: sec.Name(), ID: sec.ID(), Version: v.Version, Value: plaintext})
		appends = append(appends, revealedAppend(caller, sec.Secret, v.Version))
	}
	if len(appends) == 0 {
		return Written{}, nil
	}
	res, err := s.svc.log.AppendStreams(ctx, appends...)
	if err != nil {
		return fail(domain.WrapError(domain.EUNAVAILABLE, "the reveals could not be audited, so they were refused; retry later", err))
	}
	return Written{Position: res.LastPosition}, nil
}
