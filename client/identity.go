package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/securevault/vault/domain"
)

// The identities the vault knows, as its reads show them.
type (
	User      = domain.UserSummary
	Role      = domain.RoleSummary
	Policy    = domain.PolicySummary
	Statement = domain.Statement
)

// Page is one page of a listing of users, roles, policies or service
// accounts.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// ListOptions filter an identity listing: Name is a name prefix.
type ListOptions struct {
	Name   string
	Limit  int
	Cursor string
	At     At
}

func (o ListOptions) request(path string) request {
	req := atRequest(http.MethodGet, path, o.At)
	setNonEmpty(req.query, "name", o.Name)
	setNonEmpty(req.query, "cursor", o.Cursor)
	if o.Limit > 0 {
		req.query.Set("limit", strconv.Itoa(o.Limit))
	}
	return req
}

// resource is the CRUD every identity collection shares.
type resource[T any] struct {
	c    *Client
	path string
}

func (r resource[T]) create(ctx context.Context, body any) (T, Written, error) {
	return r.write(ctx, request{method: http.MethodPost, path: r.path, body: body})
}

func (r resource[T]) write(ctx context.Context, req request) (T, Written, error) {
	var v T
	resp, err := r.c.call(ctx, req, &v)
	if err != nil {
		var zero T
		return zero, Written{}, err
	}
	return v, written(resp), nil
}

func (r resource[T]) list(ctx context.Context, o ListOptions) (Page[T], error) {
	var p Page[T]
	_, err := r.c.call(ctx, o.request(r.path), &p)
	return p, err
}

func (r resource[T]) get(ctx context.Context, id string, at At) (T, error) {
	var v T
	_, err := r.c.call(ctx, atRequest(http.MethodGet, r.path+"/"+seg(id), at), &v)
	return v, err
}

func (r resource[T]) update(ctx context.Context, id string, body any) (T, Written, error) {
	return r.write(ctx, request{method: http.MethodPut, path: r.path + "/" + seg(id), body: body})
}

func (r resource[T]) delete(ctx context.Context, id string) (Written, error) {
	resp, err := r.c.do(ctx, request{method: http.MethodDelete, path: r.path + "/" + seg(id)})
	if err != nil {
		return Written{}, err
	}
	return written(resp), nil
}

func (c *Client) users() resource[User]       { return resource[User]{c, "/api/v1/users"} }
func (c *Client) roles() resource[Role]       { return resource[Role]{c, "/api/v1/roles"} }
func (c *Client) policies() resource[Policy]  { return resource[Policy]{c, "/api/v1/policies"} }
func (c *Client) accounts() resource[Account] { return resource[Account]{c, serviceAccountsPath} }

// CreateUserInput is a new user.
type CreateUserInput struct {
	Username string   `json:"username"`
	Email    string   `json:"email,omitempty"`
	Password string   `json:"password"`
	Roles    []string `json:"roles,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
}

// UpdateUserInput changes the fields that are not nil.
type UpdateUserInput struct {
	Email    *string   `json:"email,omitempty"`
	Password *string   `json:"password,omitempty"`
	Roles    *[]string `json:"roles,omitempty"`
	Disabled *bool     `json:"disabled,omitempty"`
}

// CreateUser, ListUsers, GetUser, UpdateUser and DeleteUser manage users
// (`admin` on users/<name>).
func (c *Client) CreateUser(ctx context.Context, in CreateUserInput) (User, Written, error) {
	return c.users().create(ctx, in)
}
func (c *Client) ListUsers(ctx context.Context, o ListOptions) (Page[User], error) {
	return c.users().list(ctx, o)
}
func (c *Client) GetUser(ctx context.Context, id string, at ...At) (User, error) {
	return c.users().get(ctx, id, firstAt(at))
}
func (c *Client) UpdateUser(ctx context.Context, id string, in UpdateUserInput) (User, Written, error) {
	return c.users().update(ctx, id, in)
}
func (c *Client) DeleteUser(ctx context.Context, id string) (Written, error) {
	return c.users().delete(ctx, id)
}

// RoleInput is a role; on update, nil fields keep their value.
type RoleInput struct {
	Name        *string   `json:"name,omitempty"`
	Description *string   `json:"description,omitempty"`
	Policies    *[]string `json:"policies,omitempty"`
}

// CreateRole, ListRoles, GetRole, UpdateRole and DeleteRole manage roles.
func (c *Client) CreateRole(ctx context.Context, in RoleInput) (Role, Written, error) {
	return c.roles().create(ctx, in)
}
func (c *Client) ListRoles(ctx context.Context, o ListOptions) (Page[Role], error) {
	return c.roles().list(ctx, o)
}
func (c *Client) GetRole(ctx context.Context, id string, at ...At) (Role, error) {
	return c.roles().get(ctx, id, firstAt(at))
}
func (c *Client) UpdateRole(ctx context.Context, id string, in RoleInput) (Role, Written, error) {
	return c.roles().update(ctx, id, in)
}
func (c *Client) DeleteRole(ctx context.Context, id string) (Written, error) {
	return c.roles().delete(ctx, id)
}

// PolicyInput is a policy; on update, nil fields keep their value.
type PolicyInput struct {
	Name        *string      `json:"name,omitempty"`
	Description *string      `json:"description,omitempty"`
	Statements  *[]Statement `json:"statements,omitempty"`
}

// CreatePolicy, ListPolicies, GetPolicy, UpdatePolicy and DeletePolicy
// manage policies.
func (c *Client) CreatePolicy(ctx context.Context, in PolicyInput) (Policy, Written, error) {
	return c.policies().create(ctx, in)
}
func (c *Client) ListPolicies(ctx context.Context, o ListOptions) (Page[Policy], error) {
	return c.policies().list(ctx, o)
}
func (c *Client) GetPolicy(ctx context.Context, id string, at ...At) (Policy, error) {
	return c.policies().get(ctx, id, firstAt(at))
}
func (c *Client) UpdatePolicy(ctx context.Context, id string, in PolicyInput) (Policy, Written, error) {
	return c.policies().update(ctx, id, in)
}
func (c *Client) DeletePolicy(ctx context.Context, id string) (Written, error) {
	return c.policies().delete(ctx, id)
}

// Ptr returns a pointer to v, for the optional fields of the inputs.
func Ptr[T any](v T) *T { return &v }

// AccessCheck is the vault's decision on one action for one user.
type AccessCheck struct {
	UserID   string          `json:"user_id"`
	Username string          `json:"username"`
	Action   string          `json:"action"`
	Resource string          `json:"resource"`
	Disabled bool            `json:"disabled"`
	Decision domain.Decision `json:"decision"`
}

// CheckAccess asks whether userID may do action on resource (POST
// /api/v1/authz/check), now or as of a past time.
func (c *Client) CheckAccess(ctx context.Context, userID, action, resource string, asOf ...time.Time) (AccessCheck, error) {
	body := map[string]any{"user_id": userID, "action": action, "resource": resource}
	if len(asOf) > 0 && !asOf[0].IsZero() {
		body["as_of"] = asOf[0].UTC().Format(time.RFC3339Nano)
	}
	var out AccessCheck
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/authz/check", body: body}, &out)
	return out, err
}

// AuditEntry is one row of the audit log.
type AuditEntry = domain.AuditEntry

// AuditOptions filter the audit log (newest first).
type AuditOptions struct {
	User, Action, Outcome, IP string
	ResourceType, ResourceID  string
	Since, Until              time.Time
	Limit                     int
	Cursor                    string
	MinPosition               int64
}

// Audit is one page of the audit log (`read` on audit).
func (c *Client) Audit(ctx context.Context, o AuditOptions) (Page[AuditEntry], error) {
	req := atRequest(http.MethodGet, "/api/v1/audit/logs", At{MinPosition: o.MinPosition})
	for k, v := range map[string]string{"user": o.User, "action": o.Action, "outcome": o.Outcome, "ip": o.IP,
		"resource_type": o.ResourceType, "resource_id": o.ResourceID, "cursor": o.Cursor} {
		setNonEmpty(req.query, k, v)
	}
	setTime(req.query, "since", o.Since)
	setTime(req.query, "until", o.Until)
	if o.Limit > 0 {
		req.query.Set("limit", strconv.Itoa(o.Limit))
	}
	var p Page[AuditEntry]
	_, err := c.call(ctx, req, &p)
	return p, err
}

func setTime(q url.Values, k string, t time.Time) {
	if !t.IsZero() {
		q.Set(k, t.UTC().Format(time.RFC3339Nano))
	}
}

// Status is the vault's pipelines' progress (`read` on audit), as JSON.
func (c *Client) Status(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/status"}, &out)
	return out, err
}
