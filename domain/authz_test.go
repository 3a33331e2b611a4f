package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/domain"
)

// world is a small organisation built with the real aggregates, so the
// matrix also proves that what NewPolicy/NewRole store is what Decide reads.
type world struct {
	policies map[string]domain.PolicyView
	roles    map[string]domain.RoleView
	users    map[string][]string // username → role ids
	byName   map[string]string   // policy or role name → id
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{policies: map[string]domain.PolicyView{}, roles: map[string]domain.RoleView{}, users: map[string][]string{}, byName: map[string]string{}}
	w.policies[domain.AdminPolicyID] = domain.AdminPolicy()
	w.byName["admin"] = domain.AdminPolicyID
	allow := func(actions []string, resources ...string) domain.Statement {
		return domain.Statement{Effect: "allow", Actions: actions, Resources: resources}
	}
	deny := func(actions []string, resources ...string) domain.Statement {
		return domain.Statement{Effect: "deny", Actions: actions, Resources: resources}
	}
	policy := func(name string, st ...domain.Statement) {
		p, err := domain.NewPolicy(domain.NewID(), name, "", st)
		require.NoError(t, err)
		w.policies[p.ID()] = p.View()
		w.byName[name] = p.ID()
	}
	policy("prod-read", allow([]string{"read", "list"}, "secrets/prod/**"))
	policy("prod-db-deny", deny([]string{"read", "reveal"}, "secrets/prod/db/*"))
	policy("dev-all", allow([]string{"*"}, "secrets/dev/**", "files/dev/**"))
	policy("app-reveal", allow([]string{"reveal"}, "secrets/prod/app/*"))
	policy("user-admin", allow([]string{"admin"}, "users/*", "roles/*", "policies/*"))
	policy("audit-read", allow([]string{"read", "list"}, "audit"))
	policy("no-destroy", allow([]string{"list"}, "files/public/**"), deny([]string{"destroy"}, "**"))
	policy("config-reader", allow([]string{"READ"}, "secrets/*/config"))
	policy("reports", allow([]string{"read"}, "files/reports-*/**"))
	policy("self-service", allow([]string{"read", "write"}, "users/Carol"))

	role := func(name string, policies ...string) {
		ids := make([]string, len(policies))
		for i, p := range policies {
			ids[i] = w.byName[p]
		}
		r, err := domain.NewRole(domain.NewID(), name, "", ids)
		require.NoError(t, err)
		w.roles[r.ID()] = r.View()
		w.byName["role:"+name] = r.ID()
	}
	role("admins", "admin")
	role("prod-readers", "prod-read", "prod-db-deny")
	role("developers", "dev-all", "no-destroy")
	role("app", "prod-read", "app-reveal")
	role("auditors", "audit-read")
	role("helpdesk", "user-admin", "no-destroy")
	role("ops", "config-reader", "reports", "self-service")

	user := func(name string, roles ...string) {
		ids := []string{}
		for _, r := range roles {
			ids = append(ids, w.byName["role:"+r])
		}
		w.users[name] = ids
	}
	user("root", "admins")
	user("pat", "prod-readers")
	user("dev", "developers")
	user("appsvc", "app")
	user("audrey", "auditors")
	user("helen", "helpdesk")
	user("nobody")
	user("mixed", "developers", "admins")
	user("carol", "ops")
	w.users["ghost"] = []string{domain.NewID()} // a deleted role grants nothing
	return w
}

func TestDecideMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const none = -1
	cases := []struct {
		user, action, resource string
		allowed                bool
		policy                 string // deciding policy name; "" for default deny
		statement              int
	}{
		// The admin policy allows everything, on every resource type.
		{"root", "read", "secrets/prod/db/password", true, "admin", 0},
		{"root", "destroy", "secrets/x", true, "admin", 0},
		{"root", "admin", "users/alice", true, "admin", 0},
		{"root", "read", "audit", true, "admin", 0},
		{"root", "list", "files", true, "admin", 0},

		// ** spans zero or more segments.
		{"pat", "read", "secrets/prod/app/key", true, "prod-read", 0},
		{"pat", "list", "secrets/prod", true, "prod-read", 0},
		{"pat", "read", "secrets/prod/a/b/c/d/e", true, "prod-read", 0},
		// An explicit deny wins over the allow in another policy of the same role.
		{"pat", "read", "secrets/prod/db/password", false, "prod-db-deny", 0},
		{"pat", "list", "secrets/prod/db/password", true, "prod-read", 0},
		// * stays within one segment, so the deny does not reach deeper.
		{"pat", "read", "secrets/prod/db/replica/password", true, "prod-read", 0},
		// Default deny: actions and resources nobody granted.
		{"pat", "reveal", "secrets/prod/app/key", false, "", none},
		{"pat", "write", "secrets/prod/app/key", false, "", none},
		{"pat", "read", "secrets/staging/key", false, "", none},
		{"pat", "read", "files/prod/key", false, "", none},
		{"pat", "read", "secrets/production/key", false, "", none},
		// Names are case-insensitive (folded to lowercase ASCII), and so
		// are actions: an allow and a deny both reach every spelling.
		{"pat", "read", "secrets/PROD/key", true, "prod-read", 0},
		{"pat", "read", "secrets/PROD/DB/password", false, "prod-db-deny", 0},
		{"pat", "READ", "secrets/prod/key", true, "prod-read", 0},

		// "*" as an action covers every action, but deny still wins.
		{"dev", "write", "secrets/dev/a/b/c", true, "dev-all", 0},
		{"dev", "reveal", "files/dev/report.pdf", true, "dev-all", 0},
		{"dev", "read", "secrets/dev", true, "dev-all", 0},
		{"dev", "destroy", "secrets/dev/a", false, "no-destroy", 1},
		{"dev", "read", "secrets/development/x", false, "", none},
		{"dev", "list", "files/public/docs/a.txt", true, "no-destroy", 0},
		{"dev", "admin", "users/dev", false, "", none},

		{"appsvc", "reveal", "secrets/prod/app/key", true, "app-reveal", 0},
		{"appsvc", "reveal", "secrets/prod/app/sub/key", false, "", none},
		{"appsvc", "read", "secrets/prod/app/key", true, "prod-read", 0},

		{"audrey", "read", "audit", true, "audit-read", 0},
		{"audrey", "list", "audit", true, "audit-read", 0},
		{"audrey", "write", "audit", false, "", none},
		{"audrey", "read", "secrets/x", false, "", none},

		// Identity names are case-insensitive.
		{"helen", "admin", "users/Alice", true, "user-admin", 0},
		{"helen", "admin", "roles/developers", true, "user-admin", 0},
		{"helen", "admin", "policies/prod-read", true, "user-admin", 0},
		{"helen", "delete", "users/alice", false, "", none},
		{"helen", "admin", "secrets/x", false, "", none},
		{"helen", "destroy", "users/bob", false, "no-destroy", 1},

		{"nobody", "read", "secrets/x", false, "", none},
		{"nobody", "list", "audit", false, "", none},

		// A deny in any of the user's roles beats admin's allow-everything.
		{"mixed", "destroy", "secrets/x", false, "no-destroy", 1},
		{"mixed", "destroy", "audit", false, "no-destroy", 1},
		{"mixed", "read", "secrets/x", true, "admin", 0},
		{"mixed", "write", "secrets/dev/x", true, "dev-all", 0},

		{"ghost", "read", "secrets/x", false, "", none},

		// * inside a pattern segment.
		{"carol", "read", "secrets/prod/config", true, "config-reader", 0},
		{"carol", "read", "secrets/staging/config", true, "config-reader", 0},
		{"carol", "read", "secrets/prod/db/config", false, "", none},
		{"carol", "read", "secrets/config", false, "", none},
		{"carol", "read", "files/reports-2026/q1/summary.pdf", true, "reports", 0},
		{"carol", "read", "files/reports-/x", true, "reports", 0},
		{"carol", "read", "files/report/q1", false, "", none},
		{"carol", "write", "users/carol", true, "self-service", 0},
		{"carol", "write", "users/CAROL", true, "self-service", 0},
		{"carol", "write", "users/carl", false, "", none},

		// Requests that are not well-formed are denied, never matched.
		{"root", "execute", "secrets/x", false, "", none},
		{"root", "*", "secrets/x", false, "", none},
		{"root", "", "secrets/x", false, "", none},
		{"root", "read", "", false, "", none},
		{"root", "read", "secrets//x", false, "", none},
		{"root", "read", "vault/x", false, "", none},
		{"root", "read", "secrets/*", false, "", none},
		{"root", "read", "users/a/b", false, "", none},
		{"root", "read", "audit/x", false, "", none},
	}
	for _, tc := range cases {
		t.Run(tc.user+" "+tc.action+" "+tc.resource, func(t *testing.T) {
			policies := domain.PoliciesFor(w.users[tc.user], w.roles, w.policies)
			d := domain.Decide(domain.AccessRequest{Action: tc.action, Resource: tc.resource}, policies)
			require.Equal(t, tc.allowed, d.Allowed, d.Reason)
			require.Equal(t, tc.policy, d.PolicyName, d.Reason)
			require.Equal(t, tc.statement, d.StatementIndex, d.Reason)
			if tc.policy != "" {
				require.Equal(t, w.byName[tc.policy], d.PolicyID)
				require.NotEmpty(t, d.Pattern)
			}
			if tc.allowed {
				require.Equal(t, domain.EffectAllow, d.Effect)
				require.Contains(t, d.Reason, "allowed by statement")
			} else {
				require.Equal(t, domain.EffectDeny, d.Effect)
				require.NotEmpty(t, d.Reason)
			}
		})
	}
}

func TestDecideDefaultDenyReason(t *testing.T) {
	t.Parallel()
	d := domain.Decide(domain.AccessRequest{Action: "read", Resource: "secrets/a"}, nil)
	require.False(t, d.Allowed)
	require.Equal(t, -1, d.StatementIndex)
	require.Contains(t, d.Reason, "no statement matched")
}

func TestDecideOrderDoesNotMatterForDeny(t *testing.T) {
	t.Parallel()
	allow := domain.PolicyView{ID: "a", Name: "a", Statements: []domain.Statement{{Effect: "allow", Actions: []string{"*"}, Resources: []string{"**"}}}}
	deny := domain.PolicyView{ID: "d", Name: "d", Statements: []domain.Statement{
		{Effect: "allow", Actions: []string{"read"}, Resources: []string{"secrets/**"}},
		{Effect: "deny", Actions: []string{"read"}, Resources: []string{"secrets/x/**"}},
	}}
	for name, order := range map[string][]domain.PolicyView{"allow first": {allow, deny}, "deny first": {deny, allow}} {
		t.Run(name, func(t *testing.T) {
			d := domain.Decide(domain.AccessRequest{Action: "read", Resource: "secrets/x/y"}, order)
			require.False(t, d.Allowed)
			require.Equal(t, "d", d.PolicyID)
			require.Equal(t, 1, d.StatementIndex)
		})
	}
}

func TestMatchResource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, resource string
		want              bool
	}{
		{"**", "audit", true},
		{"**", "secrets/a/b/c", true},
		{"*", "audit", true},
		{"*", "secrets/a", false},
		{"*/**", "secrets/a/b", true},
		{"secrets/**", "secrets", true},
		{"secrets/**", "secretsx/a", false},
		{"secrets/*", "secrets", false},
		{"secrets/*", "secrets/a", true},
		{"secrets/*", "secrets/a/b", false},
		{"secrets/**/password", "secrets/password", true},
		{"secrets/**/password", "secrets/prod/db/password", true},
		{"secrets/**/password", "secrets/prod/db/password2", false},
		{"secrets/**/db/**", "secrets/a/db/b/c", true},
		{"secrets/**/db/**", "secrets/a/dbx/b", false},
		{"secrets/a*b*c", "secrets/abc", true},
		{"secrets/a*b*c", "secrets/a-x-b-y-c", true},
		{"secrets/a*b*c", "secrets/a-x-c-b", false},
		{"secrets/*-prod", "secrets/db-prod", true},
		{"secrets/*-prod", "secrets/db-prod/x", false},
		{"secrets/p?d", "secrets/pod", false}, // only * is special
		{"secrets/[ab]", "secrets/a", false},
		{"secrets/**/**/**/**/**/**/**/**/z", "secrets/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/y", false},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+" "+tc.resource, func(t *testing.T) {
			require.Equal(t, tc.want, domain.MatchResource(tc.pattern, splitPath(tc.resource)))
		})
	}
}

func splitPath(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '/' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestPoliciesForDeduplicatesAndSkipsMissing(t *testing.T) {
	t.Parallel()
	p1 := domain.PolicyView{ID: "p1", Name: "one"}
	p2 := domain.PolicyView{ID: "p2", Name: "two"}
	roles := map[string]domain.RoleView{
		"r1": {ID: "r1", PolicyIDs: []string{"p1", "p2"}},
		"r2": {ID: "r2", PolicyIDs: []string{"p2", "gone"}},
	}
	got := domain.PoliciesFor([]string{"r1", "r2", "missing"}, roles, map[string]domain.PolicyView{"p1": p1, "p2": p2})
	require.Equal(t, []domain.PolicyView{p1, p2}, got)
}
