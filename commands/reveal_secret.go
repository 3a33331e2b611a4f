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
	sec, err := s.load(ctx, id)
	if err != nil {
		return RevealedSecret{}, Written{}, err
	}
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionReveal, domain.SecretResource(sec.Name())); err != nil {
		return RevealedSecret{}, Written{}, err
	}
	// The aggregate decides, not the presence of a key row: a version whose
	// destruction is recorded stays unrevealable even if deleting its key
	// failed.
	v, err := sec.Revealable(version)
	if err != nil {
		return RevealedSecret{}, Written{}, err
	}
	plaintext, err := s.sealer.Open(ctx, valueRef(sec.ID(), v.Version), v.SealedValue)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return RevealedSecret{}, Written{}, domain.WrapError(domain.EINTERNAL, "the data key of a live version is missing", err)
		}
		return RevealedSecret{}, Written{}, err
	}
	res, err := s.svc.log.AppendStreams(ctx, domain.StreamAppend{
		StreamID: domain.SecretAccessStream(sec.ID()),
		Expected: domain.ExpectAny,
		Events:   []domain.NewEvent{domain.NewSecretRevealedEvent(sec.ID(), v.Version, caller.Metadata())},
	})
	if err != nil {
		envelope.Zero(plaintext)
		return RevealedSecret{}, Written{}, domain.WrapError(domain.EUNAVAILABLE, "the reveal could not be audited, so it was refused; retry later", err)
	}
	return RevealedSecret{Value: plaintext, Version: v.Version}, Written{Position: res.LastPosition}, nil
}
