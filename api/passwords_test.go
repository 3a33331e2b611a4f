package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/projections"
	"github.com/securevault/vault/projections/streams"
	"github.com/securevault/vault/seal"
)

func dataKeyVersions(t *testing.T, e *identityEnv, owner string) []int64 {
	t.Helper()
	rows, err := e.db.Pool.Query(t.Context(), `SELECT version FROM data_keys WHERE owner_id = $1 ORDER BY version`, owner)
	require.NoError(t, err)
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestPasswordHashesAreSealedAndShredded: a hash is sealed under a data key
// of its own (user id and password version), a password change shreds the
// replaced one, and deleting the user shreds every hash it ever had.
func TestPasswordHashesAreSealedAndShredded(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	const first, second = "first pass phrase 123", "second pass phrase 456"
	uid := e.create("/api/v1/users", admin, map[string]any{"username": "paula", "password": first})

	events, err := e.store.ReadStream(t.Context(), domain.StreamID(domain.UserAggregate, uid), 0, 100)
	require.NoError(t, err)
	require.Equal(t, domain.EventUserCreated, events[0].Type)
	require.Equal(t, 2, events[0].SchemaVersion)
	var created domain.UserCreated
	require.NoError(t, json.Unmarshal(events[0].Data, &created))
	require.Empty(t, created.LegacyPasswordHash)
	require.NotEmpty(t, created.SealedPassword)
	require.NotContains(t, string(events[0].Data), "argon2id")
	require.Equal(t, []int64{1}, dataKeyVersions(t, e, uid))

	sealer, err := seal.New(e.dataKeys)
	require.NoError(t, err)
	hash, err := sealer.Open(t.Context(), seal.Ref{Purpose: seal.PasswordHash, OwnerID: uid, Version: 1}, created.SealedPassword)
	require.NoError(t, err)
	require.Contains(t, string(hash), "$argon2id$", "the sealed value is the hash")
	_, err = sealer.Open(t.Context(), seal.Ref{Purpose: seal.SecretValue, OwnerID: uid, Version: 1}, created.SealedPassword)
	require.Error(t, err, "a sealed hash never opens as anything else")

	e.login("paula", first)
	res := e.do(http.MethodPut, "/api/v1/users/"+uid, admin, map[string]any{"password": second})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	require.Equal(t, []int64{2}, dataKeyVersions(t, e, uid), "the replaced hash is shredded")
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "paula", "password": first}).code)
	e.login("paula", second)

	res = e.do(http.MethodDelete, "/api/v1/users/"+uid, admin, nil)
	require.Equal(t, http.StatusNoContent, res.code, string(res.raw))
	require.Empty(t, dataKeyVersions(t, e, uid), "deleting the user shreds every hash it had")
	_, err = sealer.Open(t.Context(), seal.Ref{Purpose: seal.PasswordHash, OwnerID: uid, Version: 1}, created.SealedPassword)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/api/v1/users/"+uid, admin, nil).code)
}

// plantLegacyUser appends a user as builds before sealing wrote it: the
// Argon2id hash itself in a schema version 1 UserCreated.
func plantLegacyUser(t *testing.T, e *identityEnv, username, password string, roles []string) (string, string) {
	t.Helper()
	ctx := t.Context()
	hash, err := e.hasher.Hash(ctx, password)
	require.NoError(t, err)
	uid := domain.NewID()
	created, err := json.Marshal(map[string]any{"user_id": uid, "username": username, "sealed_password_hash": hash})
	require.NoError(t, err)
	md := domain.Metadata{Actor: domain.SystemActor, ActorName: "bootstrap"}
	userEvents := []domain.NewEvent{{ID: domain.NewID(), Type: domain.EventUserCreated, SchemaVersion: 1, Data: created, Metadata: md}}
	if len(roles) > 0 {
		assigned, err := json.Marshal(domain.UserRolesAssigned{RoleIDs: roles})
		require.NoError(t, err)
		userEvents = append(userEvents, domain.NewEvent{ID: domain.NewID(), Type: domain.EventUserRolesAssigned, SchemaVersion: 1, Data: assigned, Metadata: md})
	}
	res, err := domain.LoadReservation(domain.UsernameReservationStream(username), nil)
	require.NoError(t, err)
	require.NoError(t, res.Reserve(uid))
	_, err = e.store.AppendStreams(ctx,
		domain.StreamAppend{StreamID: domain.StreamID(domain.UserAggregate, uid), Expected: domain.ExpectNoStream, Events: userEvents},
		res.StreamAppend(md))
	require.NoError(t, err)
	return uid, hash
}

// TestPasswordHashesFromBeforeSealingStillLogIn: old events keep working,
// and the next password change seals the new hash (the old one stays in
// the log, as the README says).
func TestPasswordHashesFromBeforeSealingStillLogIn(t *testing.T) {
	t.Parallel()
	e := newIdentityEnv(t, identityEnvOptions{bootstrap: true})
	admin := e.admin().Access
	uid, hash := plantLegacyUser(t, e, "oldtimer", "an old pass phrase", nil)
	e.login("oldtimer", "an old pass phrase")
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "oldtimer", "password": "not the pass phrase"}).code)

	res := e.do(http.MethodPut, "/api/v1/users/"+uid, admin, map[string]any{"password": "a sealed pass phrase"})
	require.Equal(t, http.StatusOK, res.code, string(res.raw))
	e.login("oldtimer", "a sealed pass phrase")
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"username": "oldtimer", "password": "an old pass phrase"}).code)
	require.Equal(t, []int64{1}, dataKeyVersions(t, e, uid))

	events, err := e.store.ReadStream(t.Context(), domain.StreamID(domain.UserAggregate, uid), 0, 100)
	require.NoError(t, err)
	require.Contains(t, string(events[0].Data), hash, "a hash written before the upgrade stays in the log")
	for _, ev := range events[1:] {
		require.NotContains(t, string(ev.Data), "argon2id", ev.Type)
	}
}

// TestAnOlderStoreIsUpgradedOnStart: a store bootstrapped before escalate
// existed has an admin policy of `allow * **` (which no longer includes
// escalate) and no admin membership. Start-up appends the upgrade, by the
// system actor, without touching the old events.
func TestAnOlderStoreIsUpgradedOnStart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newIdentityEnv(t, identityEnvOptions{catalog: true})
	md := domain.Metadata{Actor: domain.SystemActor, ActorName: "bootstrap"}
	legacy := []domain.Statement{{Effect: domain.EffectAllow, Actions: []string{domain.ActionAny}, Resources: []string{"**"}}}
	policy, err := domain.NewPolicy(domain.AdminPolicyID, domain.AdminPolicyName, "Built-in: allows every action on every resource.", legacy)
	require.NoError(t, err)
	role, err := domain.NewRole(domain.AdminRoleID, domain.AdminRoleName, "Built-in: holds the admin policy.", []string{domain.AdminPolicyID})
	require.NoError(t, err)
	appends := []domain.StreamAppend{policy.StreamAppend(md), role.StreamAppend(md)}
	for stream, owner := range map[string]string{
		domain.PolicyNameReservationStream(domain.AdminPolicyName): domain.AdminPolicyID,
		domain.RoleNameReservationStream(domain.AdminRoleName):     domain.AdminRoleID,
	} {
		res, err := domain.LoadReservation(stream, nil)
		require.NoError(t, err)
		require.NoError(t, res.Reserve(owner))
		appends = append(appends, res.StreamAppend(md))
	}
	_, err = e.store.AppendStreams(ctx, appends...)
	require.NoError(t, err)
	adminID, _ := plantLegacyUser(t, e, domain.AdminUsername, testAdminPassword, []string{domain.AdminRoleID})
	plantLegacyUser(t, e, "bystander", "a bystanding pass phrase", nil) // holds no admin role: not recorded
	before, err := e.store.ReadAll(ctx, 0, 1000)
	require.NoError(t, err)

	// The stream catalog, as the running projection would have it.
	runner, err := projections.NewRunner(e.db.Pool, e.store, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), projections.Options{}, streams.New())
	require.NoError(t, err)
	require.NoError(t, runner.Rebuild(ctx, streams.Name, nil))

	for range 2 { // a second start finds nothing to do
		created, err := e.ident.Bootstrap(ctx, testAdminPassword)
		require.NoError(t, err)
		require.False(t, created)
	}
	after, err := e.store.ReadAll(ctx, 0, 1000)
	require.NoError(t, err)
	require.Equal(t, before, after[:len(before)], "no event was rewritten")
	require.Len(t, after, len(before)+2, "one policy update and one membership record")

	upgrade := after[len(before)]
	require.Equal(t, domain.EventPolicyUpdated, upgrade.Type)
	require.Equal(t, domain.SystemActor, upgrade.Metadata.Actor)
	var updated domain.PolicyUpdated
	require.NoError(t, json.Unmarshal(upgrade.Data, &updated))
	require.Equal(t, domain.AdminPolicy().Statements, updated.Statements)
	members := after[len(before)+1]
	require.Equal(t, domain.AdminMembersStream(), members.StreamID)
	require.JSONEq(t, `{"user_id":"`+adminID+`"}`, string(members.Data))

	// The upgraded admin may escalate, and is protected as the last holder.
	admin := e.admin().Access
	ops := e.create("/api/v1/roles", admin, map[string]any{"name": "ops", "policies": []string{domain.AdminPolicyID}})
	require.NotEmpty(t, ops)
	res := e.do(http.MethodPut, "/api/v1/users/"+adminID, admin, map[string]any{"roles": []string{}})
	require.Equal(t, http.StatusUnprocessableEntity, res.code, string(res.raw))
}
