package domain

import (
	"net/netip"
	"time"
)

// Audit outcomes: what became of the attempt an audit entry records.
const (
	AuditAllowed = "allowed" // the action happened
	AuditDenied  = "denied"  // authorization refused it
	AuditFailed  = "failed"  // it was attempted and did not succeed (a wrong password)
)

// AuditMaxLimit bounds one page of the audit log.
const AuditMaxLimit = 1000

// AuditEntry is one event of the log as an auditor reads it: who, from
// where, did what to which resource, and with what outcome. It carries ids
// and names only, never a value. It lives in domain so the command side and
// the audit projection agree on it without importing each other.
type AuditEntry struct {
	Position     int64     `json:"position"`
	EventID      string    `json:"event_id"`
	Timestamp    time.Time `json:"timestamp"`
	UserID       string    `json:"user_id"`
	Username     string    `json:"username"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Outcome      string    `json:"outcome"`
	IP           string    `json:"ip"`
	UserAgent    string    `json:"user_agent"`
	RequestID    string    `json:"request_id"`
	EventType    string    `json:"event_type"`
}

// AuditCursor is the keyset position of an entry in newest-first order.
type AuditCursor struct {
	Timestamp time.Time
	Position  int64
}

// AuditFilter selects a page of the audit log, newest first. Empty strings
// and zero values filter nothing. Since is inclusive and Until exclusive, so
// consecutive windows never overlap. Before, when set, keeps only entries
// older than it (the previous page's last entry).
type AuditFilter struct {
	UserID       string
	Username     string
	Action       string
	ResourceType string
	ResourceID   string
	Outcome      string
	IP           netip.Prefix
	Since        time.Time
	Until        time.Time
	Before       *AuditCursor
	Limit        int
}
