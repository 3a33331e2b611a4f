package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/internal/natstest"
	"github.com/securevault/vault/internal/tamper"
)

// TestForgedPolicyEventWithRecomputedSHA256ChainIsDetected is the observed
// attack end to end: a database superuser turns a policy's deny into an
// allow and recomputes the SHA-256 link of that event and of every later
// one. vaultd must not enforce the forged policy: the request that depends
// on it fails with 503, /readyz answers 503 naming the position, the metric
// is raised and the error is logged once.
func TestForgedPolicyEventWithRecomputedSHA256ChainIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDeployment(t)
	adminPassword := "forgery-test-" + randomText(t, 16)
	d.env[config.EnvAdminPassword] = adminPassword
	d.env[config.EnvTestMode] = "true"
	inst := d.start(t)
	admin := &client{t: t, base: inst.baseURL}
	admin.login("admin", adminPassword)

	status, body := admin.do(http.MethodPost, "/api/v1/secrets", map[string]any{"name": "team/db", "value": "hunter2-" + randomText(t, 8)})
	require.Equal(t, http.StatusCreated, status, string(body))
	secretID := idOf(t, body)
	status, body = admin.do(http.MethodPost, "/api/v1/policies", map[string]any{
		"name": "team-readers",
		"statements": []map[string]any{
			{"effect": "allow", "actions": []string{"read", "reveal"}, "resources": []string{"secrets/team/**"}},
			{"effect": "deny", "actions": []string{"reveal"}, "resources": []string{"secrets/team/**"}},
		},
	})
	require.Equal(t, http.StatusCreated, status, string(body))
	policyID := idOf(t, body)
	status, body = admin.do(http.MethodPost, "/api/v1/roles", map[string]any{"name": "team-reader", "policies": []string{policyID}})
	require.Equal(t, http.StatusCreated, status, string(body))
	roleID := idOf(t, body)
	alicePassword := "wonderland-" + randomText(t, 16)
	status, body = admin.do(http.MethodPost, "/api/v1/users", map[string]any{
		"username": "alice", "email": "alice@example.com", "password": alicePassword, "roles": []string{roleID},
	})
	require.Equal(t, http.StatusCreated, status, string(body))
	alice := &client{t: t, base: inst.baseURL}
	alice.login("alice", alicePassword)
	status, body = alice.do(http.MethodGet, "/api/v1/secrets/"+secretID+"/reveal", nil)
	require.Equal(t, http.StatusForbidden, status, "the deny holds before the attack: %s", body)
	require.Equal(t, http.StatusOK, inst.getJSON(t, "/readyz", nil))

	var position int64
	require.NoError(t, d.db.Pool.QueryRow(ctx, "SELECT position FROM events WHERE stream_id = $1 AND type = $2",
		domain.StreamID(domain.PolicyAggregate, policyID), domain.EventPolicyCreated).Scan(&position))
	tamper.Rechain(t, d.db.Superuser(t), position, func(data string) string {
		return strings.Replace(data, `"effect":"deny"`, `"effect":"allow"`, 1)
	})

	status, body = alice.do(http.MethodGet, "/api/v1/secrets/"+secretID+"/reveal", nil)
	require.NotEqual(t, http.StatusOK, status, "the forged policy was enforced: %s", body)
	require.Equal(t, http.StatusServiceUnavailable, status, string(body))

	var ready struct {
		Checks map[string]string `json:"checks"`
		Error  struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	require.Equal(t, http.StatusServiceUnavailable, inst.getJSON(t, "/readyz", &ready))
	// The replica names the first rewritten event it met (the request may
	// have read a later one of the rechained events first); verify names
	// the first of them all.
	named := namedPosition(t, ready.Checks["log_integrity"])
	require.GreaterOrEqual(t, named, position, "%+v", ready)
	report, err := inst.app.store.Verify(ctx, nil)
	require.NoError(t, err)
	require.False(t, report.OK)
	require.Equal(t, position, report.FirstBadPosition, report.Reason)

	metrics := httpGetBody(t, inst.baseURL+"/metrics")
	require.Contains(t, metrics, "vault_log_integrity_violation 1")
	require.Contains(t, metrics, "vault_log_integrity_violation_position "+itoa(named))

	// Later requests keep failing the same way and the replica stays out.
	status, _ = alice.do(http.MethodGet, "/api/v1/secrets/"+secretID+"/reveal", nil)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, http.StatusServiceUnavailable, inst.getJSON(t, "/readyz", nil))
	require.Equal(t, 1, strings.Count(d.logSink.String(), `"level":"ERROR","msg":"event log integrity violation`), "logged once, not per request")
}

// TestTruncatedTailWithHeadMovedBackIsDetected is the second observed attack
// end to end: delete the newest events and move the head row back, then let
// vaultd restart on the shortened log. JetStream still holds the deleted
// events, so the relay must call it tampering, /readyz must say so and no
// position may be handed out a second time.
func TestTruncatedTailWithHeadMovedBackIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDeployment(t)
	inst := d.start(t)
	for i := range 10 {
		_, err := inst.app.store.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, domain.NewEvent{
			ID: uuid.NewString(), Type: "ThingChanged", SchemaVersion: 1, Data: json.RawMessage(`{"n":` + itoa(int64(i)) + `}`),
			Metadata: domain.Metadata{Actor: domain.SystemActor},
		})
		require.NoError(t, err)
	}
	head, err := inst.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	js, err := jetstream.New(natstest.Connect(t, d.nats.URL()))
	require.NoError(t, err)
	streamInfo := func() *jetstream.StreamInfo {
		s, err := js.Stream(ctx, d.env[config.EnvJetStreamStream])
		if err != nil {
			return nil
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil
		}
		return info
	}
	require.Eventually(t, func() bool { info := streamInfo(); return info != nil && info.State.Msgs == uint64(head) },
		20*time.Second, 50*time.Millisecond, "the relay published everything")
	inst.stop(t)

	keep := head - 4
	tamper.TruncateTail(t, d.db.Superuser(t), keep)

	restarted := d.start(t)
	require.Eventually(t, func() bool { return restarted.getJSON(t, "/readyz", nil) == http.StatusServiceUnavailable },
		20*time.Second, 50*time.Millisecond, "a log behind its own JetStream stream is reported")
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	require.Equal(t, http.StatusServiceUnavailable, restarted.getJSON(t, "/readyz", &ready))
	require.Contains(t, ready.Checks["log_integrity"], "position "+itoa(keep+1), "%+v", ready)

	_, err = restarted.app.store.Append(ctx, "thing-"+uuid.NewString(), domain.ExpectNoStream, domain.NewEvent{
		ID: uuid.NewString(), Type: "ThingChanged", SchemaVersion: 1, Data: json.RawMessage(`{}`), Metadata: domain.Metadata{Actor: domain.SystemActor},
	})
	require.Error(t, err, "a position of the deleted tail was handed out again")
	require.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err))
	after, err := restarted.app.store.HeadPosition(ctx)
	require.NoError(t, err)
	require.Equal(t, keep, after)
	info := streamInfo()
	require.NotNil(t, info)
	require.Equal(t, uint64(head), info.State.Msgs, "nothing was published over the deleted positions")
	require.Contains(t, httpGetBody(t, restarted.baseURL+"/metrics"), "vault_log_integrity_violation 1")
}

// namedPosition reads the position out of the log_integrity check's
// message.
func namedPosition(t *testing.T, check string) int64 {
	t.Helper()
	m := regexp.MustCompile(`at position (\d+)`).FindStringSubmatch(check)
	require.NotNil(t, m, "the check names a position: %q", check)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

func idOf(t *testing.T, body []byte) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	require.NoError(t, json.Unmarshal(body, &out), string(body))
	require.NotEmpty(t, out.ID, string(body))
	return out.ID
}

func httpGetBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // G107: the URL of the vaultd this test started on loopback
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
