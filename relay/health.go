// Readiness: whether this replica's relay, or the leader it follows, is
// publishing.

package relay

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// What the leader was doing when it failed, as Check names it.
const (
	stepReachStream = "reach its JetStream stream"
	stepReadLog     = "read the event log"
	stepPublish     = "publish to its JetStream stream"
)

// Check is the relay's readiness check. It fails, naming the reason, when
// this replica's relay stopped for good (a tampered log), when it leads and
// has failed UnhealthyAfter attempts in a row, or when the stream trails
// the log by more than LagBound events, which is how a follower sees a
// leader on another replica that cannot publish. Messages are meant for
// operators and hold no host names or SQL (the log has the causes).
func (r *Relay) Check(ctx context.Context) error {
	if r.tampered() {
		return domain.Errorf(domain.EUNAVAILABLE, "the relay stopped publishing to %s: the event log failed its integrity check", r.cfg.Stream)
	}
	if st := r.health.State(); st.Failing(r.cfg.UnhealthyAfter) {
		return domain.Errorf(domain.EUNAVAILABLE, "the relay cannot %s %s since %s (%d failed attempts in a row; the vaultd log has the cause)",
			st.Step, r.cfg.Stream, st.Since.UTC().Format(time.RFC3339), st.Failures)
	}
	status, err := r.Status(ctx)
	if err != nil {
		return err
	}
	if status.Lag > r.cfg.LagBound {
		who := "the leader on another replica"
		if status.Leader {
			who = "this replica, the leader,"
		}
		return domain.Errorf(domain.EUNAVAILABLE, "the relay is %d events behind the log (published up to position %d of %d): %s is not keeping up",
			status.Lag, status.Published, status.Head, who)
	}
	return nil
}
