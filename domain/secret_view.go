package domain

import "time"

// Secret read-model states.
const (
	SecretStateActive           = "active"
	SecretStateDeleted          = "deleted"
	SecretVersionStateActive    = "active"
	SecretVersionStateDestroyed = "destroyed"
)

// SecretListMaxLimit bounds one page of a secret listing.
const SecretListMaxLimit = 200

// SecretSummary is a secret as the read model shows it: metadata only. It
// lives in domain so the command side and the projection agree on it
// without importing each other.
type SecretSummary struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Tags           []string  `json:"tags"`
	CurrentVersion int64     `json:"current_version"`
	VersionCount   int64     `json:"version_count"`
	State          string    `json:"state"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by"`
	UpdatedAt      time.Time `json:"updated_at"`
	UpdatedBy      string    `json:"updated_by"`
}

// SecretVersionInfo is one version's metadata; never its value.
type SecretVersionInfo struct {
	Version       int64      `json:"version"`
	State         string     `json:"state"`
	Generated     bool       `json:"generated"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedBy     string     `json:"created_by"`
	DestroyedAt   *time.Time `json:"destroyed_at,omitempty"`
	DestroyedBy   string     `json:"destroyed_by,omitempty"`
	DestroyReason string     `json:"destroy_reason,omitempty"`
}

// SecretFilter selects a page of secrets in name order. After is the last
// name of the previous page (keyset pagination).
type SecretFilter struct {
	Prefix         string
	Tag            string
	After          string
	Limit          int
	IncludeDeleted bool
}
