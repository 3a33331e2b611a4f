package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/queries"
)

// multipartSlack is what a multipart body may carry beyond the file itself
// (boundaries, part headers, the small fields) before the early 413.
const multipartSlack = 64 << 10

// fileFieldMax bounds each small multipart field (name, description, tags).
const fileFieldMax = 8 << 10

// FilesDeps are what the file endpoints need.
type FilesDeps struct {
	Commands *commands.Files
	Queries  *queries.Files
}

// MountFiles registers the /api/v1/files endpoints.
func (s *Server) MountFiles(deps FilesDeps) {
	h := fileHandlers{s: s, deps: deps}
	s.handle(http.MethodPost, "/api/v1/files", s.authenticated(h.upload), "name")
	s.handle(http.MethodGet, "/api/v1/files", s.authenticated(h.list), timeTravelQuery("prefix", "tag", "include_deleted", "limit", "cursor")...)
	s.handle(http.MethodGet, "/api/v1/files/{id}", s.authenticated(h.get), timeTravelQuery()...)
	s.handle(http.MethodPut, "/api/v1/files/{id}", s.authenticated(h.newVersion))
	s.handle(http.MethodDelete, "/api/v1/files/{id}", s.authenticated(h.delete))
	s.handle(http.MethodPost, "/api/v1/files/{id}/restore", s.authenticated(h.restore))
	s.handle(http.MethodGet, "/api/v1/files/{id}/versions", s.authenticated(h.versions), timeTravelQuery()...)
	s.handle(http.MethodPost, "/api/v1/files/{id}/versions/{version}/destroy", s.authenticated(h.destroy))
	s.handle(http.MethodGet, "/api/v1/files/{id}/download", s.authenticated(h.download), "version")
	s.handle(http.MethodGet, "/api/v1/files/{id}/history", s.authenticated(h.history), timeTravelQuery("limit", "cursor")...)
	s.handle(http.MethodGet, "/api/v1/files/{id}/diff", s.authenticated(h.diff), "from", "to")
}

type fileHandlers struct {
	s    *Server
	deps FilesDeps
}

type fileListJSON struct {
	Items      []domain.FileSummary `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
	*queries.Instant
}

type fileVersionsJSON struct {
	Items []domain.FileVersionInfo `json:"items"`
	*queries.Instant
}

func setFileETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(version, 10)))
}

func writeFileResult(w http.ResponseWriter, ok int, res commands.FileResult) {
	setPosition(w, res.Written.Position)
	setFileETag(w, res.File.CurrentVersion)
	writeJSON(w, ok, res.File)
}

// fileBody is an upload's content and what came with it.
type fileBody struct {
	name, description, contentType string
	tags                           []string
	body                           io.Reader
}

// readFileBody opens an upload without reading it whole: multipart/form-data
// with the small fields before the `file` part, or a raw body whose
// Content-Type is the file's. A declared length over the limit is 413
// before anything is stored; the commands enforce the limit on what
// actually arrives.
func (h fileHandlers) readFileBody(w http.ResponseWriter, r *http.Request, withFields bool) (fileBody, error) {
	if err := h.deps.Commands.Available(); err != nil {
		return fileBody{}, err
	}
	max := h.deps.Commands.MaxBytes()
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaType = ""
	}
	limit := max
	if mediaType == "multipart/form-data" {
		limit += multipartSlack
	}
	if r.ContentLength > limit {
		return fileBody{}, domain.Errorf(domain.ETOOLARGE, "a file may be at most %d bytes", max)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	// A large upload may take longer than the server's read timeout; the
	// caller is authenticated and the size is bounded.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	q := r.URL.Query()
	if mediaType != "multipart/form-data" {
		fb := fileBody{contentType: r.Header.Get("Content-Type"), body: r.Body}
		if withFields {
			fb.name = q.Get("name")
			if fb.name == "" {
				return fileBody{}, domain.Errorf(domain.EINVALID, "name is required (?name= with a raw body, or a multipart field)")
			}
		}
		return fb, nil
	}
	if len(q) > 0 {
		return fileBody{}, domain.Errorf(domain.EINVALID, "a multipart upload takes its fields from the form, not the query")
	}
	if params["boundary"] == "" {
		return fileBody{}, domain.Errorf(domain.EINVALID, "multipart/form-data needs a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var fb fileBody
	seen := map[string]bool{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fileBody{}, domain.Errorf(domain.EINVALID, "the form has no file part")
		}
		if err != nil {
			return fileBody{}, bodyError(err)
		}
		field := part.FormName()
		if seen[field] {
			return fileBody{}, domain.Errorf(domain.EINVALID, "form field %q is given more than once", clipParam(field))
		}
		seen[field] = true
		switch {
		case field == "file":
			fb.body, fb.contentType = part, part.Header.Get("Content-Type")
			if fb.name == "" && withFields {
				return fileBody{}, domain.Errorf(domain.EINVALID, "the name field is required, before the file part")
			}
			return fb, nil
		case withFields && (field == "name" || field == "description" || field == "tags"):
			b, err := io.ReadAll(io.LimitReader(part, fileFieldMax+1))
			if err != nil {
				return fileBody{}, bodyError(err)
			}
			if len(b) > fileFieldMax {
				return fileBody{}, domain.Errorf(domain.EINVALID, "form field %s is too long", field)
			}
			switch field {
			case "name":
				fb.name = string(b)
			case "description":
				fb.description = string(b)
			case "tags":
				fb.tags = splitTags(string(b))
			}
		default:
			return fileBody{}, domain.Errorf(domain.EINVALID, "unknown form field %q", clipParam(field))
		}
	}
}

func splitTags(s string) []string {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// bodyError turns a failure reading the request body into the client's
// fault: too large (413) or malformed (400).
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return domain.Errorf(domain.ETOOLARGE, "the upload is larger than allowed")
	}
	var derr *domain.Error
	if errors.As(err, &derr) {
		return err
	}
	return domain.WrapError(domain.EINVALID, "the request body could not be read", err)
}

// uploadError keeps a too-large body a 413 however deep it surfaced.
func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return domain.Errorf(domain.ETOOLARGE, "the upload is larger than allowed")
	}
	return err
}

func (h fileHandlers) upload(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	fb, err := h.readFileBody(w, r, true)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Commands.UploadFile(r.Context(), caller, commands.UploadFileInput{
		Name: fb.name, Description: fb.description, Tags: fb.tags, ContentType: fb.contentType, Body: fb.body,
	})
	if err != nil {
		h.s.writeError(w, r, uploadError(err))
		return
	}
	w.Header().Set("Location", "/api/v1/files/"+res.File.ID)
	writeFileResult(w, http.StatusCreated, res)
}

func (h fileHandlers) newVersion(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	expected, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	fb, err := h.readFileBody(w, r, false)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.deps.Commands.NewFileVersion(r.Context(), caller, commands.NewFileVersionInput{
		ID: mux.Vars(r)["id"], ContentType: fb.contentType, Body: fb.body, ExpectedVersion: expected,
	})
	if err != nil {
		h.s.writeError(w, r, uploadError(err))
		return
	}
	writeFileResult(w, http.StatusOK, res)
}

func (h fileHandlers) list(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	q := r.URL.Query()
	in := queries.FileListInput{Prefix: q.Get("prefix"), Tag: q.Get("tag"), Cursor: q.Get("cursor")}
	var err error
	if in.Limit, err = optionalInt(q, "limit"); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if v := q.Get("include_deleted"); v != "" {
		if in.IncludeDeleted, err = strconv.ParseBool(v); err != nil {
			h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "include_deleted must be true or false"))
			return
		}
	}
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		page, err := h.deps.Queries.List(r.Context(), caller, in, at)
		return fileListJSON{Items: page.Items, NextCursor: page.NextCursor, Instant: page.Instant}, page.Instant, err
	})
}

func (h fileHandlers) get(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		f, err := h.deps.Queries.Get(r.Context(), caller, mux.Vars(r)["id"], at)
		if err == nil && f.At == nil {
			setFileETag(w, f.Value.CurrentVersion)
		}
		return f.Value, f.At, err
	})
}

func (h fileHandlers) versions(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		vs, err := h.deps.Queries.Versions(r.Context(), caller, mux.Vars(r)["id"], at)
		return fileVersionsJSON{Items: vs.Value, Instant: vs.At}, vs.At, err
	})
}

func (h fileHandlers) delete(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	res, err := h.deps.Commands.DeleteFile(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeWritten(w, res.Written)
}

func (h fileHandlers) restore(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	res, err := h.deps.Commands.RestoreFile(r.Context(), caller, mux.Vars(r)["id"])
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeFileResult(w, http.StatusOK, res)
}

func (h fileHandlers) destroy(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	version, err := strconv.ParseInt(mux.Vars(r)["version"], 10, 64)
	if err != nil || version < 1 {
		h.s.writeError(w, r, domain.Errorf(domain.ENOTFOUND, "no such version"))
		return
	}
	res, err := h.deps.Commands.DestroyFileVersion(r.Context(), caller, mux.Vars(r)["id"], version)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	writeFileResult(w, http.StatusOK, res)
}

// history answers the timeline of a file, oldest first, paged by position.
func (h fileHandlers) history(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	in, err := historyInput(r.URL.Query())
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.serveAt(w, r, func(at queries.At) (any, *queries.Instant, error) {
		page, err := h.deps.Queries.History(r.Context(), caller, mux.Vars(r)["id"], in, at)
		return page, &page.Instant, err
	})
}

// diff answers what changed between ?from= and ?to= (each a time or a
// position; to defaults to now).
func (h fileHandlers) diff(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	in, err := diffInput(r.URL.Query())
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	d, err := h.deps.Queries.Diff(r.Context(), caller, mux.Vars(r)["id"], in)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	setAtPosition(w, &d.To)
	writeJSON(w, http.StatusOK, d)
}

// download streams a version's plaintext. The audit event is appended
// before the answer starts; the first segment is verified before the
// status line goes out, so a blob that fails at once is a clean 500, and
// one that fails later aborts the connection (the client sees a broken
// transfer, never a short file that looks complete).
func (h fileHandlers) download(w http.ResponseWriter, r *http.Request, caller domain.Caller) {
	var version int64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "version must be a positive integer"))
			return
		}
		version = n
	}
	id := mux.Vars(r)["id"]
	stat, err := h.deps.Commands.StatFile(r.Context(), caller, id, version)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	rangeHeader := r.Header.Get("Range")
	if !ifRangeHolds(r.Header.Get("If-Range"), stat.Version) {
		// The client's earlier part came from another version: resuming
		// from this one would splice two contents together.
		rangeHeader = ""
	}
	offset, length, partial, ok := parseRange(rangeHeader, stat.Size)
	if !ok {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", stat.Size))
		writeJSON(w, http.StatusRequestedRangeNotSatisfiable, errorBody{Error: errorDetail{
			Code: domain.EINVALID, Message: fmt.Sprintf("the range is outside the file's %d bytes", stat.Size),
		}})
		return
	}
	dl, err := h.deps.Commands.DownloadFile(r.Context(), caller, commands.DownloadFileInput{
		ID: id, Version: stat.Version, Offset: offset, Length: length,
	})
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	defer dl.Body.Close()
	first := make([]byte, min(dl.Length, 64<<10))
	if _, err := io.ReadFull(dl.Body, first); err != nil {
		h.s.writeError(w, r, domain.WrapError(domain.EINTERNAL, "the stored file failed verification", err))
		return
	}
	hd := w.Header()
	setPosition(w, dl.Written.Position)
	setFileETag(w, dl.Version.Version)
	hd.Set("Content-Type", dl.Version.ContentType)
	hd.Set("Content-Length", strconv.FormatInt(dl.Length, 10))
	hd.Set("Content-Disposition", contentDisposition(dl.File.Name))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", dl.Offset, dl.Offset+dl.Length-1, dl.Version.Size))
	}
	w.WriteHeader(status)
	if _, err := w.Write(first); err != nil {
		return
	}
	if _, err := io.Copy(w, dl.Body); err != nil {
		if r.Context().Err() == nil {
			h.s.logger.ErrorContext(r.Context(), "file download aborted", "request_id", RequestIDFrom(r.Context()), "file_id", id, "error", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// ifRangeHolds is If-Range (RFC 9110 13.1.5) for a download of version: a
// Range is served only while the version is the one the validator names.
// The validator must be the strong entity tag downloads carry ("N", the
// version); a weak tag never matches, and neither does a date, since
// downloads carry no Last-Modified to compare it with. Then the whole
// version is sent, 200. Without If-Range the Range stands.
func ifRangeHolds(validator string, version int64) bool {
	validator = strings.TrimSpace(validator)
	if validator == "" {
		return true
	}
	return validator == strconv.Quote(strconv.FormatInt(version, 10))
}

// parseRange reads a single-range Range header (bytes=a-b, a-, -n) against
// size. Without one (or with several ranges, which it does not serve) the
// whole file is sent. ok is false for an unsatisfiable range (416).
func parseRange(header string, size int64) (offset, length int64, partial, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if header == "" || !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	a, b, dash := strings.Cut(strings.TrimSpace(spec), "-")
	if !dash {
		return 0, 0, false, false
	}
	switch a {
	case "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, true
	default:
		start, err := strconv.ParseInt(a, 10, 64)
		if err != nil || start < 0 || start >= size {
			return 0, 0, false, false
		}
		end := size - 1
		if b != "" {
			e, err := strconv.ParseInt(b, 10, 64)
			if err != nil || e < start {
				return 0, 0, false, false
			}
			end = min(e, size-1)
		}
		return start, end - start + 1, true, true
	}
}

// contentDisposition names the download after the last segment of the
// file's name, as an ASCII fallback and RFC 5987 UTF-8.
func contentDisposition(name string) string {
	base := path.Base(name)
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, base)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(base))
}
