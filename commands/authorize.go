package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// authorize decides whether the caller may perform action on resource. Deny
// by default; a refusal is appended to the caller's access stream so it
// reaches the audit log. The caller is refused even when that append fails:
// failing closed here means refusing, which the caller gets either way.
func (s *Service) authorize(ctx context.Context, caller Caller, action, resource string) error {
	if !caller.Principal.Authenticated() {
		return domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	d := domain.Decide(domain.AccessRequest{Action: action, Resource: resource}, caller.Principal.Policies)
	if d.Allowed {
		return nil
	}
	s.recordDenial(ctx, caller, action, resource, d.Reason)
	return domain.Errorf(domain.EFORBIDDEN, "not allowed to %s %s", action, resource)
}

// allowed is authorize for filtering lists: it never records a denial,
// because hiding an item the caller may not list is not an attempt.
func (s *Service) allowed(caller Caller, action, resource string) bool {
	return domain.Decide(domain.AccessRequest{Action: action, Resource: resource}, caller.Principal.Policies).Allowed
}

func (s *Service) recordDenial(ctx context.Context, caller Caller, action, resource, reason string) {
	ev := domain.NewAccessDeniedEvent(domain.AccessDenied{
		UserID: caller.Principal.UserID, Action: action, Resource: resource, Reason: reason,
	}, caller.Metadata())
	_, err := s.log.AppendStreams(context.WithoutCancel(ctx), domain.StreamAppend{
		StreamID: domain.AccessStream(caller.Principal.UserID), Expected: domain.ExpectAny, Events: []domain.NewEvent{ev},
	})
	if err != nil {
		s.logger.Error("could not record a denied attempt", "user_id", caller.Principal.UserID, "action", action, "error", err)
	}
}
