package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestSecretRollBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(*domain.Secret)
		from    int64
		code    string
	}{
		{"an earlier version", nil, 1, ""},
		{"the current version", nil, 3, ""},
		{"version zero", nil, 0, domain.EINVALID},
		{"a version that never was", nil, 9, domain.ENOTFOUND},
		{"a destroyed version", func(s *domain.Secret) { require.NoError(t, s.DestroyVersion(2)) }, 2, domain.EGONE},
		{"a deleted secret", func(s *domain.Secret) { require.NoError(t, s.Delete()) }, 1, domain.EGONE},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &committer{}
			s := newCommittedSecret(t, c, 10, 3)
			if tc.prepare != nil {
				tc.prepare(s)
				c.commit(s)
			}
			_, err := s.RollBack(tc.from, s.NextVersion(), []byte("resealed"), "local", 10)
			require.Equal(t, tc.code, domain.ErrorCode(err))
			if tc.code != "" {
				require.Empty(t, s.Changes(), "a refused rollback records nothing")
				return
			}
			changes := s.Changes()
			require.Len(t, changes, 2)
			require.Equal(t, domain.EventSecretVersionAdded, changes[0].Type)
			require.Equal(t, domain.EventSecretRolledBack, changes[1].Type)
			require.JSONEq(t, `{"version":4,"from_version":`+string(rune('0'+tc.from))+`}`, string(changes[1].Data))
			require.EqualValues(t, 4, s.CurrentVersion())
		})
	}
}
