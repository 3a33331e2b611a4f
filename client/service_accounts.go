package client

import (
	"context"
	"net/http"
	"time"
)

const serviceAccountsPath = "/api/v1/service-accounts"

// Account is a service account: a principal that is not a person, with
// roles and client credentials instead of a password.
type Account struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Roles       []string  `json:"roles"`
	Disabled    bool      `json:"disabled"`
	Credentials int       `json:"credentials"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

// AccountInput is a service account; on update, nil fields keep their
// value.
type AccountInput struct {
	Name        *string   `json:"name,omitempty"`
	Description *string   `json:"description,omitempty"`
	Roles       *[]string `json:"roles,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// Credential is a client credential as listings show it: never its secret.
type Credential struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	ClientID     string     `json:"client_id"`
	CreatedAt    time.Time  `json:"created_at"`
	RotatedAt    *time.Time `json:"rotated_at,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	AllowedCIDRs []string   `json:"allowed_cidrs"`
}

// IssuedCredential is a credential with its secret, answered once.
type IssuedCredential struct {
	Credential
	ClientSecret string `json:"client_secret"`
}

// CredentialInput is a new credential: a name, an optional expiry and the
// client addresses it may be used from.
type CredentialInput struct {
	Name         string     `json:"name"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	AllowedCIDRs []string   `json:"allowed_cidrs,omitempty"`
}

// CreateServiceAccount, ListServiceAccounts, GetServiceAccount,
// UpdateServiceAccount and DeleteServiceAccount manage service accounts;
// the reads take an optional At, as users, roles and policies do (a past
// listing is in id order, not name order).
func (c *Client) CreateServiceAccount(ctx context.Context, in AccountInput) (Account, Written, error) {
	return c.accounts().create(ctx, in)
}
func (c *Client) ListServiceAccounts(ctx context.Context, o ListOptions) (Page[Account], error) {
	return c.accounts().list(ctx, o)
}
func (c *Client) GetServiceAccount(ctx context.Context, id string, at ...At) (Account, error) {
	return c.accounts().get(ctx, id, firstAt(at))
}
func (c *Client) UpdateServiceAccount(ctx context.Context, id string, in AccountInput) (Account, Written, error) {
	return c.accounts().update(ctx, id, in)
}
func (c *Client) DeleteServiceAccount(ctx context.Context, id string) (Written, error) {
	return c.accounts().delete(ctx, id)
}

func credentialsPath(accountID string) string {
	return serviceAccountsPath + "/" + seg(accountID) + "/credentials"
}

// CreateCredential issues a client credential; its secret is in the answer
// and nowhere else.
func (c *Client) CreateCredential(ctx context.Context, accountID string, in CredentialInput) (IssuedCredential, error) {
	var out IssuedCredential
	_, err := c.call(ctx, request{method: http.MethodPost, path: credentialsPath(accountID), body: in}, &out)
	return out, err
}

// ListCredentials lists an account's credentials in name order (never a
// secret), now or as of at.
func (c *Client) ListCredentials(ctx context.Context, accountID string, at ...At) ([]Credential, error) {
	var out Page[Credential]
	_, err := c.call(ctx, atRequest(http.MethodGet, credentialsPath(accountID), firstAt(at)), &out)
	return out.Items, err
}

// RotateCredential gives a credential a new secret, answered once.
func (c *Client) RotateCredential(ctx context.Context, accountID, credentialID string) (IssuedCredential, error) {
	var out IssuedCredential
	_, err := c.call(ctx, request{method: http.MethodPost, path: credentialsPath(accountID) + "/" + seg(credentialID) + "/rotate"}, &out)
	return out, err
}

// RevokeCredential revokes a credential and the tokens it issued.
func (c *Client) RevokeCredential(ctx context.Context, accountID, credentialID string) (Written, error) {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: credentialsPath(accountID) + "/" + seg(credentialID)})
	if err != nil {
		return Written{}, err
	}
	return written(resp), nil
}
