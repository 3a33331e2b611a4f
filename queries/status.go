package queries

import (
	"context"

	"github.com/securevault/vault/domain"
)

// StatusSource reports the progress of the background pipelines
// (projection checkpoints, relay position) as any JSON-encodable value.
type StatusSource func(ctx context.Context) (any, error)

// Status answers how far the projections and the relay trail the log.
//
// It needs `read` on `audit`. The answer names no secret, but it is a live
// view of the audit log's own machinery: how many events exist and how fast
// they arrive (which betrays activity), the JetStream stream name, which
// replica leads the relay. Whoever may read the log may see how far its
// copies have got; any other principal (a service account holding one
// secret, say) has no need to, and deny by default says it does not get to.
type Status struct {
	svc    *Service
	source StatusSource
}

// NewStatus returns the status query.
func NewStatus(svc *Service, source StatusSource) (*Status, error) {
	if svc == nil || source == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "the status query needs a service and a source")
	}
	return &Status{svc: svc, source: source}, nil
}

// Status returns the pipelines' progress once the caller may read the
// audit log; a refusal is recorded like every other.
func (s *Status) Status(ctx context.Context, caller domain.Caller) (any, error) {
	if err := s.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.ResourceAudit); err != nil {
		return nil, err
	}
	return s.source(ctx)
}
