package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestEmailTokenIsBoundToTheUsersState(t *testing.T) {
	now := time.Date(2026, 5, 2, 13, 0, 0, 0, time.UTC)
	fresh := func(t *testing.T) *domain.User {
		u, err := domain.NewUser(domain.NewID(), "alice", "alice@example.com", sealedPw(1))
		require.NoError(t, err)
		return u
	}
	record := func(purpose string, u *domain.User, tok domain.EmailToken) domain.EmailTokenRecord {
		return domain.EmailTokenRecord{Purpose: purpose, UserID: u.ID(), Binding: tok.Binding, ExpiresAt: now.Add(time.Hour)}
	}
	cases := []struct {
		name    string
		purpose string
		change  func(t *testing.T, u *domain.User, rec *domain.EmailTokenRecord, raw *string)
		ok      bool
	}{
		{"reset, unchanged", domain.TokenPurposeResetPassword, nil, true},
		{"verify, unchanged", domain.TokenPurposeVerifyEmail, nil, true},
		{"reset after a password change", domain.TokenPurposeResetPassword, func(t *testing.T, u *domain.User, _ *domain.EmailTokenRecord, _ *string) {
			require.NoError(t, u.ChangePassword(sealedPw(2)))
		}, false},
		{"reset after an address change", domain.TokenPurposeResetPassword, func(t *testing.T, u *domain.User, _ *domain.EmailTokenRecord, _ *string) {
			require.NoError(t, u.UpdateEmail("mallory@example.com"))
		}, false},
		{"verify after the address changed away and back", domain.TokenPurposeVerifyEmail, func(t *testing.T, u *domain.User, _ *domain.EmailTokenRecord, _ *string) {
			require.NoError(t, u.UpdateEmail("other@example.com"))
			require.NoError(t, u.UpdateEmail("alice@example.com"))
		}, false},
		{"verify survives a password change", domain.TokenPurposeVerifyEmail, func(t *testing.T, u *domain.User, _ *domain.EmailTokenRecord, _ *string) {
			require.NoError(t, u.ChangePassword(sealedPw(2)))
		}, true},
		{"disabled user", domain.TokenPurposeResetPassword, func(t *testing.T, u *domain.User, _ *domain.EmailTokenRecord, _ *string) {
			require.NoError(t, u.Disable())
		}, false},
		{"used", domain.TokenPurposeResetPassword, func(_ *testing.T, _ *domain.User, rec *domain.EmailTokenRecord, _ *string) {
			rec.Used = true
		}, false},
		{"expired", domain.TokenPurposeResetPassword, func(_ *testing.T, _ *domain.User, rec *domain.EmailTokenRecord, _ *string) {
			rec.ExpiresAt = now
		}, false},
		{"other purpose", domain.TokenPurposeResetPassword, func(_ *testing.T, _ *domain.User, rec *domain.EmailTokenRecord, _ *string) {
			rec.Purpose = domain.TokenPurposeVerifyEmail
		}, false},
		{"another token", domain.TokenPurposeResetPassword, func(t *testing.T, u *domain.User, _ *domain.EmailTokenRecord, raw *string) {
			other, err := domain.NewEmailToken(domain.TokenPurposeResetPassword, u)
			require.NoError(t, err)
			*raw = other.Raw
		}, false},
		{"malformed", domain.TokenPurposeResetPassword, func(_ *testing.T, _ *domain.User, _ *domain.EmailTokenRecord, raw *string) {
			*raw = strings.Repeat("!", len(*raw))
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := fresh(t)
			tok, err := domain.NewEmailToken(tc.purpose, u)
			require.NoError(t, err)
			rec, raw := record(tc.purpose, u, tok), tok.Raw
			if tc.change != nil {
				tc.change(t, u, &rec, &raw)
			}
			err = domain.CheckEmailToken(rec, tc.purpose, u, raw, now)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			require.Equal(t, "the token is invalid, expired or already used", domain.ErrorMessage(err))
		})
	}
}

func TestEmailTokenShape(t *testing.T) {
	u, err := domain.NewUser(domain.NewID(), "alice", "alice@example.com", sealedPw(1))
	require.NoError(t, err)
	a, err := domain.NewEmailToken(domain.TokenPurposeVerifyEmail, u)
	require.NoError(t, err)
	b, err := domain.NewEmailToken(domain.TokenPurposeVerifyEmail, u)
	require.NoError(t, err)
	require.NotEqual(t, a.Raw, b.Raw)
	require.Len(t, a.Raw, 43, "32 bytes, unpadded base64url")
	require.Len(t, a.Lookup, 32)
	require.NotEqual(t, a.Lookup, a.Binding)
	require.NotContains(t, string(a.Lookup)+string(a.Binding), a.Raw)
	lookup, err := domain.EmailTokenLookup(a.Raw)
	require.NoError(t, err)
	require.Equal(t, a.Lookup, lookup)
	for _, bad := range []string{"", "short", strings.Repeat("A", 44), strings.Repeat("A", 42) + "=="} {
		_, err := domain.EmailTokenLookup(bad)
		require.Equal(t, domain.EINVALID, domain.ErrorCode(err), bad)
	}
}

func TestEmailVerificationFollowsTheAddress(t *testing.T) {
	u, err := domain.NewUser(domain.NewID(), "alice", "alice@example.com", sealedPw(1))
	require.NoError(t, err)
	require.False(t, u.EmailVerified())
	require.Error(t, u.VerifyEmail("other@example.com"))
	require.NoError(t, u.VerifyEmail("alice@example.com"))
	require.True(t, u.EmailVerified())
	n := len(u.Changes())
	require.NoError(t, u.VerifyEmail("alice@example.com"))
	require.Len(t, u.Changes(), n, "verifying again records nothing")
	require.NoError(t, u.UpdateEmail("new@example.com"))
	require.False(t, u.EmailVerified(), "a new address is unverified")

	now := time.Now()
	require.NoError(t, u.RequestPasswordReset(now))
	require.NoError(t, u.RequestPasswordReset(now))
	require.Equal(t, 2, u.ResetRequestsSince(now.Add(-time.Minute)))

}

// TestVerificationCanBeAskedForAgain: a user whose address waits for
// verification may ask for another mail, naming the address and the event
// that set it (so the consumer drops the request once the address
// changes); a verified address, no address or a disabled user may not. A
// token minted for the new mail is bound as the first one was.
func TestVerificationCanBeAskedForAgain(t *testing.T) {
	now := time.Date(2026, 5, 2, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		setup func(t *testing.T, u *domain.User)
		ok    bool
	}{
		{"waiting for verification", func(*testing.T, *domain.User) {}, true},
		{"a new address", func(t *testing.T, u *domain.User) {
			require.NoError(t, u.VerifyEmail("alice@example.com"))
			require.NoError(t, u.UpdateEmail("new@example.com"))
		}, true},
		{"verified", func(t *testing.T, u *domain.User) { require.NoError(t, u.VerifyEmail("alice@example.com")) }, false},
		{"no address", func(t *testing.T, u *domain.User) { require.NoError(t, u.UpdateEmail("")) }, false},
		{"disabled", func(t *testing.T, u *domain.User) { require.NoError(t, u.Disable()) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := domain.NewUser(domain.NewID(), "alice", "alice@example.com", sealedPw(1))
			require.NoError(t, err)
			tt.setup(t, u)
			before, err := domain.NewEmailToken(domain.TokenPurposeVerifyEmail, u)
			require.NoError(t, err)
			n := len(u.Changes())
			err = u.RequestEmailVerification(now)
			if !tt.ok {
				require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(err))
				require.Len(t, u.Changes(), n, "a refusal records nothing")
				return
			}
			require.NoError(t, err)
			changes := u.Changes()
			require.Len(t, changes, n+1)
			require.Equal(t, domain.EventEmailVerificationRequested, changes[n].Type)
			var e domain.EmailVerificationRequested
			require.NoError(t, json.Unmarshal(changes[n].Data, &e))
			require.Equal(t, u.Email(), e.Email)
			require.Equal(t, u.EmailVersion(), e.EmailVersion)
			require.Equal(t, 1, u.VerificationRequestsSince(now.Add(-time.Minute)))
			require.Zero(t, u.ResetRequestsSince(now.Add(-time.Minute)), "counted apart from resets")
			rec := domain.EmailTokenRecord{Purpose: domain.TokenPurposeVerifyEmail, UserID: u.ID(), Binding: before.Binding, ExpiresAt: now.Add(time.Hour)}
			require.NoError(t, domain.CheckEmailToken(rec, domain.TokenPurposeVerifyEmail, u, before.Raw, now),
				"the first mail's link still verifies the address: asking again changes nothing a token is bound to")
		})
	}
}
