package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
	"github.com/securevault/vault/seal"
)

// conflictRetries bounds how often a command without If-Match reloads and
// retries after losing an optimistic-concurrency race.
const conflictRetries = 5

// SecretReadModel is what secret commands read of the secrets projection;
// *projections/secrets.Query satisfies it. A write answers with the row the
// read model shows once it caught up.
type SecretReadModel interface {
	Get(ctx context.Context, id string) (domain.SecretSummary, error)
	// MixedCaseName finds a name recorded with capitals, before names were
	// folded, whose folded form is folded.
	MixedCaseName(ctx context.Context, folded string) (name string, ok bool, err error)
	// List pages secrets in name order; the batch reveal of a prefix walks
	// it.
	List(ctx context.Context, f domain.SecretFilter) ([]domain.SecretSummary, error)
}

// SecretDeps are what secret commands need besides the shared Service.
type SecretDeps struct {
	DataKeys  seal.DataKeys
	ReadModel SecretReadModel
	// KeyProvider names the key-encryption-key provider recorded with each
	// version ("local" or "aws-kms"), so an operator can tell which provider
	// must be available to read it.
	KeyProvider string
	// KeepVersions is how many live versions a secret keeps; rotating past
	// it destroys the oldest. Zero means domain.DefaultKeepVersions.
	KeepVersions int
}

// Secrets is the secret command set (reveal included: it appends). It is a separate
// type around the shared Service so secret wiring stays additive.
type Secrets struct {
	svc    *Service
	deps   SecretDeps
	sealer *seal.Sealer
}

// NewSecrets returns the secret handlers.
func NewSecrets(svc *Service, deps SecretDeps) (*Secrets, error) {
	if svc == nil || deps.DataKeys == nil || deps.ReadModel == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "secrets need a service, a data key store and a read model")
	}
	if deps.KeyProvider == "" {
		return nil, domain.Errorf(domain.EINTERNAL, "secrets need the key provider name")
	}
	if deps.KeepVersions == 0 {
		deps.KeepVersions = domain.DefaultKeepVersions
	}
	if deps.KeepVersions < 1 {
		return nil, domain.Errorf(domain.EINVALID, "versions to keep must be at least 1, not %d", deps.KeepVersions)
	}
	sealer, err := seal.New(deps.DataKeys)
	if err != nil {
		return nil, err
	}
	return &Secrets{svc: svc, deps: deps, sealer: sealer}, nil
}

// SecretResult is what a secret write returns: the secret's metadata as
// the read model shows it once it applied the write (built from the
// aggregate, see result) and where the write landed.
type SecretResult struct {
	Secret  domain.SecretSummary
	Written Written
}

// loadedSecret is an aggregate plus the position of its last event, which a
// command that appends nothing reports as its position. cached tells that
// it came from the command side's cache: a guess that only an append with
// its expected version proves.
type loadedSecret struct {
	*domain.Secret
	position int64
	cached   bool
}

// load folds a secret from the log (and refreshes the cache with it).
func (s *Secrets) load(ctx context.Context, id string) (loadedSecret, error) {
	return s.loadFrom(ctx, id, true)
}

// loadFrom serves the secret from the cache unless fresh is set. A command
// that serves a cached secret must either append with its expected version
// or, when it would answer without such an append (a refusal, nothing to
// write), load it fresh and decide again.
func (s *Secrets) loadFrom(ctx context.Context, id string, fresh bool) (loadedSecret, error) {
	if !domain.IsID(id) {
		return loadedSecret{}, domain.Errorf(domain.ENOTFOUND, "secret not found")
	}
	streamID := domain.StreamID(domain.SecretAggregate, id)
	if fresh {
		s.svc.cache.Forget(streamID)
	}
	sec, position, cached, err := fold.Cached(ctx, s.svc.fold, s.svc.cache, streamID, domain.LoadSecret, domain.RestoreSecret)
	if err != nil {
		return loadedSecret{}, err
	}
	return loadedSecret{Secret: sec, position: position, cached: cached}, nil
}

// valueRef names the sealed value of one version of a secret.
func valueRef(id string, version int64) seal.Ref {
	return seal.Ref{Purpose: seal.SecretValue, OwnerID: id, Version: version}
}

// write appends the aggregate's changes and waits for the read model; with
// no changes it reports the aggregate's last position. The secret is
// stamped with what the log recorded, so it answers for the read model
// (see result); when the log did not say (an append already stored), it
// is dropped from the cache and the answer is read back.
func (s *Secrets) write(ctx context.Context, caller domain.Caller, sec loadedSecret, extra ...domain.StreamAppend) (Written, error) {
	if len(sec.Changes()) == 0 && len(extra) == 0 {
		return Written{Position: sec.position}, nil
	}
	md := caller.Metadata()
	appends := append([]domain.StreamAppend{sec.StreamAppend(md)}, extra...)
	w, err := s.svc.appendEvents(ctx, appends...)
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			s.svc.cache.Forget(sec.StreamID())
		}
		return Written{}, err
	}
	if w.RecordedAt.IsZero() {
		sec.Committed()
		s.svc.cache.Forget(sec.StreamID())
		return w, nil
	}
	sec.CommittedAt(w.RecordedAt, md.Actor)
	fold.Keep(s.svc.cache, sec.Secret, w.Position)
	return w, nil
}

// writeRetaining is write for a change that destroyed versions beyond the
// retention count (a rotation, a rollback): once the append has recorded
// their destruction, their data keys are deleted before it answers. A
// failed delete is logged, never the write's failure: the versions are
// destroyed in the log and never revealed, and destroying them again
// removes the leftover keys.
func (s *Secrets) writeRetaining(ctx context.Context, caller domain.Caller, sec loadedSecret, destroyed []int64) (Written, error) {
	w, err := s.write(ctx, caller, sec)
	if err != nil || len(destroyed) == 0 {
		return w, err
	}
	// The client hanging up must not leave the keys behind: the write is
	// done, and the batch bounds how long the delete may take.
	if err := s.shredRetired(context.WithoutCancel(ctx), sec.ID(), destroyed); err != nil {
		s.svc.logger.ErrorContext(ctx, "retention could not delete data keys", "secret_id", sec.ID(), "error", err)
	}
	return w, nil
}

// result answers a secret write with the row the read model shows once
// it applied the write, built from the aggregate (domain.Secret.Summary)
// without reading it back: the aggregate was just proven current by the
// append, and its stamps are the log's. Only when the append wrote
// nothing new is the row read, once the read model has applied the
// position (the stamps of an append already stored are not known here);
// when it does not within the bound, the aggregate answers.
func (s *Secrets) result(ctx context.Context, sec *domain.Secret, w Written) (SecretResult, error) {
	if !w.RecordedAt.IsZero() || s.svc.waiter == nil {
		return SecretResult{Secret: sec.Summary(), Written: w}, nil
	}
	if err := s.svc.waiter.WaitFor(ctx, w.Position, s.svc.opts.ReadYourWritesTimeout, domain.ReadModelSecrets); err != nil {
		if domain.ErrorCode(err) != domain.EUNAVAILABLE {
			return SecretResult{}, err
		}
		return SecretResult{Secret: sec.Summary(), Written: w}, nil
	}
	row, err := s.deps.ReadModel.Get(ctx, sec.ID())
	if err == nil {
		return SecretResult{Secret: row, Written: w}, nil
	}
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		return SecretResult{}, err
	}
	return SecretResult{Secret: sec.Summary(), Written: w}, nil
}

// retryConflicts runs attempt again after a lost optimistic-concurrency race,
// reloading state each time, so commands that did not ask for
// check-and-set are not failed by an unrelated concurrent change.
func retryConflicts[T any](ctx context.Context, attempt func() (T, error)) (T, error) {
	var (
		out T
		err error
	)
	for range conflictRetries {
		out, err = attempt()
		if domain.ErrorCode(err) != domain.ECONFLICT {
			return out, err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return out, err
}

// shredRetired deletes data keys of versions a rotation or rollback retired
// past the retention count, once their destruction is recorded, without
// waiting for the deletes' disk flush (seal.Sealer.ShredRetired). A failure
// leaves the key row behind but never makes the version readable again:
// reveal checks the aggregate first, and destroying the version explicitly
// retries the delete, durably.
func (s *Secrets) shredRetired(ctx context.Context, id string, versions []int64) error {
	return s.sealer.ShredRetired(ctx, id, versions...)
}

// conditional runs a write once when it is check-and-set (a lost race then
// means the expected version is gone: EPRECONDITION), and retries lost
// races otherwise.
func conditional[T any](ctx context.Context, checkAndSet bool, attempt func() (T, error)) (T, error) {
	if !checkAndSet {
		return retryConflicts(ctx, attempt)
	}
	res, err := attempt()
	if domain.ErrorCode(err) == domain.ECONFLICT {
		var zero T
		return zero, domain.WrapError(domain.EPRECONDITION, "the secret changed concurrently; fetch it and retry", err)
	}
	return res, err
}

// expectVersion is If-Match: the secret's current version must still be
// the one the caller saw, when it gave one.
func expectVersion(sec *domain.Secret, expected *int64) error {
	if expected != nil && *expected != sec.CurrentVersion() {
		return domain.Errorf(domain.EPRECONDITION,
			"secret %s is at version %d, not the expected %d", sec.Name(), sec.CurrentVersion(), *expected)
	}
	return nil
}
