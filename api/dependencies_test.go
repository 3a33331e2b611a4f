package api

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAPIDependencies holds the packages to the dependency rules of
// docs/architecture.md (and DESIGN.md): api calls commands and queries only,
// never the storage underneath them (no pgx, no projection, no event
// store); commands and queries import each other in no direction; and what
// they share (domain, fold, access) imports neither. It asks `go list
// -deps`, so an indirect import breaks it as surely as a direct one.
func TestAPIDependencies(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	const module = "github.com/securevault/vault/"
	rules := []struct {
		pkg       string
		forbidden []string
	}{
		{"api", []string{"github.com/jackc/pgx", module + "projections", module + "eventstore", module + "keys", module + "relay"}},
		{"commands", []string{module + "queries", module + "projections", module + "eventstore", module + "api", "github.com/jackc/pgx"}},
		{"queries", []string{module + "commands", module + "projections", module + "eventstore", module + "api", "github.com/jackc/pgx"}},
		{"fold", []string{module + "commands", module + "queries", "github.com/jackc/pgx"}},
		{"access", []string{module + "commands", module + "queries", "github.com/jackc/pgx"}},
	}
	for _, rule := range rules {
		t.Run(rule.pkg, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(goTool, "list", "-deps", module+rule.pkg).CombinedOutput() //nolint:gosec // G204: runs the go tool on this module's own package paths
			require.NoError(t, err, "go list: %s", out)
			deps := strings.Fields(string(out))
			require.Contains(t, deps, module+rule.pkg, "go list printed no dependencies")
			for _, dep := range deps {
				for _, bad := range rule.forbidden {
					if dep == bad || strings.HasPrefix(dep, bad+"/") {
						t.Errorf("%s depends on %s", rule.pkg, dep)
					}
				}
			}
		})
	}
	t.Run("client imports only domain and the standard library", func(t *testing.T) {
		t.Parallel()
		out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"client").CombinedOutput()
		require.NoError(t, err, "go list: %s", out)
		require.ElementsMatch(t, []string{module + "client", module + "domain"}, strings.Fields(string(out)))
	})
	t.Run("domain imports only the standard library", func(t *testing.T) {
		t.Parallel()
		out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"domain").CombinedOutput()
		require.NoError(t, err, "go list: %s", out)
		require.Equal(t, []string{module + "domain"}, strings.Fields(string(out)))
	})
}
