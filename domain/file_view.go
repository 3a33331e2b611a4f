package domain

import "time"

// File states (as for secrets).
const (
	FileStateActive           = "active"
	FileStateDeleted          = "deleted"
	FileVersionStateActive    = "active"
	FileVersionStateDestroyed = "destroyed"
)

// FileListMaxLimit bounds one page of a file listing.
const FileListMaxLimit = 200

// FileSummary is a file's metadata as the API shows it; never its content.
type FileSummary struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Description    string    `json:"description"`
	Tags           []string  `json:"tags"`
	Size           int64     `json:"size"`
	ContentType    string    `json:"content_type"`
	SHA256         string    `json:"sha256"`
	CurrentVersion int64     `json:"current_version"`
	VersionCount   int64     `json:"version_count"`
	State          string    `json:"state"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by"`
	UpdatedAt      time.Time `json:"updated_at"`
	UpdatedBy      string    `json:"updated_by"`
}

// FileVersionInfo is one version's metadata.
type FileVersionInfo struct {
	Version     int64      `json:"version"`
	State       string     `json:"state"`
	Size        int64      `json:"size"`
	ContentType string     `json:"content_type"`
	SHA256      string     `json:"sha256"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	DestroyedAt *time.Time `json:"destroyed_at,omitempty"`
	DestroyedBy string     `json:"destroyed_by,omitempty"`
}
