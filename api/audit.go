package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

// AuditQueries is the audit log's query side; *queries.Audit satisfies it.
type AuditQueries interface {
	List(ctx context.Context, caller domain.Caller, in queries.AuditInput) (queries.AuditPage, error)
	Export(ctx context.Context, caller domain.Caller, in queries.AuditInput, emit func(domain.AuditEntry) error) error
}

// AuditDeps are what the audit endpoint needs.
type AuditDeps struct {
	Queries AuditQueries
}

// Audit answer formats.
const (
	auditFormatJSON   = "json"
	auditFormatNDJSON = "ndjson"
	auditFormatCSV    = "csv"
	contentTypeNDJSON = "application/x-ndjson"
	contentTypeCSV    = "text/csv; charset=utf-8"
	// auditFlushEvery bounds how many rows an export holds before pushing
	// them to the client, so a slow export still shows progress.
	auditFlushEvery = 500
)

// auditParams are the query parameters GET /api/v1/audit/logs accepts; any
// other is refused, so a misspelt filter never silently widens an answer.
func auditParams() []string {
	return []string{"user", "action", "resource_type", "resource_id", "outcome", "ip", "since", "until", "cursor", "limit", "format"}
}

// MountAudit registers GET /api/v1/audit/logs.
func (s *Server) MountAudit(deps AuditDeps) {
	s.handle(http.MethodGet, "/api/v1/audit/logs", s.authenticated(func(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
		s.auditLogs(w, r, caller, deps.Queries)
	}), auditParams()...)
}

func (s *Server) auditLogs(w http.ResponseWriter, r *http.Request, caller domain.Caller, q AuditQueries) {
	in, format, err := parseAuditQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.MinPosition, err = minPosition(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if format == auditFormatJSON {
		page, err := q.List(r.Context(), caller, in)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, page)
		return
	}
	s.exportAudit(w, r, caller, q, in, format)
}

// exportAudit streams the export. The status and headers go out with the
// first row (or at the end of an empty export), so a refusal or a bad input
// is still a proper JSON error; a failure after that aborts the connection,
// because a truncated export must never look complete.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, caller domain.Caller, q AuditQueries, in queries.AuditInput, format string) {
	bw := bufio.NewWriterSize(w, 32<<10)
	rc := http.NewResponseController(w)
	var cw *csv.Writer
	started := false
	rows := 0
	start := func() {
		started = true
		if format == auditFormatCSV {
			w.Header().Set("Content-Type", contentTypeCSV)
			w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
			cw = csv.NewWriter(bw)
			_ = cw.Write(AuditCSVHeader())
		} else {
			w.Header().Set("Content-Type", contentTypeNDJSON)
		}
		w.WriteHeader(http.StatusOK)
	}
	flush := func() error {
		if cw != nil {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && err != http.ErrNotSupported {
			return err
		}
		return nil
	}
	err := q.Export(r.Context(), caller, in, func(e domain.AuditEntry) error {
		if !started {
			start()
		}
		if cw != nil {
			if err := cw.Write(AuditCSVRecord(e)); err != nil {
				return err
			}
		} else {
			line, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if _, err := bw.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		rows++
		if rows%auditFlushEvery == 0 {
			return flush()
		}
		return nil
	})
	if err != nil && !started {
		s.writeError(w, r, err)
		return
	}
	if err == nil {
		if !started {
			start()
		}
		err = flush()
	}
	if err != nil {
		s.logger.WarnContext(r.Context(), "audit export aborted", "request_id", RequestIDFrom(r.Context()), "rows", rows, "error", err)
		panic(http.ErrAbortHandler)
	}
}

// parseAuditQuery reads the query string strictly: unknown or repeated
// parameters and malformed values are 400s naming the parameter. Filter
// values are checked by package queries.
func parseAuditQuery(r *http.Request) (queries.AuditInput, string, error) {
	values, err := strictQuery(r.URL.RawQuery, auditParams())
	if err != nil {
		return queries.AuditInput{}, "", err
	}
	in := queries.AuditInput{
		User: values.Get("user"), Action: values.Get("action"), ResourceType: values.Get("resource_type"),
		ResourceID: values.Get("resource_id"), Outcome: values.Get("outcome"), IP: values.Get("ip"),
		Since: values.Get("since"), Until: values.Get("until"), Cursor: values.Get("cursor"),
	}
	if values.Has("limit") {
		n, err := strconv.Atoi(values.Get("limit"))
		if err != nil || n < 1 || n > domain.AuditMaxLimit {
			return queries.AuditInput{}, "", domain.Errorf(domain.EINVALID, "limit must be an integer from 1 to %d", domain.AuditMaxLimit)
		}
		in.Limit = n
	}
	format := values.Get("format")
	switch format {
	case auditFormatJSON, auditFormatNDJSON, auditFormatCSV:
	case "":
		format = auditFormatJSON
		if acceptsNDJSON(r.Header.Values("Accept")) {
			format = auditFormatNDJSON
		}
	default:
		return queries.AuditInput{}, "", domain.Errorf(domain.EINVALID, "format must be json, ndjson or csv")
	}
	return in, format, nil
}

func acceptsNDJSON(accept []string) bool {
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), contentTypeNDJSON) {
				return true
			}
		}
	}
	return false
}

// AuditCSVHeader is the header row of a CSV export; vaultctl prints the
// same columns.
func AuditCSVHeader() []string {
	return []string{"position", "event_id", "timestamp", "user_id", "username", "action", "resource_type",
		"resource_id", "outcome", "ip", "user_agent", "request_id", "event_type"}
}

// AuditCSVRecord is one entry as a CSV row. Free-text cells are defused
// against formula injection: a spreadsheet would evaluate a cell starting
// with = + - @ (or a tab or carriage return), and a user agent or resource
// name is attacker-controlled.
func AuditCSVRecord(e domain.AuditEntry) []string {
	return []string{
		strconv.FormatInt(e.Position, 10), e.EventID, e.Timestamp.UTC().Format(time.RFC3339Nano),
		csvCell(e.UserID), csvCell(e.Username), csvCell(e.Action), csvCell(e.ResourceType),
		csvCell(e.ResourceID), e.Outcome, csvCell(e.IP), csvCell(e.UserAgent), csvCell(e.RequestID), csvCell(e.EventType),
	}
}

func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
