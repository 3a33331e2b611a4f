package vaultcli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	vaultclient "github.com/securevault/vault/client"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prefix, name, want string }{
		{"app/prod/", "app/prod/db-password", "DB_PASSWORD"},
		{"app/prod/", "app/prod/db/url", "DB_URL"},
		{"app/prod", "app/prod/db/url", "DB_URL"},
		{"", "app/prod/api.key", "APP_PROD_API_KEY"},
		{"app/", "app/1st/key", "_1ST_KEY"},
		{"app/", "app/a--b__c", "A_B_C"},
		{"app/", "app/-x-", "X"},
	} {
		require.Equal(t, tc.want, EnvName(tc.prefix, tc.name), "%s under %s", tc.name, tc.prefix)
	}
}

func TestDotenvQuote(t *testing.T) {
	t.Parallel()
	require.Equal(t, `"plain"`, dotenvQuote("plain"))
	require.Equal(t, `"a\"b\\c\$d\`+"`"+`e\nf"`, dotenvQuote("a\"b\\c$d`e\nf"))
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{Usage(errors.New("bad flag")), ExitUsage},
		{&vaultclient.Error{Code: vaultclient.CodeUnauthorized}, ExitUnauthenticated},
		{fmt.Errorf("wrapped: %w", &vaultclient.Error{Code: vaultclient.CodeForbidden}), ExitForbidden},
		{&vaultclient.Error{Code: vaultclient.CodeNotFound}, ExitNotFound},
		{&vaultclient.Error{Code: vaultclient.CodeConflict}, ExitConflict},
		{&vaultclient.Error{Code: vaultclient.CodePrecondition}, ExitConflict},
		{&vaultclient.Error{Code: vaultclient.CodeGone}, ExitGone},
		{&vaultclient.Error{Code: vaultclient.CodeUnprocessable}, ExitInvalid},
		{&vaultclient.Error{Code: vaultclient.CodeUnavailable}, ExitUnavailable},
		{&vaultclient.Error{Code: vaultclient.CodeInternal}, ExitFailure},
		{&ExitError{Code: 42}, 42},
	} {
		require.Equal(t, tc.want, ExitCode(tc.err), "%v", tc.err)
	}
}
