package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

func TestRoleMembersKeepTheLastHolder(t *testing.T) {
	t.Parallel()
	var log committer
	a, b := domain.NewID(), domain.NewID()
	m, err := domain.LoadRoleMembers(domain.AdminRoleID, nil)
	require.NoError(t, err)
	require.False(t, m.Recorded())
	require.Equal(t, domain.AdminMembersStream(), m.StreamID())
	require.NoError(t, m.Add(a))
	require.NoError(t, m.Add(b))
	log.commit(m)

	m, err = domain.LoadRoleMembers(domain.AdminRoleID, log.events)
	require.NoError(t, err)
	require.True(t, m.Recorded())
	require.ElementsMatch(t, []string{a, b}, m.Members())
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(m.Remove(a, nil)), "nobody else verified")
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(m.Remove(a, []string{a})), "not oneself")
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(m.Remove(a, []string{domain.NewID()})), "not someone who is no member")
	require.Empty(t, m.Changes())
	require.NoError(t, m.Remove(a, []string{b}))
	log.commit(m)
	require.Equal(t, []string{b}, m.Members())
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(m.Remove(b, []string{a})), "a is no member any more")

	require.NoError(t, m.Add(b), "adding a member again still records, to order it against other changes")
	require.Len(t, m.Changes(), 1)
	require.Equal(t, domain.ExpectVersion(3), m.Expected())
}

func TestBuiltInAdminRoleAndPolicyKeepWhatTheyGrant(t *testing.T) {
	t.Parallel()
	admin := domain.AdminPolicy()
	p, err := domain.NewPolicy(admin.ID, admin.Name, admin.Description, admin.Statements)
	require.NoError(t, err)
	var log committer
	log.commit(p)
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(p.Update("admin", "", nil)))
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(p.Update("root", admin.Description, admin.Statements)))
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(p.Update("admin", "", []domain.Statement{
		{Effect: "allow", Actions: []string{"*"}, Resources: []string{"**"}},
	})), "losing escalate is a reduction")
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(p.Update("admin", "", append(admin.Statements,
		domain.Statement{Effect: "deny", Actions: []string{"reveal"}, Resources: []string{"secrets/**"}}))), "a deny is a reduction")
	require.NoError(t, p.Update("admin", "only the description", admin.Statements))

	t.Run("the escalate upgrade only adds", func(t *testing.T) {
		legacy := []domain.Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"**"}}}
		require.True(t, domain.AdminPolicyNeedsEscalate(legacy))
		require.Equal(t, admin.Statements, domain.AdminPolicyWithEscalate(legacy))
		require.False(t, domain.AdminPolicyNeedsEscalate(admin.Statements))
		odd := []domain.Statement{{Effect: "allow", Actions: []string{"read"}, Resources: []string{"**"}}}
		up := domain.AdminPolicyWithEscalate(odd)
		require.Empty(t, domain.GrantOf(up, odd), "nothing taken away")
		require.False(t, domain.AdminPolicyNeedsEscalate(up))

		old, err := domain.NewPolicy(admin.ID, admin.Name, admin.Description, legacy)
		require.NoError(t, err)
		require.NoError(t, old.Update(admin.Name, admin.Description, domain.AdminPolicyWithEscalate(legacy)))
	})

	role, err := domain.NewRole(domain.AdminRoleID, domain.AdminRoleName, "", []string{domain.AdminPolicyID})
	require.NoError(t, err)
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(role.Update("admin", "", nil)))
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(role.Update("admin", "", []string{domain.AdminPolicyID, domain.NewID()})))
	require.Equal(t, domain.EUNPROCESSABLE, domain.ErrorCode(role.Update("root", "", []string{domain.AdminPolicyID})))
	require.NoError(t, role.Update("admin", "described", []string{domain.AdminPolicyID}))
}

func TestStarNeverMeansEscalate(t *testing.T) {
	t.Parallel()
	star := []domain.PolicyView{{Name: "p", Statements: []domain.Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"**"}}}}}
	require.True(t, domain.Decide(domain.AccessRequest{Action: "admin", Resource: "roles/ops"}, star).Allowed)
	require.False(t, domain.Decide(domain.AccessRequest{Action: "escalate", Resource: "roles/ops"}, star).Allowed)
	require.True(t, domain.Decide(domain.AccessRequest{Action: "escalate", Resource: "roles/ops"}, []domain.PolicyView{domain.AdminPolicy()}).Allowed)
	starDeny := []domain.PolicyView{domain.AdminPolicy(), {Name: "d", Statements: []domain.Statement{{Effect: "deny", Actions: []string{"*"}, Resources: []string{"roles/ops"}}}}}
	require.False(t, domain.Decide(domain.AccessRequest{Action: "admin", Resource: "roles/ops"}, starDeny).Allowed)
	require.True(t, domain.Decide(domain.AccessRequest{Action: "escalate", Resource: "roles/ops"}, starDeny).Allowed,
		"a star deny leaves escalate too, which alone changes nothing without admin")
}
