package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// RevealedSecret is a decrypted value. The caller zeroes Value once it has
// been written out.
type RevealedSecret struct {
	Value   []byte
	Version int64
}

// RevealSecret needs `reveal` on secrets/<name>; version 0 is the current
// one. The SecretRevealed event is appended before the value is returned,
// to the secret's access stream so it never moves the secret's version: if
// the audit record cannot be written, the reveal fails.
func (s *Secrets) RevealSecret(ctx context.Context, caller domain.Caller, id string, version int64) (RevealedSecret, Written, error) {
	if version < 0 {
		return RevealedSecret{}, Written{}, domain.Errorf(domain.EINVALID, "version must be positive")
	}
	// The secret is served from the cache when it holds it; the audit append
	// then also requires the secret's stream to be at the version revealed
	// from, which proves the cached secret current. Any other answer from a
	// cached secret (a conflict, a refusal) is decided again on a fresh load.
	authorized := false
	for fresh := false; ; fresh = true {
		out, w, retry, err := s.reveal(ctx, caller, id, version, fresh, &authorized)
		if retry && !fresh {
			continue
		}
		return out, w, err
	}
}

// reveal is one attempt of RevealSecret; retry tells that its answer came
// from a cached secret that an append did not prove.
func (s *Secrets) reveal(ctx context.Context, caller domain.Caller, id string, version int64, fresh bool, authorized *bool) (RevealedSecret, Written, bool, error) {
	sec, err := s.loadFrom(ctx, id, fresh)
	if err != nil {
		return RevealedSecret{}, Written{}, false, err
	}
	if !*authorized {
		// Names never change: a cached name authorizes as a fresh one does.
		if err := s.svc.access.Authorize(ctx, caller, domain.ActionReveal, domain.SecretResource(sec.Name())); err != nil {
			return RevealedSecret{}, Written{}, false, err
		}
		*authorized = true
	}
	// The aggregate decides, not the presence of a key row: a version whose
	// destruction is recorded stays unrevealable even if deleting its key
	// failed.
	v, err := sec.Revealable(version)
	if err != nil {
		return RevealedSecret{}, Written{}, sec.cached, err
	}
	plaintext, err := s.openVersion(ctx, sec.Secret, v)
	if err != nil {
		return RevealedSecret{}, Written{}, sec.cached, err
	}
	appends := []domain.StreamAppend{revealedAppend(caller, sec.Secret, v.Version)}
	if sec.cached {
		appends = append(appends, domain.StreamAppend{StreamID: sec.StreamID(), Expected: domain.ExpectVersion(sec.Version())})
	}
	res, err := s.svc.log.AppendStreams(ctx, appends...)
	if err != nil {
		envelope.Zero(plaintext)
		if sec.cached && domain.ErrorCode(err) == domain.ECONFLICT {
			s.svc.cache.Forget(sec.StreamID())
			return RevealedSecret{}, Written{}, true, err
		}
		return RevealedSecret{}, Written{}, false, domain.WrapError(domain.EUNAVAILABLE, "the reveal could not be audited, so it was refused; retry later", err)
	}
	return RevealedSecret{Value: plaintext, Version: v.Version}, Written{Position: res.LastPosition}, false, nil
}

// openVersion decrypts a version the aggregate says is live. Its data key
// missing is then the vault's fault, not the caller's: an internal error,
// never a 404.
func (s *Secrets) openVersion(ctx context.Context, sec *domain.Secret, v domain.SecretVersion) ([]byte, error) {
	plaintext, err := s.sealer.Open(ctx, valueRef(sec.ID(), v.Version), v.SealedValue)
	if err != nil && domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, domain.WrapError(domain.EINTERNAL, "the data key of a live version is missing", err)
	}
	return plaintext, err
}

// revealedAppend is the audit record of one reveal, on the secret's access
// stream; it must be appended before the value is handed out.
func revealedAppend(caller domain.Caller, sec *domain.Secret, version int64) domain.StreamAppend {
	return domain.StreamAppend{
		StreamID: domain.SecretAccessStream(sec.ID()),
		Expected: domain.ExpectAny,
		Events:   []domain.NewEvent{domain.NewSecretRevealedEvent(sec.ID(), version, caller.Metadata())},
	}
}
