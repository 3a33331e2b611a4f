package domain

import "time"

// ServiceAccountSummary is a service account as the admin endpoints show
// it: never a secret or its MAC.
type ServiceAccountSummary struct {
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

// ClientCredentialSummary is a client credential as listings show it: the
// public client id, never the secret.
type ClientCredentialSummary struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	ClientID     string     `json:"client_id"`
	CreatedAt    time.Time  `json:"created_at"`
	RotatedAt    *time.Time `json:"rotated_at,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	AllowedCIDRs []string   `json:"allowed_cidrs"`
}

// Summary is the account as listings show it; the who and when of its
// creation and last change come from the events' metadata, which the
// caller fills in.
func (a *ServiceAccount) Summary() ServiceAccountSummary {
	return ServiceAccountSummary{
		ID: a.ID(), Name: a.state.Name, Description: a.state.Description, Roles: a.RoleIDs(),
		Disabled: a.state.Disabled, Credentials: len(a.state.Credentials),
	}
}
