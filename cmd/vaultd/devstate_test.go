package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/devstate"
)

// devDeployment is `make run`: dev mode with the embedded JetStream server,
// its data under dataDir.
func devDeployment(t *testing.T, dataDir string, perDatabase bool) *deployment {
	t.Helper()
	d := newDeployment(t)
	delete(d.env, config.EnvNATSURL)
	d.env[config.EnvDataDir] = dataDir
	if perDatabase {
		d.devDatabase = devstate.Database
	}
	return d
}

func readyBodyOf(t *testing.T, inst *instance) (int, map[string]any) {
	t.Helper()
	var body map[string]any
	status := inst.getJSON(t, "/readyz", &body)
	return status, body
}

// TestDevJetStreamDataIsKeptPerDatabase is the defect a newcomer met: the
// embedded JetStream data of an earlier database in the same data
// directory. Kept per database, a second database starts with a stream of
// its own and is ready; kept in one place (as before), the relay refuses
// the other log's stream, and /readyz now says so by name instead of
// answering ready.
func TestDevJetStreamDataIsKeptPerDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		perDatabase bool
	}{
		{"per database", true},
		{"one directory for every database", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir := t.TempDir()
			earlier := devDeployment(t, dataDir, tc.perDatabase)
			a := earlier.start(t)
			a.awaitReady(t, 30*time.Second)
			c := a.adminClient(t) // more events in the earlier log than the next one will have
			for range 5 {
				c.login("admin", testAdminPassword)
			}
			require.Eventually(t, func() bool {
				st, err := a.app.relay.Status(context.Background())
				return err == nil && st.Lag == 0 && st.Published > 0
			}, 30*time.Second, 50*time.Millisecond, "the earlier database's events are in its stream")
			a.stop(t)

			next := devDeployment(t, dataDir, tc.perDatabase)
			next.env[config.EnvJetStreamStream] = earlier.env[config.EnvJetStreamStream]
			next.env[config.EnvSubjectPrefix] = earlier.env[config.EnvSubjectPrefix]
			b := next.start(t)
			if tc.perDatabase {
				require.NotEqual(t, a.app.cfg.StateDir, b.app.cfg.StateDir)
				require.Eventually(t, func() bool {
					st, err := b.app.relay.Status(context.Background())
					status, body := readyBodyOf(t, b)
					return err == nil && st.Published > 0 && st.Lag == 0 && status == http.StatusOK && body["status"] == "ready"
				}, 30*time.Second, 50*time.Millisecond, "the new database publishes to a stream of its own and is ready")
				return
			}
			var body map[string]any
			require.Eventually(t, func() bool {
				var status int
				status, body = readyBodyOf(t, b)
				return status == http.StatusServiceUnavailable
			}, 30*time.Second, 50*time.Millisecond, "the replica is not ready")
			checks := body["checks"].(map[string]any)
			require.Contains(t, checks["relay"], "failed: the relay stopped publishing")
			require.Contains(t, checks["log_integrity"], "belongs to another log")
		})
	}
}
