package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	vaultclient "github.com/securevault/vault/client"
	"github.com/securevault/vault/config"
	"github.com/securevault/vault/domain"
)

// harness is a real vaultd, in-process over its own database and NATS,
// reached over HTTP with package client: the shared base of the
// end-to-end tests of the Go client, vaultctl's client commands and the
// service accounts. Admin is logged in as the bootstrap admin.
type harness struct {
	t     testing.TB
	inst  *instance
	URL   string
	Admin *vaultclient.Client
}

// newHarness starts vaultd and logs the admin in. env overrides the
// deployment's settings.
func newHarness(t testing.TB, env ...map[string]string) *harness {
	t.Helper()
	d := newDeployment(t)
	d.env[config.EnvTestMode] = "true"
	d.env[config.EnvLoginIPBurst] = "10000"
	for _, e := range env {
		for k, v := range e {
			d.env[k] = v
		}
	}
	inst := d.start(t)
	inst.awaitReady(t, 30*time.Second)
	h := &harness{t: t, inst: inst, URL: inst.baseURL}
	h.Admin = h.login(testAdminPassword, "admin")
	return h
}

// ctx is a context bounded for one test step.
func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// client returns an unauthenticated client of the harness's vaultd.
func (h *harness) client(opts ...vaultclient.Option) *vaultclient.Client {
	h.t.Helper()
	c, err := vaultclient.New(h.URL, append([]vaultclient.Option{vaultclient.WithUserAgent("harness")}, opts...)...)
	require.NoError(h.t, err)
	return c
}

func (h *harness) login(password, username string) *vaultclient.Client {
	h.t.Helper()
	c := h.client()
	_, err := c.Login(h.ctx(), username, password)
	require.NoError(h.t, err)
	return c
}

// userWith creates a policy of statements, a role holding it and a user
// holding the role, and returns the user logged in.
func (h *harness) userWith(username string, statements ...domain.Statement) (*vaultclient.Client, vaultclient.User) {
	h.t.Helper()
	ctx := h.ctx()
	p, _, err := h.Admin.CreatePolicy(ctx, vaultclient.PolicyInput{Name: vaultclient.Ptr(username + "-policy"), Statements: &statements})
	require.NoError(h.t, err)
	r, _, err := h.Admin.CreateRole(ctx, vaultclient.RoleInput{Name: vaultclient.Ptr(username + "-role"), Policies: &[]string{p.ID}})
	require.NoError(h.t, err)
	const password = "harness-password-of-2026"
	u, _, err := h.Admin.CreateUser(ctx, vaultclient.CreateUserInput{Username: username, Password: password, Roles: []string{r.ID}})
	require.NoError(h.t, err)
	return h.login(password, username), u
}

// allow is one allow statement.
func allow(resources []string, actions ...string) domain.Statement {
	return domain.Statement{Effect: domain.EffectAllow, Actions: actions, Resources: resources}
}

// secret creates a secret as the admin.
func (h *harness) secret(name, value string) vaultclient.Secret {
	h.t.Helper()
	s, _, err := h.Admin.CreateSecret(h.ctx(), vaultclient.CreateSecretInput{Name: name, Value: value})
	require.NoError(h.t, err)
	return s
}
