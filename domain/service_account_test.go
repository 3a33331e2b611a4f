package domain_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

var saNow = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func saSecret(version int64) domain.SealedClientSecret {
	return domain.SealedClientSecret{SecretID: domain.NewID(), Version: version, MAC: bytes.Repeat([]byte{byte(version)}, domain.ClientSecretMACLength)}
}

func newTestAccount(t *testing.T) *domain.ServiceAccount {
	t.Helper()
	a, err := domain.NewServiceAccount(domain.NewID(), "CI-Deploy", " deploys ", []string{domain.AdminRoleID, domain.AdminRoleID})
	require.NoError(t, err)
	return a
}

// commit folds what was recorded, as a reload from the log would.
func commit(t *testing.T, a *domain.ServiceAccount, prior []domain.RecordedEvent) (*domain.ServiceAccount, []domain.RecordedEvent) {
	t.Helper()
	events := prior
	for _, ev := range a.Changes() {
		events = append(events, domain.RecordedEvent{
			Position: int64(len(events) + 1), StreamID: a.StreamID(), Version: int64(len(events) + 1),
			ID: ev.ID, Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data,
		})
	}
	loaded, err := domain.LoadServiceAccount(events)
	require.NoError(t, err)
	return loaded, events
}

func TestNewServiceAccount(t *testing.T) {
	tests := []struct {
		name, account, description string
		roles                      []string
		wantErr                    string
	}{
		{name: "valid, folded", account: "CI-Deploy", roles: []string{domain.AdminRoleID}},
		{name: "no roles", account: "ci"},
		{name: "empty name", account: "", wantErr: "1 to 64"},
		{name: "slash", account: "a/b", wantErr: "may contain only"},
		{name: "too long", account: strings.Repeat("a", 65), wantErr: "1 to 64"},
		{name: "non-ascii", account: "cі", wantErr: "may contain only"},
		{name: "bad role id", account: "ci", roles: []string{"admin"}, wantErr: "role id"},
		{name: "control in description", account: "ci", description: "a\x00b", wantErr: "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := domain.NewServiceAccount(domain.NewID(), tt.account, tt.description, tt.roles)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, strings.ToLower(tt.account), a.Name())
		})
	}
}

func TestServiceAccountCredentials(t *testing.T) {
	a := newTestAccount(t)
	require.Equal(t, "ci-deploy", a.Name())
	require.Equal(t, "deploys", a.Description())
	require.Equal(t, []string{domain.AdminRoleID}, a.RoleIDs())

	credID, secret := domain.NewID(), saSecret(a.NextKeyVersion())
	require.NoError(t, a.AddCredential(domain.CredentialInput{
		ID: credID, Name: "github", ClientID: strings.Repeat("ab", 16), AllowedCIDRs: []string{"10.0.0.7/8", "192.0.2.1", "::ffff:198.51.100.9"},
	}, secret, saNow))
	a, events := commit(t, a, nil)
	creds := a.Credentials()
	require.Len(t, creds, 1)
	require.Equal(t, []string{"10.0.0.0/8", "192.0.2.1/32", "198.51.100.9/32"}, creds[0].AllowedCIDRs)
	require.Nil(t, creds[0].ExpiresAt)
	// The networks bind each request made with the credential's tokens.
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"192.0.2.1", true},
		{"10.200.3.4", true},
		{"::ffff:10.1.1.1", true},
		{"198.51.100.9", true},
		{"192.0.2.2", false},
		{"203.0.113.5", false},
		{"2001:db8::1", false},
		{"", false},
		{"not an address", false},
	} {
		require.Equal(t, tc.want, a.AcceptsToken(secret.SecretID, tc.ip, saNow), "request from %q", tc.ip)
	}

	current := secret.SecretID
	grant := func(ip string, now time.Time) string {
		g, reason, err := a.CredentialForGrant(credID, ip, now)
		require.NoError(t, err)
		require.Equal(t, current, g.SecretID)
		return reason
	}
	require.Empty(t, grant("10.1.2.3", saNow))
	require.Empty(t, grant("::ffff:192.0.2.1", saNow))
	require.Equal(t, domain.ClientRefusedAddress, grant("192.0.2.2", saNow))
	require.Equal(t, domain.ClientRefusedAddress, grant("not-an-ip", saNow))

	// Rotation: the old secret id no longer buys anything.
	rotated := saSecret(a.NextKeyVersion())
	require.Equal(t, int64(2), rotated.Version)
	require.NoError(t, a.RotateCredential(credID, rotated, saNow))
	a, events = commit(t, a, events)
	current = rotated.SecretID
	require.False(t, a.AcceptsToken(secret.SecretID, "192.0.2.1", saNow))
	require.True(t, a.AcceptsToken(rotated.SecretID, "192.0.2.1", saNow))
	require.Equal(t, int64(2), a.KeyVersionOf(credID))

	// Disabled: tokens stop, grants are refused with a reason.
	require.NoError(t, a.SetDisabled(true))
	a, events = commit(t, a, events)
	require.False(t, a.AcceptsToken(rotated.SecretID, "192.0.2.1", saNow))
	require.Equal(t, domain.ClientRefusedDisabled, grant("10.0.0.1", saNow))
	require.NoError(t, a.SetDisabled(false))
	a, events = commit(t, a, events)
	require.True(t, a.AcceptsToken(rotated.SecretID, "192.0.2.1", saNow))

	// Revoked: gone.
	require.NoError(t, a.RevokeCredential(credID))
	a, events = commit(t, a, events)
	require.False(t, a.AcceptsToken(rotated.SecretID, "192.0.2.1", saNow))
	_, _, err := a.CredentialForGrant(credID, "10.0.0.1", saNow)
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(a.RevokeCredential(credID)))

	// Deleted: nothing more.
	require.NoError(t, a.Delete())
	a, _ = commit(t, a, events)
	require.True(t, a.Deleted())
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(a.AssignRoles(nil)))
}

func TestServiceAccountCredentialExpiry(t *testing.T) {
	a := newTestAccount(t)
	credID, secret := domain.NewID(), saSecret(1)
	require.NoError(t, a.AddCredential(domain.CredentialInput{
		ID: credID, Name: "short", ClientID: strings.Repeat("0", 32), ExpiresAt: saNow.Add(time.Hour),
	}, secret, saNow))
	a, _ = commit(t, a, nil)
	require.True(t, a.AcceptsToken(secret.SecretID, "192.0.2.1", saNow.Add(59*time.Minute)))
	require.False(t, a.AcceptsToken(secret.SecretID, "192.0.2.1", saNow.Add(time.Hour)))
	_, reason, err := a.CredentialForGrant(credID, "", saNow.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, domain.ClientRefusedExpired, reason)
}

func TestServiceAccountAddCredentialRefuses(t *testing.T) {
	clientID := strings.Repeat("c", 32)
	tests := []struct {
		name    string
		in      domain.CredentialInput
		secret  func(*domain.ServiceAccount) domain.SealedClientSecret
		code    string
		wantErr string
	}{
		{name: "bad id", in: domain.CredentialInput{ID: "x", Name: "a", ClientID: clientID}, code: domain.EINVALID},
		{name: "bad client id", in: domain.CredentialInput{Name: "a", ClientID: "ABC"}, code: domain.EINVALID},
		{name: "bad name", in: domain.CredentialInput{Name: "a b", ClientID: clientID}, code: domain.EINVALID},
		{name: "bad cidr", in: domain.CredentialInput{Name: "a", ClientID: clientID, AllowedCIDRs: []string{"10.0.0.0/33"}}, code: domain.EINVALID},
		{name: "zone", in: domain.CredentialInput{Name: "a", ClientID: clientID, AllowedCIDRs: []string{"fe80::1%eth0"}}, code: domain.EINVALID},
		{name: "past expiry", in: domain.CredentialInput{Name: "a", ClientID: clientID, ExpiresAt: saNow.Add(-time.Second)}, code: domain.EINVALID},
		{name: "short mac", in: domain.CredentialInput{Name: "a", ClientID: clientID},
			secret: func(a *domain.ServiceAccount) domain.SealedClientSecret {
				s := saSecret(a.NextKeyVersion())
				s.MAC = s.MAC[:31]
				return s
			}, code: domain.EINVALID},
		{name: "stale version", in: domain.CredentialInput{Name: "a", ClientID: clientID},
			secret: func(a *domain.ServiceAccount) domain.SealedClientSecret { return saSecret(a.NextKeyVersion() + 1) }, code: domain.ECONFLICT},
		{name: "duplicate name", in: domain.CredentialInput{Name: "first", ClientID: clientID}, code: domain.ECONFLICT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAccount(t)
			require.NoError(t, a.AddCredential(domain.CredentialInput{ID: domain.NewID(), Name: "first", ClientID: strings.Repeat("d", 32)}, saSecret(1), saNow))
			if tt.in.ID == "" {
				tt.in.ID = domain.NewID()
			}
			secret := saSecret(a.NextKeyVersion())
			if tt.secret != nil {
				secret = tt.secret(a)
			}
			err := a.AddCredential(tt.in, secret, saNow)
			require.Equal(t, tt.code, domain.ErrorCode(err), "%v", err)
		})
	}
}

func TestServiceAccountCredentialLimit(t *testing.T) {
	a := newTestAccount(t)
	for i := range domain.MaxClientCredentials {
		require.NoError(t, a.AddCredential(domain.CredentialInput{
			ID: domain.NewID(), Name: "c" + string(rune('a'+i)), ClientID: strings.Repeat(string(rune('a'+i%6)), 32),
		}, saSecret(a.NextKeyVersion()), saNow))
	}
	err := a.AddCredential(domain.CredentialInput{ID: domain.NewID(), Name: "over", ClientID: strings.Repeat("f", 32)}, saSecret(a.NextKeyVersion()), saNow)
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(err))
}

func TestServiceAccountSnapshotRoundTrip(t *testing.T) {
	a := newTestAccount(t)
	require.NoError(t, a.AddCredential(domain.CredentialInput{ID: domain.NewID(), Name: "x", ClientID: strings.Repeat("e", 32)}, saSecret(1), saNow))
	a, _ = commit(t, a, nil)
	snap, version, err := a.Snapshot()
	require.NoError(t, err)
	b, err := domain.RestoreServiceAccount(snap, version, nil)
	require.NoError(t, err)
	require.Equal(t, a.Summary(), b.Summary())
	require.Equal(t, a.Credentials(), b.Credentials())
}

// The views a listing shows never carry the MAC.
func TestServiceAccountViewsHoldNoSecret(t *testing.T) {
	a := newTestAccount(t)
	secret := saSecret(1)
	require.NoError(t, a.AddCredential(domain.CredentialInput{ID: domain.NewID(), Name: "x", ClientID: strings.Repeat("e", 32)}, secret, saNow))
	for _, v := range []any{a.Summary(), a.Credentials()} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NotContains(t, string(b), "mac")
		require.NotContains(t, string(b), secret.SecretID)
	}
}

func TestServiceAccountResourceInPolicies(t *testing.T) {
	st, err := domain.NormalizeStatements([]domain.Statement{{Effect: "allow", Actions: []string{"admin"}, Resources: []string{"Service-Accounts/*"}}})
	require.NoError(t, err)
	require.Equal(t, "service-accounts/*", st[0].Resources[0])
	_, err = domain.NormalizeResourcePattern("service-accounts/a/b")
	require.Error(t, err)
	policies := []domain.PolicyView{{ID: domain.NewID(), Name: "p", Statements: st}}
	require.True(t, domain.Decide(domain.AccessRequest{Action: "admin", Resource: domain.ServiceAccountResource("ci")}, policies).Allowed)
	require.False(t, domain.Decide(domain.AccessRequest{Action: "admin", Resource: domain.UserResource("ci")}, policies).Allowed)
	require.True(t, domain.Covers(policies, domain.Permission{Action: "admin", Resource: "service-accounts/ci-*"}))
	require.False(t, domain.Covers(policies, domain.Permission{Action: "admin", Resource: "**"}))
}

func TestClientIDOwner(t *testing.T) {
	acc, cred := domain.NewID(), domain.NewID()
	app := domain.NewClientIDAssignment(strings.Repeat("a", 32), acc, cred, domain.Metadata{})
	require.Equal(t, domain.ExpectNoStream, app.Expected)
	ev := app.Events[0]
	got, ok, err := domain.ClientIDOwner([]domain.RecordedEvent{{StreamID: app.StreamID, Version: 1, Type: ev.Type, SchemaVersion: ev.SchemaVersion, Data: ev.Data}})
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, acc, got.ServiceAccountID)
	require.Equal(t, cred, got.CredentialID)
	_, ok, err = domain.ClientIDOwner(nil)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestServiceAccountNameReservation(t *testing.T) {
	stream := domain.ServiceAccountNameReservationStream("CI")
	require.Equal(t, "serviceaccountname-ci", stream)
	r, err := domain.LoadReservation(stream, nil)
	require.NoError(t, err)
	owner := domain.NewID()
	require.NoError(t, r.Reserve(owner))
	require.Equal(t, domain.EventServiceAccountNameReserved, r.Changes()[0].Type)
	require.Equal(t, owner, r.Owner())
	require.NoError(t, r.Release(owner))
	require.Equal(t, domain.EventServiceAccountNameReleased, r.Changes()[1].Type)
}
