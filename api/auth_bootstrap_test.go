package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestBootstrapIsIdempotentAndSafeUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{})
	// A second replica over the same store starts at the same moment.
	other := newIdentityEnvSharing(t, e, e.identityOptions())
	const starts = 6
	var wg sync.WaitGroup
	results := make(chan bool, starts)
	errs := make(chan error, starts)
	for i := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ident := e.ident
			if i%2 == 1 {
				ident = other
			}
			created, err := ident.Bootstrap(context.Background(), testAdminPassword)
			results <- created
			errs <- err
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	createdCount := 0
	for c := range results {
		if c {
			createdCount++
		}
	}
	require.Equal(t, 1, createdCount, "exactly one start bootstraps")

	created, err := e.ident.Bootstrap(context.Background(), "some other password!")
	require.NoError(t, err)
	require.False(t, created)

	admin := e.admin().Access
	// Bootstrap runs before the projections in vaultd, so it does not wait
	// for the read model; the reads below ask to see its events.
	seen := withHeader(HeaderMinPosition, strconv.FormatInt(e.head(), 10))
	users := e.do(http.MethodGet, "/api/v1/users", admin, nil, seen).json(t)["items"].([]any)
	require.Len(t, users, 1)
	require.Equal(t, []any{domain.AdminRoleID}, users[0].(map[string]any)["roles"])
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/policies/"+domain.AdminPolicyID, admin, nil, seen).code)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "",
		map[string]string{"username": "admin", "password": "some other password!"}).code)
}

func TestBootstrapRefusesAWeakPassword(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{})
	_, err := e.ident.Bootstrap(context.Background(), "admin")
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(err))
	require.Equal(t, int64(0), e.head())
}

func TestSeedCreatesTheDemoSetOnce(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	report, err := e.ident.Seed(context.Background(), "demo password 2024")
	require.NoError(t, err)
	require.Len(t, report.Created, 7)
	head := e.head()
	again, err := e.ident.Seed(context.Background(), "demo password 2024")
	require.NoError(t, err)
	require.Empty(t, again.Created)
	require.Equal(t, head, e.head(), "a second seed writes nothing")

	admin := e.admin().Access
	alice := e.do(http.MethodGet, "/api/v1/users?name=alice", admin, nil).json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
	check := func(resource string) map[string]any {
		res := e.do(http.MethodPost, "/api/v1/authz/check", admin, map[string]any{"user_id": alice, "action": "reveal", "resource": resource})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		return res.json(t)["decision"].(map[string]any)
	}
	require.Equal(t, true, check("secrets/dev/api-key")["allowed"])
	require.Equal(t, "deny-prod-secrets", check("secrets/prod/api-key")["policy_name"])
	e.login("bob", "demo password 2024")
}
