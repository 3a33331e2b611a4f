package api

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// The observed attacks on the access model: an actor that administers
// users, roles or policies but holds no secrets made itself (or someone it
// controls) an administrator, then revealed secrets. Each test replays one
// through the HTTP API and checks that it is refused with 403, recorded as
// AccessDenied, and that the secret stays out of reach.

// escalationEnv is the whole stack with one secret the attacker was never
// granted.
func escalationEnv(t *testing.T) (e *identityEnv, admin, secretID string) {
	t.Helper()
	e = newTimeTravelEnv(t)
	admin = e.admin().Access
	secretID = e.create("/api/v1/secrets", admin, map[string]any{"name": "prod/db/password", "value": "never-for-mallory"})
	return e, admin, secretID
}

func allowStatement(actions []string, resources ...string) map[string]any {
	return map[string]any{"effect": "allow", "actions": actions, "resources": resources}
}

func denyStatement(actions []string, resources ...string) map[string]any {
	return map[string]any{"effect": "deny", "actions": actions, "resources": resources}
}

// requireEscalationRefused checks a 403 naming the missing permission and
// the AccessDenied event (action escalate) on the actor's access stream.
func requireEscalationRefused(t *testing.T, e *identityEnv, res response, actorID, wantMessage string) {
	t.Helper()
	require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
	require.Equal(t, domain.EFORBIDDEN, res.errorCode(t))
	var body errorBody
	require.NoError(t, json.Unmarshal(res.raw, &body))
	require.Contains(t, body.Error.Message, wantMessage)
	events, err := e.store.ReadStream(t.Context(), domain.AccessStream(actorID), 0, 1000)
	require.NoError(t, err)
	found := false
	for _, ev := range events {
		var d domain.AccessDenied
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		if ev.Type == domain.EventAccessDenied && d.Action == domain.ActionEscalate && d.Reason == body.Error.Message {
			found = true
		}
	}
	require.True(t, found, "the refusal is recorded as AccessDenied")
}

// builtinAdminID reads the bootstrap admin's id from the log (its username
// reservation), so no read model has to have caught up.
func builtinAdminID(t *testing.T, e *identityEnv) string {
	t.Helper()
	events, err := e.store.ReadStream(t.Context(), domain.UsernameReservationStream(domain.AdminUsername), 0, 10)
	require.NoError(t, err)
	res, err := domain.LoadReservation(domain.UsernameReservationStream(domain.AdminUsername), events)
	require.NoError(t, err)
	require.NotEmpty(t, res.Owner())
	return res.Owner()
}

// holdsAdmin folds a user from the log.
func holdsAdmin(t *testing.T, e *identityEnv, userID string) bool {
	t.Helper()
	events, err := e.store.ReadStream(t.Context(), domain.StreamID(domain.UserAggregate, userID), 0, 10_000)
	require.NoError(t, err)
	u, err := domain.LoadUser(events)
	require.NoError(t, err)
	return u.HoldsActively(domain.AdminRoleID)
}

func requireNoReveal(t *testing.T, e *identityEnv, token, secretID string) {
	t.Helper()
	res := e.do(http.MethodGet, "/api/v1/secrets/"+secretID+"/reveal", token, nil)
	require.Equal(t, http.StatusForbidden, res.code, string(res.raw))
	require.NotContains(t, string(res.raw), "never-for-mallory")
}

func TestUserAdminCannotGrantItselfTheAdminRole(t *testing.T) {
	t.Parallel()
	e, admin, secretID := escalationEnv(t)
	uid, mallory := e.userWithPolicy(admin, "mallory", []map[string]any{allowStatement([]string{"admin"}, "users/*")})

	res := e.do(http.MethodPut, "/api/v1/users/"+uid, mallory.Access, map[string]any{"roles": []string{domain.AdminRoleID}})
	requireEscalationRefused(t, e, res, uid, "not allowed to grant read on **: you do not hold it (needs escalate on users/mallory)")

	got := e.do(http.MethodGet, "/api/v1/users/"+uid, admin, nil).json(t)
	require.NotContains(t, got["roles"], domain.AdminRoleID)
	requireNoReveal(t, e, e.login("mallory", "long enough pass phrase 42").Access, secretID)
}

func TestUserAdminCannotCreateAUserHoldingAdmin(t *testing.T) {
	t.Parallel()
	e, admin, secretID := escalationEnv(t)
	uid, mallory := e.userWithPolicy(admin, "mallory", []map[string]any{allowStatement([]string{"admin"}, "users/*")})

	res := e.do(http.MethodPost, "/api/v1/users", mallory.Access, map[string]any{
		"username": "sockpuppet", "password": "sock puppet pass phrase", "roles": []string{domain.AdminRoleID},
	})
	requireEscalationRefused(t, e, res, uid, "not allowed to grant read on **: you do not hold it (needs escalate on users/sockpuppet)")
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{
		"username": "sockpuppet", "password": "sock puppet pass phrase",
	}).code, "the user was never created")

	// What mallory holds it may hand out.
	plain := e.do(http.MethodPost, "/api/v1/users", mallory.Access, map[string]any{"username": "intern", "password": "help desk pass phrase 1"})
	require.Equal(t, http.StatusCreated, plain.code, string(plain.raw))
	requireNoReveal(t, e, mallory.Access, secretID)
}

func TestUserAdminCannotSetAnotherAdminsPassword(t *testing.T) {
	t.Parallel()
	e, admin, secretID := escalationEnv(t)
	uid, mallory := e.userWithPolicy(admin, "mallory", []map[string]any{allowStatement([]string{"admin"}, "users/*")})
	adminID := builtinAdminID(t, e)

	const want = "not allowed to change the credentials of users/admin: it holds read on ** and you do not (needs escalate on users/admin)"
	res := e.do(http.MethodPut, "/api/v1/users/"+adminID, mallory.Access, map[string]any{"password": "mallory owns you now"})
	requireEscalationRefused(t, e, res, uid, want)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{
		"username": "admin", "password": "mallory owns you now",
	}).code)
	e.login(domain.AdminUsername, testAdminPassword)

	for name, body := range map[string]any{
		"disable": map[string]any{"disabled": true},
		"e-mail":  map[string]any{"email": "mallory@example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			requireEscalationRefused(t, e, e.do(http.MethodPut, "/api/v1/users/"+adminID, mallory.Access, body), uid, want)
		})
	}
	requireEscalationRefused(t, e, e.do(http.MethodDelete, "/api/v1/users/"+adminID, mallory.Access, nil), uid, want)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users/"+adminID, admin, nil).code, "the admin is still there")

	// A user holding no more than mallory is hers to manage.
	intern := e.create("/api/v1/users", admin, map[string]any{"username": "intern", "password": "help desk pass phrase 1"})
	res = e.do(http.MethodPut, "/api/v1/users/"+intern, mallory.Access, map[string]any{"password": "reset by the help desk"})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	requireNoReveal(t, e, mallory.Access, secretID)
}

func TestRoleAdminCannotAttachTheAdminPolicy(t *testing.T) {
	t.Parallel()
	e, admin, secretID := escalationEnv(t)
	ops := e.create("/api/v1/roles", admin, map[string]any{"name": "ops"})
	uid, _ := e.userWithPolicy(admin, "mallory", []map[string]any{allowStatement([]string{"admin"}, "roles/ops")})
	// mallory holds ops too, so the admin policy on ops would be hers.
	malloryRole := e.do(http.MethodGet, "/api/v1/users/"+uid, admin, nil).json(t)["roles"].([]any)[0].(string)
	res := e.do(http.MethodPut, "/api/v1/users/"+uid, admin, map[string]any{"roles": []string{malloryRole, ops}})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	mallory := e.login("mallory", "long enough pass phrase 42")

	res = e.do(http.MethodPut, "/api/v1/roles/"+ops, mallory.Access, map[string]any{"policies": []string{domain.AdminPolicyID}})
	requireEscalationRefused(t, e, res, uid, "not allowed to grant read on **: you do not hold it (needs escalate on roles/ops)")
	require.Empty(t, e.do(http.MethodGet, "/api/v1/roles/"+ops, admin, nil).json(t)["policies"])
	requireNoReveal(t, e, mallory.Access, secretID)

	t.Run("a star on the role is not escalate", func(t *testing.T) {
		sid, star := e.userWithPolicy(admin, "starry", []map[string]any{allowStatement([]string{"*"}, "roles/ops")})
		res := e.do(http.MethodPut, "/api/v1/roles/"+ops, star.Access, map[string]any{"policies": []string{domain.AdminPolicyID}})
		requireEscalationRefused(t, e, res, sid, "needs escalate on roles/ops")
	})
	t.Run("nor may a policy the attacker edits grant it", func(t *testing.T) {
		pid := e.create("/api/v1/policies", admin, map[string]any{"name": "ops-policy"})
		res := e.do(http.MethodPut, "/api/v1/roles/"+ops, admin, map[string]any{"policies": []string{pid}})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		eid, editor := e.userWithPolicy(admin, "editor", []map[string]any{allowStatement([]string{"admin"}, "policies/ops-policy")})
		res = e.do(http.MethodPut, "/api/v1/policies/"+pid, editor.Access, map[string]any{
			"statements": []map[string]any{allowStatement([]string{"reveal"}, "secrets/**")},
		})
		requireEscalationRefused(t, e, res, eid, "not allowed to grant reveal on secrets/**: you do not hold it (needs escalate on policies/ops-policy)")
	})
	t.Run("escalate, given explicitly, lets its holder grant", func(t *testing.T) {
		_, boss := e.userWithPolicy(admin, "boss", []map[string]any{allowStatement([]string{"admin", "escalate"}, "roles/ops")})
		res := e.do(http.MethodPut, "/api/v1/roles/"+ops, boss.Access, map[string]any{"policies": []string{domain.AdminPolicyID}})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
	})
}

func TestGrantsWithinWhatTheActorHoldsAreAllowed(t *testing.T) {
	t.Parallel()
	e, admin, _ := escalationEnv(t)
	uid, lead := e.userWithPolicy(admin, "lead", []map[string]any{
		allowStatement([]string{"admin"}, "roles/team-*", "policies/team-*", "users/*"),
		allowStatement([]string{"read", "reveal"}, "secrets/team/**"),
		denyStatement([]string{"reveal"}, "secrets/team/root/*"),
	})
	res := e.do(http.MethodPost, "/api/v1/policies", lead.Access, map[string]any{"name": "team-app", "statements": []map[string]any{
		allowStatement([]string{"reveal"}, "secrets/team/app/*"), denyStatement([]string{"*"}, "secrets/other/**"),
	}})
	require.Equal(t, http.StatusCreated, res.code, "a narrower grant, and any deny: %s", res.raw)
	appPolicy := res.json(t)["id"].(string)

	res = e.do(http.MethodPost, "/api/v1/policies", lead.Access, map[string]any{"name": "team-all", "statements": []map[string]any{
		allowStatement([]string{"reveal"}, "secrets/team/**"),
	}})
	requireEscalationRefused(t, e, res, uid, "not allowed to grant reveal on secrets/team/**: you do not hold it (needs escalate on policies/team-all)")

	res = e.do(http.MethodPost, "/api/v1/policies", lead.Access, map[string]any{"name": "team-all", "statements": []map[string]any{
		allowStatement([]string{"reveal"}, "secrets/team/**"), denyStatement([]string{"reveal"}, "secrets/team/root/**"),
	}})
	require.Equal(t, http.StatusCreated, res.code, "the policy carries the lead's own deny: %s", res.raw)

	res = e.do(http.MethodPost, "/api/v1/roles", lead.Access, map[string]any{"name": "team-devs", "policies": []string{appPolicy}})
	require.Equal(t, http.StatusCreated, res.code, string(res.raw))

	t.Run("lifting a deny needs the actor to hold what it denied", func(t *testing.T) {
		// An admin builds a role whose deny keeps its holders off the root
		// secrets; the lead may not take that deny away.
		reveal := e.create("/api/v1/policies", admin, map[string]any{"name": "team-reveal", "statements": []map[string]any{
			allowStatement([]string{"reveal"}, "secrets/**"),
		}})
		noRoot := e.create("/api/v1/policies", admin, map[string]any{"name": "team-no-root", "statements": []map[string]any{
			denyStatement([]string{"reveal"}, "secrets/team/root/*"),
		}})
		role := e.create("/api/v1/roles", admin, map[string]any{"name": "team-ops", "policies": []string{reveal, noRoot}})
		res := e.do(http.MethodPut, "/api/v1/roles/"+role, lead.Access, map[string]any{"policies": []string{reveal}})
		requireEscalationRefused(t, e, res, uid, "not allowed to grant reveal on secrets/team/root/*: you do not hold it (needs escalate on roles/team-ops)")
		res = e.do(http.MethodPut, "/api/v1/policies/"+noRoot, lead.Access, map[string]any{"statements": []any{}})
		requireEscalationRefused(t, e, res, uid, "needs escalate on policies/team-no-root")
		requireEscalationRefused(t, e, e.do(http.MethodDelete, "/api/v1/policies/"+noRoot, lead.Access, nil), uid, "needs escalate on policies/team-no-root")
		requireEscalationRefused(t, e, e.do(http.MethodDelete, "/api/v1/roles/"+role, lead.Access, nil), uid, "needs escalate on roles/team-ops")
		// Widening the deny takes nothing away from the lead's reach.
		res = e.do(http.MethodPut, "/api/v1/policies/"+noRoot, lead.Access, map[string]any{"statements": []map[string]any{
			denyStatement([]string{"reveal", "read"}, "secrets/team/root/**"),
		}})
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
	})
}

func TestBuiltInAdminRoleAndPolicyCannotBeEmptied(t *testing.T) {
	t.Parallel()
	e, admin, _ := escalationEnv(t)
	other := e.create("/api/v1/policies", admin, map[string]any{"name": "other"})
	for name, tc := range map[string]struct {
		method, path string
		body         any
	}{
		"admin role loses the admin policy": {http.MethodPut, "/api/v1/roles/" + domain.AdminRoleID, map[string]any{"policies": []string{}}},
		"admin role gains another policy":   {http.MethodPut, "/api/v1/roles/" + domain.AdminRoleID, map[string]any{"policies": []string{domain.AdminPolicyID, other}}},
		"admin role renamed":                {http.MethodPut, "/api/v1/roles/" + domain.AdminRoleID, map[string]any{"name": "root"}},
		"admin role deleted":                {http.MethodDelete, "/api/v1/roles/" + domain.AdminRoleID, nil},
		"admin policy emptied":              {http.MethodPut, "/api/v1/policies/" + domain.AdminPolicyID, map[string]any{"statements": []any{}}},
		"admin policy deleted":              {http.MethodDelete, "/api/v1/policies/" + domain.AdminPolicyID, nil},
	} {
		t.Run(name, func(t *testing.T) {
			before := e.head()
			res := e.do(tc.method, tc.path, admin, tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, res.code, string(res.raw))
			require.Equal(t, before, e.head(), "nothing was written")
		})
	}
	policy := e.do(http.MethodGet, "/api/v1/policies/"+domain.AdminPolicyID, admin, nil).json(t)
	require.Equal(t, []any{map[string]any{"effect": "allow", "actions": []any{"*", "escalate"}, "resources": []any{"**"}}}, policy["statements"])
}

func TestTheLastAdminCannotLoseTheAdminRole(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	adminID := builtinAdminID(t, e)
	for name, body := range map[string]map[string]any{
		"its roles emptied": {"roles": []string{}},
		"disabled":          {"disabled": true},
	} {
		t.Run(name, func(t *testing.T) {
			res := e.do(http.MethodPut, "/api/v1/users/"+adminID, admin, body)
			require.Equal(t, http.StatusUnprocessableEntity, res.code, string(res.raw))
			require.Contains(t, string(res.raw), "last holder of the admin role")
		})
	}

	// With a second admin either may go, and then the other is the last.
	second := e.create("/api/v1/users", admin, map[string]any{"username": "second", "password": "the other pass phrase", "roles": []string{domain.AdminRoleID}})
	res := e.do(http.MethodPut, "/api/v1/users/"+second, admin, map[string]any{"disabled": true})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	res = e.do(http.MethodPut, "/api/v1/users/"+adminID, admin, map[string]any{"roles": []string{}})
	require.Equal(t, http.StatusUnprocessableEntity, res.code, "a disabled admin does not count: %s", res.raw)
	res = e.do(http.MethodPut, "/api/v1/users/"+second, admin, map[string]any{"disabled": false})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	secondToken := e.login("second", "the other pass phrase").Access
	res = e.do(http.MethodDelete, "/api/v1/users/"+adminID, secondToken, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	res = e.do(http.MethodPut, "/api/v1/users/"+second, secondToken, map[string]any{"roles": []string{}})
	require.Equal(t, http.StatusUnprocessableEntity, res.code, string(res.raw))
	require.Equal(t, []string{
		domain.EventRoleMemberAdded, domain.EventRoleMemberAdded, domain.EventRoleMemberRemoved,
		domain.EventRoleMemberAdded, domain.EventRoleMemberRemoved,
	}, e.streamTypes(domain.AdminMembersStream()))
}

// TestTwoAdminsRemovingEachOthersAdminRoleAtOnce: the membership stream is
// appended with its expected version, so of two removals decided on the
// same membership exactly one commits; the other is a conflict, and a retry
// finds its own admin role gone.
func TestTwoAdminsRemovingEachOthersAdminRoleAtOnce(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	adminID := builtinAdminID(t, e)
	// A second replica (its own Identity and server over the same log)
	// serves the other admin.
	replica := &identityEnv{t: t, store: e.store, server: newReplicaServer(t, e, newIdentityEnvSharing(t, e, commands.IdentityOptions{}))}
	for round := range 5 {
		name := []string{"alpha", "bravo", "charlie", "delta", "echo"}[round]
		other := e.create("/api/v1/users", admin, map[string]any{"username": name, "password": "an admin pass phrase", "roles": []string{domain.AdminRoleID}})
		otherToken := e.login(name, "an admin pass phrase").Access

		start := make(chan struct{})
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, req := range []struct {
			env        *identityEnv
			token, uid string
		}{{e, admin, other}, {replica, otherToken, adminID}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				codes[i] = req.env.do(http.MethodPut, "/api/v1/users/"+req.uid, req.token, map[string]any{"roles": []string{}}).code
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, c := range codes {
			if c == http.StatusOK {
				won++
			} else {
				require.Contains(t, []int{http.StatusConflict, http.StatusUnprocessableEntity, http.StatusForbidden}, c)
			}
		}
		t.Logf("round %d: answers %v", round, codes)
		require.Equal(t, 1, won, "round %d: exactly one removal commits (%v)", round, codes)
		holders := 0
		for _, uid := range []string{adminID, other} {
			if holdsAdmin(t, e, uid) {
				holders++
			}
		}
		require.Equal(t, 1, holders, "one admin is left")
		if codes[1] == http.StatusOK {
			// The other admin won. Back to the original admin alone for
			// the next round.
			res := e.do(http.MethodPut, "/api/v1/users/"+adminID, otherToken, map[string]any{"roles": []string{domain.AdminRoleID}})
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
			res = e.do(http.MethodPut, "/api/v1/users/"+other, admin, map[string]any{"roles": []string{}})
			require.Equal(t, http.StatusOK, res.code, string(res.raw))
		}
	}
}

func TestAuthzCheckExplainsAGrant(t *testing.T) {
	t.Parallel()
	e, admin, _ := escalationEnv(t)
	ops := e.create("/api/v1/roles", admin, map[string]any{"name": "ops"})
	uid, mallory := e.userWithPolicy(admin, "mallory", []map[string]any{
		allowStatement([]string{"admin"}, "roles/ops"), allowStatement([]string{"read"}, "secrets/**"),
	})
	ask := func(token string, body map[string]any) map[string]any {
		t.Helper()
		before := e.head()
		res := e.do(http.MethodPost, "/api/v1/authz/check", token, body)
		require.Equal(t, http.StatusOK, res.code, string(res.raw))
		require.Equal(t, before, e.head(), "a check writes nothing")
		return res.json(t)
	}
	got := ask(mallory.Access, map[string]any{"grant": map[string]any{"policies": []string{domain.AdminPolicyID}}, "target": "roles/ops"})
	require.Equal(t, false, got["allowed"])
	require.Equal(t, map[string]any{"action": "read", "resource": "**"}, got["missing"])
	require.Equal(t, "not allowed to grant read on **: the user does not hold it (needs escalate on roles/ops)", got["reason"])

	got = ask(mallory.Access, map[string]any{"grant": map[string]any{"statements": []map[string]any{allowStatement([]string{"read"}, "secrets/team/*")}}})
	require.Equal(t, true, got["allowed"])
	require.Equal(t, uid, got["user_id"])

	got = ask(admin, map[string]any{"user_id": uid, "grant": map[string]any{"roles": []string{domain.AdminRoleID}}})
	require.Equal(t, false, got["allowed"], "an administrator may ask about a user it administers")
	got = ask(admin, map[string]any{"grant": map[string]any{"roles": []string{domain.AdminRoleID, ops}}, "target": "roles/ops"})
	require.Equal(t, true, got["allowed"])
	require.Equal(t, true, got["escalate"])

	res := e.do(http.MethodPost, "/api/v1/authz/check", mallory.Access, map[string]any{"user_id": builtinAdminID(t, e), "grant": map[string]any{}})
	require.Equal(t, http.StatusForbidden, res.code, "asking about a user one does not administer is refused")
	res = e.do(http.MethodPost, "/api/v1/authz/check", mallory.Access, map[string]any{"grant": map[string]any{}, "action": "read"})
	require.Equal(t, http.StatusBadRequest, res.code)
	// The old shape still answers as before.
	res = e.do(http.MethodPost, "/api/v1/authz/check", admin, map[string]any{"user_id": uid, "action": "read", "resource": "secrets/x"})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.Equal(t, true, res.json(t)["decision"].(map[string]any)["allowed"])
}
