package buildinfo_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/securevault/vault/cmd/internal/buildinfo"
)

func TestVersionDefaultsToDev(t *testing.T) {
	t.Parallel()
	require.Equal(t, "dev", buildinfo.Version())
}

// TestTheMakefileStampsTheBinaries builds vaultd and vaultctl with the
// linker flag the Makefile passes (read from it, so a renamed variable
// fails here) and checks that --version prints what was stamped.
func TestTheMakefileStampsTheBinaries(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "..")
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^LDFLAGS\s*:=.*-X (\S+)=\$\(VERSION\)`).FindSubmatch(makefile)
	require.NotNil(t, m, "the Makefile stamps VERSION with -X")
	bin := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X "+string(m[1])+"=v9.8.7-test", "-o", bin+string(os.PathSeparator), "./cmd/vaultd", "./cmd/vaultctl") //nolint:gosec // G204: builds this repository with the ldflags the Makefile uses
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	for name, want := range map[string]string{"vaultd": "vaultd v9.8.7-test", "vaultctl": "vaultctl version v9.8.7-test"} {
		out, err := exec.Command(filepath.Join(bin, name), "--version").CombinedOutput() //nolint:gosec // G204: runs the binaries this test just built
		require.NoError(t, err, string(out))
		require.Equal(t, want, strings.TrimSpace(string(out)))
	}
}
