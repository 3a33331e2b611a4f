package domain

import "time"

// UserSummary is a user as the admin endpoints show it, whether read from
// the identity read model or folded from the log as of an instant: never a
// password or its hash.
type UserSummary struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// RoleSummary is a role as the admin endpoints show it.
type RoleSummary struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Policies    []string  `json:"policies"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
}

// PolicySummary is a policy as the admin endpoints show it.
type PolicySummary struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Statements  []Statement `json:"statements"`
	CreatedAt   time.Time   `json:"created_at"`
	CreatedBy   string      `json:"created_by"`
	UpdatedAt   time.Time   `json:"updated_at"`
	UpdatedBy   string      `json:"updated_by"`
}

// Page sizes of the user, role and policy listings.
const (
	IdentityListMaxLimit = 200
	// DefaultListLimit is the page size of every listing (secrets, users,
	// roles, policies, as of now or of an instant) when none is asked for.
	DefaultListLimit = 50
)

// IdentityFilter selects a page of users, roles or policies in name order.
// After is the last name of the previous page (keyset pagination), Prefix
// filters names; Limit 0 means DefaultListLimit.
type IdentityFilter struct {
	Prefix string
	After  string
	Limit  int
}
