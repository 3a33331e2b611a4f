package domain_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestNormalizeResourcePattern(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string // want "" means invalid
	}{
		{"**", "**"},
		{"*", "*"},
		{"secrets/**", "secrets/**"},
		{"secrets/prod/db/password", "secrets/prod/db/password"},
		{"secrets/Prod/*", "secrets/prod/*"},
		{"secrets/**/password", "secrets/**/password"},
		{"files/reports-*/**", "files/reports-*/**"},
		{"users/Alice", "users/alice"},
		{"users/*", "users/*"},
		{"users/**", "users/**"},
		{"roles/Ops", "roles/ops"},
		{"policies/*", "policies/*"},
		{"audit", "audit"},
		{"audit/**", "audit/**"},
		{"", ""},
		{"vault/**", ""},
		{"Secrets/**", "secrets/**"},
		{"secrets//x", ""},
		{"secrets/x/", ""},
		{"/secrets/x", ""},
		{"secrets/a**", ""},
		{"secrets/***", ""},
		{"users/a/b", ""},
		{"audit/x", ""},
		{"secrets/a\nb", ""},
		{"secrets/" + strings.Repeat("a/", 40) + "a", ""},
		{"secrets/" + strings.Repeat("a", 1100), ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := domain.NormalizeResourcePattern(tc.in)
			if tc.want == "" {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNormalizeStatements(t *testing.T) {
	t.Parallel()
	st := func(effect string, actions []string, resources ...string) domain.Statement {
		return domain.Statement{Effect: effect, Actions: actions, Resources: resources}
	}
	cases := []struct {
		name    string
		in      domain.Statement
		want    *domain.Statement
		wantMsg string
	}{
		{"canonical form", st("ALLOW", []string{"Read", "read", "LIST"}, "secrets/**", "secrets/**", "users/Bob"),
			&domain.Statement{Effect: "allow", Actions: []string{"read", "list"}, Resources: []string{"secrets/**", "users/bob"}}, ""},
		{"every action", st("deny", []string{"read", "list", "write", "rotate", "delete", "reveal", "destroy", "admin", "*"}, "**"),
			&domain.Statement{Effect: "deny", Actions: []string{"read", "list", "write", "rotate", "delete", "reveal", "destroy", "admin", "*"}, Resources: []string{"**"}}, ""},
		{"unknown effect", st("permit", []string{"read"}, "**"), nil, "effect"},
		{"unknown action", st("allow", []string{"execute"}, "**"), nil, "unknown action"},
		{"no actions", st("allow", nil, "**"), nil, "actions"},
		{"no resources", st("allow", []string{"read"}), nil, "resources"},
		{"bad pattern", st("allow", []string{"read"}, "secrets/a**"), nil, "statement 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.NormalizeStatements([]domain.Statement{tc.in})
			if tc.want == nil {
				require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
				require.Contains(t, domain.ErrorMessage(err), tc.wantMsg)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []domain.Statement{*tc.want}, got)
		})
	}
}

func TestPolicyLifecycle(t *testing.T) {
	t.Parallel()
	var log committer
	id := domain.NewID()
	statements := []domain.Statement{{Effect: "allow", Actions: []string{"read"}, Resources: []string{"secrets/**"}}}
	p, err := domain.NewPolicy(id, "Readers", "reads secrets", statements)
	require.NoError(t, err)
	require.Equal(t, "policy-"+id, p.StreamID())
	require.Equal(t, "readers", p.Name())
	log.commit(p)

	require.NoError(t, p.Update("readers", "reads secrets", statements))
	require.Empty(t, p.Changes(), "an identical update records nothing")
	statements[0].Actions = []string{"list"}
	require.NoError(t, p.Update("readers", "lists secrets", statements))
	log.commit(p)

	loaded, err := domain.LoadPolicy(log.events)
	require.NoError(t, err)
	require.Equal(t, domain.PolicyView{
		ID: id, Name: "readers", Description: "lists secrets",
		Statements: []domain.Statement{{Effect: "allow", Actions: []string{"list"}, Resources: []string{"secrets/**"}}},
	}, loaded.View())

	t.Run("the view is a copy", func(t *testing.T) {
		v := loaded.View()
		v.Statements[0].Actions[0] = "destroy"
		require.Equal(t, "list", loaded.View().Statements[0].Actions[0])
	})

	require.Equal(t, domain.EINVALID, domain.ErrorCode(loaded.Update("readers", "", []domain.Statement{{Effect: "allow"}})))
	require.Empty(t, loaded.Changes(), "a refused update records nothing")

	snap, v, err := loaded.Snapshot()
	require.NoError(t, err)
	require.NoError(t, loaded.Delete())
	log.commit(loaded)
	restored, err := domain.RestorePolicy(snap, v, log.events[v:])
	require.NoError(t, err)
	require.True(t, restored.Deleted())
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(restored.Update("x", "", nil)))

	t.Run("the built-in admin policy cannot be deleted", func(t *testing.T) {
		admin := domain.AdminPolicy()
		p, err := domain.NewPolicy(admin.ID, admin.Name, admin.Description, admin.Statements)
		require.NoError(t, err)
		require.Equal(t, admin, p.View())
		require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(p.Delete()))
	})
}

func TestNewPolicyValidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, id, pname, desc string
	}{
		{"bad id", "x", "ok", ""},
		{"empty name", domain.NewID(), "", ""},
		{"name with slash", domain.NewID(), "a/b", ""},
		{"long name", domain.NewID(), strings.Repeat("n", 65), ""},
		{"long description", domain.NewID(), "ok", strings.Repeat("d", 1025)},
		{"control characters", domain.NewID(), "ok", "a\x00b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.NewPolicy(tc.id, tc.pname, tc.desc, nil)
			require.Equal(t, domain.EINVALID, domain.ErrorCode(err))
		})
	}
}

func TestRoleLifecycle(t *testing.T) {
	t.Parallel()
	var log committer
	id := domain.NewID()
	p1, p2 := domain.NewID(), domain.NewID()
	r, err := domain.NewRole(id, "Ops", "operators", []string{p1, p2, p1})
	require.NoError(t, err)
	require.Equal(t, "role-"+id, r.StreamID())
	require.Len(t, r.PolicyIDs(), 2, "duplicates dropped")
	log.commit(r)

	require.Equal(t, domain.EINVALID, domain.ErrorCode(r.Update("ops", "", []string{"not-a-uuid"})))
	require.NoError(t, r.Update("ops-team", "operators", []string{p2}))
	log.commit(r)

	loaded, err := domain.LoadRole(log.events)
	require.NoError(t, err)
	require.Equal(t, domain.RoleView{ID: id, Name: "ops-team", Description: "operators", PolicyIDs: []string{p2}}, loaded.View())
	require.NoError(t, loaded.Delete())
	log.commit(loaded)
	loaded, err = domain.LoadRole(log.events)
	require.NoError(t, err)
	require.True(t, loaded.Deleted())
	require.Equal(t, domain.ENOTFOUND, domain.ErrorCode(loaded.Delete()))
	require.Equal(t, []string{domain.EventRoleCreated, domain.EventRoleUpdated, domain.EventRoleDeleted}, log.types())

	admin, err := domain.NewRole(domain.AdminRoleID, domain.AdminRoleName, "", []string{domain.AdminPolicyID})
	require.NoError(t, err)
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(admin.Delete()))
}
