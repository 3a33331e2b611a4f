package queries_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

func TestListSecretsFilters(t *testing.T) {
	t.Parallel()
	e := newReadEnv(t)
	ctx := context.Background()
	e.create(t, "team-a/db", "x", "env:prod")
	e.create(t, "team-a/api", "x", "env:dev")
	e.create(t, "team-a/cache", "x", "env:prod")
	e.create(t, "team-b/db", "x", "env:prod")
	gone := e.create(t, "team-a/old", "x")
	_, err := e.secrets.DeleteSecret(ctx, admin(), gone.ID)
	require.NoError(t, err)

	names := func(p queries.Page[domain.SecretSummary]) []string {
		out := []string{}
		for _, it := range p.Items {
			out = append(out, it.Name)
		}
		return out
	}
	cases := []struct {
		name   string
		caller domain.Caller
		in     queries.SecretListInput
		want   []string
	}{
		{"admin sees all active", admin(), queries.SecretListInput{}, []string{"team-a/api", "team-a/cache", "team-a/db", "team-b/db"}},
		{"list permission filters", caller(allow("secrets/team-a/**", domain.ActionList)), queries.SecretListInput{}, []string{"team-a/api", "team-a/cache", "team-a/db"}},
		{"read alone lists nothing", caller(allow("secrets/**", domain.ActionRead)), queries.SecretListInput{}, []string{}},
		{"deny hides", caller(allow("secrets/**", domain.ActionList), deny("secrets/team-a/db", domain.ActionList)), queries.SecretListInput{}, []string{"team-a/api", "team-a/cache", "team-b/db"}},
		{"prefix", admin(), queries.SecretListInput{Prefix: "team-b/"}, []string{"team-b/db"}},
		{"tag", admin(), queries.SecretListInput{Tag: "env:prod"}, []string{"team-a/cache", "team-a/db", "team-b/db"}},
		{"prefix and tag", admin(), queries.SecretListInput{Prefix: "team-a/", Tag: "env:prod"}, []string{"team-a/cache", "team-a/db"}},
		{"include deleted", admin(), queries.SecretListInput{Prefix: "team-a/", IncludeDeleted: true}, []string{"team-a/api", "team-a/cache", "team-a/db", "team-a/old"}},
		{"prefix with LIKE metacharacters matches literally", admin(), queries.SecretListInput{Prefix: "team_a"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := e.list(tc.caller, tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, names(page))
			require.Empty(t, page.NextCursor)
		})
	}

	t.Run("pages with a cursor, skipping what the caller may not list", func(t *testing.T) {
		c := caller(allow("secrets/**", domain.ActionList), deny("secrets/team-a/cache", domain.ActionList))
		var got []string
		cursor := ""
		for range 10 {
			page, err := e.list(c, queries.SecretListInput{Limit: 1, Cursor: cursor})
			require.NoError(t, err)
			got = append(got, names(page)...)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		require.Equal(t, []string{"team-a/api", "team-a/db", "team-b/db"}, got)
	})

	t.Run("invalid input", func(t *testing.T) {
		for _, in := range []queries.SecretListInput{{Limit: 201}, {Tag: "BAD"}, {Cursor: "!!"}} {
			_, err := e.list(admin(), in)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
		}
		_, err := e.list(domain.Caller{}, queries.SecretListInput{})
		require.Equal(t, domain.EUNAUTHORIZED, domain.ErrorCode(err))
	})
}
