package queries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/securevault/vault/domain"
)

// Audit query defaults and bounds.
const (
	AuditDefaultLimit = 100
	// auditExportPage is how many rows an export reads at once: its memory
	// use whatever the export's size.
	auditExportPage = 1000
	// auditMaxParam bounds every free-text filter value.
	auditMaxParam = 1024
)

// AuditReader is the read side of the audit projection;
// *projections/audit.Reader satisfies it.
type AuditReader interface {
	List(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEntry, error)
}

// Audit answers audit log queries for callers allowed `read` on `audit`.
type Audit struct {
	svc    *Service
	reader AuditReader
}

// NewAudit returns the audit query handlers.
func NewAudit(svc *Service, reader AuditReader) (*Audit, error) {
	if svc == nil || reader == nil {
		return nil, domain.Errorf(domain.EINTERNAL, "audit queries need a service and a read model")
	}
	return &Audit{svc: svc, reader: reader}, nil
}

// AuditInput is an audit query as a client sends it: text, checked here so
// the HTTP API and any other front end reject the same inputs the same way.
// User is a user id, `system`, `anonymous`, or a username. Since is
// inclusive and Until exclusive (RFC 3339). Cursor is the NextCursor of the
// previous page of the same query. Limit 0 means AuditDefaultLimit.
// MinPosition waits until the audit log has applied that position
// (read-your-writes).
type AuditInput struct {
	User         string
	Action       string
	ResourceType string
	ResourceID   string
	Outcome      string
	IP           string
	Since        string
	Until        string
	Cursor       string
	Limit        int
	MinPosition  int64
}

// AuditPage is one page of the audit log, newest first. NextCursor is empty
// on the last page.
type AuditPage struct {
	Items      []domain.AuditEntry `json:"items"`
	NextCursor string              `json:"next_cursor"`
}

// List returns one page of the audit log. It needs `read` on `audit`; a
// refusal is itself recorded, so it shows up in the log it protects.
func (a *Audit) List(ctx context.Context, caller domain.Caller, in AuditInput) (AuditPage, error) {
	if _, err := a.svc.awaitReadModel(ctx, caller, in.MinPosition, domain.ReadModelAudit); err != nil {
		return AuditPage{}, err
	}
	if err := a.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.ResourceAudit); err != nil {
		return AuditPage{}, err
	}
	q, err := parseAuditInput(in)
	if err != nil {
		return AuditPage{}, err
	}
	f := q.filter
	f.Limit = q.limit + 1 // one more tells whether a next page exists
	rows, err := a.reader.List(ctx, f)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Items: rows}
	if len(rows) > q.limit {
		page.Items = rows[:q.limit]
		last := page.Items[q.limit-1]
		page.NextCursor = domain.EncodeAuditCursor(q.digest, domain.AuditCursor{Timestamp: last.Timestamp, Position: last.Position})
	}
	return page, nil
}

// Export streams every entry matching in (from its cursor on, without
// a page limit) to emit, newest first, reading a bounded page at a time, so
// an export of any size runs in constant memory. Authorization and input
// are checked before emit is first called: an error returned before then is
// a clean refusal, one after it a broken stream.
//
// Entries appended while an export runs are newer than every entry it has
// yet to read, so the export is exactly the log as of its first page.
func (a *Audit) Export(ctx context.Context, caller domain.Caller, in AuditInput, emit func(domain.AuditEntry) error) error {
	if _, err := a.svc.awaitReadModel(ctx, caller, in.MinPosition, domain.ReadModelAudit); err != nil {
		return err
	}
	if err := a.svc.access.Authorize(ctx, caller, domain.ActionRead, domain.ResourceAudit); err != nil {
		return err
	}
	if in.Limit != 0 {
		return domain.Errorf(domain.EINVALID, "limit sets the size of a JSON page; an export streams every matching entry (narrow it with since and until)")
	}
	q, err := parseAuditInput(in)
	if err != nil {
		return err
	}
	f := q.filter
	f.Limit = auditExportPage
	for {
		rows, err := a.reader.List(ctx, f)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := emit(row); err != nil {
				return err
			}
		}
		if len(rows) < auditExportPage {
			return nil
		}
		last := rows[len(rows)-1]
		f.Before = &domain.AuditCursor{Timestamp: last.Timestamp, Position: last.Position}
	}
}

// auditQuery is a checked AuditInput.
type auditQuery struct {
	filter domain.AuditFilter
	limit  int
	// digest identifies the filter, so a cursor of another query is refused
	// instead of silently paging through the wrong result.
	digest string
}

// onlyChars reports whether s is 1 to max bytes of allowed characters.
func onlyChars(s, allowed string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(allowed, rune(s[i])) {
			return false
		}
	}
	return true
}

const (
	lowerDigits  = "abcdefghijklmnopqrstuvwxyz0123456789"
	actionChars  = lowerDigits + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-"
	resTypeChars = lowerDigits + "_"
)

func parseAuditInput(in AuditInput) (auditQuery, error) {
	var q auditQuery
	f := &q.filter
	for _, p := range []struct{ name, value string }{
		{"user", in.User}, {"action", in.Action}, {"resource_type", in.ResourceType}, {"resource_id", in.ResourceID},
		{"outcome", in.Outcome}, {"ip", in.IP}, {"since", in.Since}, {"until", in.Until}, {"cursor", in.Cursor},
	} {
		if len(p.value) > auditMaxParam {
			return q, domain.Errorf(domain.EINVALID, "%s must be at most %d bytes long", p.name, auditMaxParam)
		}
		// Every filter reaches PostgreSQL as text, which holds neither NUL
		// bytes nor invalid UTF-8; both are the client's mistake (400), not a
		// query that fails (500).
		if !utf8.ValidString(p.value) {
			return q, domain.Errorf(domain.EINVALID, "%s must be valid UTF-8", p.name)
		}
		if strings.IndexFunc(p.value, unicode.IsControl) >= 0 {
			return q, domain.Errorf(domain.EINVALID, "%s must not contain control characters", p.name)
		}
	}
	switch u := strings.TrimSpace(in.User); {
	case u == "":
	case domain.IsID(strings.ToLower(u)):
		// A user id, in any case: ids are stored in lowercase.
		f.UserID = strings.ToLower(u)
	case u == domain.SystemActor || u == domain.AnonymousActor:
		f.UserID = u
	default:
		name, err := domain.NormalizeUsername(u)
		if err != nil {
			return q, domain.Errorf(domain.EINVALID, "user must be a user id or a username: %s", domain.ErrorMessage(err))
		}
		f.Username = name
	}
	if in.Action != "" && !onlyChars(in.Action, actionChars, 128) {
		return q, domain.Errorf(domain.EINVALID, "action must be like secret.reveal: letters, digits, '.', '_' and '-', at most 128")
	}
	f.Action = in.Action
	if in.ResourceType != "" && !onlyChars(in.ResourceType, resTypeChars, 64) {
		return q, domain.Errorf(domain.EINVALID, "resource_type must be a resource type such as secrets, users, roles, policies or audit")
	}
	f.ResourceType, f.ResourceID = in.ResourceType, in.ResourceID
	switch in.Outcome {
	case "", domain.AuditAllowed, domain.AuditDenied, domain.AuditFailed:
		f.Outcome = in.Outcome
	default:
		return q, domain.Errorf(domain.EINVALID, "outcome must be allowed, denied or failed")
	}
	if in.IP != "" {
		ip, err := parseAuditIP(in.IP)
		if err != nil {
			return q, err
		}
		f.IP = ip
	}
	var err error
	if f.Since, err = parseAuditTime("since", in.Since); err != nil {
		return q, err
	}
	if f.Until, err = parseAuditTime("until", in.Until); err != nil {
		return q, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return q, domain.Errorf(domain.EINVALID, "until must be later than since")
	}
	switch {
	case in.Limit == 0:
		q.limit = AuditDefaultLimit
	case in.Limit < 1 || in.Limit > domain.AuditMaxLimit:
		return q, domain.Errorf(domain.EINVALID, "limit must be 1 to %d", domain.AuditMaxLimit)
	default:
		q.limit = in.Limit
	}
	q.digest = auditDigest(*f)
	if in.Cursor != "" {
		c, err := domain.DecodeAuditCursor(q.digest, in.Cursor)
		if err != nil {
			return q, err
		}
		f.Before = &c
	}
	return q, nil
}

// parseAuditIP accepts one address or a CIDR prefix.
func parseAuditIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, domain.Errorf(domain.EINVALID, "ip must be an IP address or a CIDR prefix such as 10.0.0.0/8")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, domain.Errorf(domain.EINVALID, "ip must be an IP address or a CIDR prefix such as 10.0.0.0/8")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseAuditTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, domain.Errorf(domain.EINVALID, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, domain.Errorf(domain.EINVALID, "%s must be between years 1 and 9999", name)
	}
	return t.UTC(), nil
}

func auditDigest(f domain.AuditFilter) string {
	ip := ""
	if f.IP.IsValid() {
		ip = f.IP.String()
	}
	canon, _ := json.Marshal([]string{ // strings always marshal
		f.UserID, f.Username, f.Action, f.ResourceType, f.ResourceID, f.Outcome, ip,
		f.Since.Format(time.RFC3339Nano), f.Until.Format(time.RFC3339Nano),
	})
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:8])
}
