// Package access is the one authorization check both halves of the vault
// run where a command or a query executes: decide with the caller's
// policies (domain.Decide, deny by default) and record a refusal as an
// AccessDenied event, so a denied attempt reaches the audit log whichever
// half refused it.
package access

import (
	"context"
	"log/slog"

	"github.com/securevault/vault/domain"
)

// Log is the one write a check makes: the AccessDenied record of a
// refusal. *eventstore.Store satisfies it.
type Log interface {
	AppendStreams(ctx context.Context, appends ...domain.StreamAppend) (domain.AppendResult, error)
}

// Checker decides and records refusals.
type Checker struct {
	log    Log
	logger *slog.Logger
}

// New returns a checker that records refusals in log.
func New(log Log, logger *slog.Logger) *Checker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{log: log, logger: logger}
}

// Authorize decides whether the caller may perform action on resource. An
// anonymous caller is refused as unauthenticated; a refusal of anyone else
// is appended to the caller's access stream. The caller is refused even
// when that append fails: failing closed here means refusing, which the
// caller gets either way.
func (c *Checker) Authorize(ctx context.Context, caller domain.Caller, action, resource string) error {
	if err := caller.RequireAuthenticated(); err != nil {
		return err
	}
	d := domain.Decide(domain.AccessRequest{Action: action, Resource: resource}, caller.Principal.Policies)
	if d.Allowed {
		return nil
	}
	c.Refuse(ctx, caller, action, resource, d.Reason)
	return domain.Errorf(domain.EFORBIDDEN, "not allowed to %s %s", action, resource)
}

// Allowed is Authorize for filtering lists: it never records a denial,
// because hiding an item the caller may not list is not an attempt.
func (c *Checker) Allowed(caller domain.Caller, action, resource string) bool {
	return domain.Decide(domain.AccessRequest{Action: action, Resource: resource}, caller.Principal.Policies).Allowed
}

// Refuse records a refusal decided elsewhere (an escalation the no-grant
// rule refused), with the reason an auditor reads. It survives the
// request's cancellation: a client that hangs up must not erase its
// attempt.
func (c *Checker) Refuse(ctx context.Context, caller domain.Caller, action, resource, reason string) {
	ev := domain.NewAccessDeniedEvent(domain.AccessDenied{
		UserID: caller.Principal.UserID, Action: action, Resource: resource, Reason: reason,
	}, caller.Metadata())
	_, err := c.log.AppendStreams(context.WithoutCancel(ctx), domain.StreamAppend{
		StreamID: domain.AccessStream(caller.Principal.UserID), Expected: domain.ExpectAny, Events: []domain.NewEvent{ev},
	})
	if err != nil {
		c.logger.ErrorContext(ctx, "could not record a denied attempt", "user_id", caller.Principal.UserID, "action", action, "error", err)
	}
}
