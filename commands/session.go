package commands

import (
	"context"
	"encoding/json"

	"github.com/securevault/vault/domain"
)

// Refresh rotates a refresh token: the session's current token buys a new
// pair and is spent. Presenting a spent token is reuse: the session is
// revoked and RefreshReuseDetected appended before the 401 goes out, so
// whoever holds the newer token is logged out too. Of two concurrent
// refreshes with one token exactly one wins; the loser reloads and meets
// reuse detection.
func (id *Identity) Refresh(ctx context.Context, caller domain.Caller, refreshToken string) (Tokens, error) {
	claims, err := id.tokens.VerifyRefresh(refreshToken)
	if err != nil {
		return Tokens{}, err
	}
	for attempt := 0; ; attempt++ {
		sess, err := id.svc.fold.Session(ctx, claims.SessionID)
		if err != nil {
			return Tokens{}, domain.InvalidTokenUnlessInternal(err)
		}
		if sess.UserID() != claims.UserID {
			return Tokens{}, domain.ErrInvalidToken()
		}
		u, err := id.svc.fold.User(ctx, claims.UserID)
		if err != nil {
			return Tokens{}, domain.InvalidTokenUnlessInternal(err)
		}
		if u.Disabled() {
			return Tokens{}, domain.ErrInvalidToken()
		}
		pair, err := id.tokens.IssuePair(u.ID(), sess.ID())
		if err != nil {
			return Tokens{}, err
		}
		md := caller.Metadata()
		md.Actor, md.ActorName = u.ID(), u.Username()
		refreshErr := sess.Refresh(claims.TokenID, pair.Refresh.ID, pair.Refresh.ExpiresAt, id.now())
		if refreshErr != nil && len(sess.Changes()) == 0 {
			return Tokens{}, domain.InvalidTokenUnlessInternal(refreshErr)
		}
		// Either the rotation or the pending reuse detection: both must be
		// stored, the second even though the caller gets a 401.
		_, err = id.svc.log.AppendStreams(context.WithoutCancel(ctx), sess.StreamAppend(md))
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue
		}
		if err != nil {
			return Tokens{}, err
		}
		if refreshErr != nil {
			id.svc.logger.WarnContext(ctx, "spent refresh token presented; session revoked",
				"session_id", sess.ID(), "user_id", u.ID(), "client_ip", caller.ClientIP)
			return Tokens{}, refreshErr
		}
		return Tokens{Access: pair.Access, Refresh: pair.Refresh, ExpiresIn: id.tokens.AccessTTL(), UserID: u.ID(), SessionID: sess.ID()}, nil
	}
}

// Logout revokes the caller's session: its access and refresh tokens stop
// working at once, because Authenticate and Refresh fold the session.
func (id *Identity) Logout(ctx context.Context, caller domain.Caller) (Written, error) {
	if !caller.Principal.Authenticated() {
		return Written{}, domain.Errorf(domain.EUNAUTHORIZED, "authentication required")
	}
	for attempt := 0; ; attempt++ {
		sess, err := id.svc.fold.Session(ctx, caller.Principal.SessionID)
		if err != nil {
			return Written{}, domain.InvalidTokenUnlessInternal(err)
		}
		if err := sess.Revoke(domain.RevokeLogout); err != nil {
			return Written{}, err
		}
		if len(sess.Changes()) == 0 {
			return Written{}, nil
		}
		res, err := id.svc.log.AppendStreams(ctx, sess.StreamAppend(caller.Metadata()))
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue
		}
		if err != nil {
			return Written{}, err
		}
		return Written{Position: res.LastPosition}, nil
	}
}

// revokeUserSessions revokes every active session the user ever started
// (each login's LoginSucceeded names its session). The appends join the
// user change's atomic append, with each session's expected version, so a
// refresh racing a disable or delete makes the whole change conflict rather
// than survive it.
func (id *Identity) revokeUserSessions(ctx context.Context, userID, reason string) ([]domain.StreamAppend, error) {
	return id.revokeUserSessionsExcept(ctx, userID, reason, "")
}

// revokeUserSessionsExcept is revokeUserSessions sparing one session, the
// caller's own when users change their own password.
func (id *Identity) revokeUserSessionsExcept(ctx context.Context, userID, reason, keep string) ([]domain.StreamAppend, error) {
	events, err := id.svc.fold.ReadStream(ctx, domain.StreamID(domain.UserAggregate, userID))
	if err != nil {
		return nil, err
	}
	now := id.now()
	seen := map[string]bool{}
	var out []domain.StreamAppend
	for _, ev := range events {
		if ev.Type != domain.EventLoginSucceeded {
			continue
		}
		var e domain.LoginSucceeded
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return nil, domain.WrapError(domain.EINTERNAL, "cannot read a login event", err)
		}
		if seen[e.SessionID] || e.SessionID == keep {
			continue
		}
		seen[e.SessionID] = true
		sess, err := id.svc.fold.Session(ctx, e.SessionID)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !sess.Active(now) {
			continue
		}
		if err := sess.Revoke(reason); err != nil {
			return nil, err
		}
		out = append(out, domain.StreamAppend{StreamID: sess.StreamID(), Expected: sess.Expected(), Events: sess.Changes()})
	}
	return out, nil
}

// stamp sets md on every event of appends.
func stamp(md domain.Metadata, appends []domain.StreamAppend) []domain.StreamAppend {
	for i := range appends {
		for j := range appends[i].Events {
			appends[i].Events[j].Metadata = md
		}
	}
	return appends
}
