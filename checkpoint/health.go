// Readiness: whether the signer keeps witnessing the log.

package checkpoint

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/health"
)

// What the signer was doing when it failed, as Check names it.
const (
	stepWitness = "compare the newest published checkpoint with the log"
	stepSign    = "sign a checkpoint"
	stepPublish = "publish a checkpoint"
)

// Check is the signer's readiness check: it fails, naming what failed and
// since when, once signing or publishing a checkpoint, or comparing the
// newest published one with the log, has failed UnhealthyAfter times in a
// row. Until it passes again the log's tail has no fresh witness outside
// the database. The causes are in the vaultd log, not here: they may name
// hosts.
func (s *Signer) Check(context.Context) error {
	for _, streak := range []*health.Streak{&s.signing, &s.witness} {
		if st := streak.State(); st.Failing(s.cfg.UnhealthyAfter) {
			return domain.Errorf(domain.EUNAVAILABLE, "the checkpoint signer cannot %s since %s (%d failed attempts in a row; the vaultd log has the cause)",
				st.Step, st.Since.UTC().Format(time.RFC3339), st.Failures)
		}
	}
	return nil
}
