package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/securevault/vault/domain"
)

// Secret is a secret's metadata (never its value).
type Secret = domain.SecretSummary

// SecretVersion is one version's metadata.
type SecretVersion = domain.SecretVersionInfo

// SecretPage is one page of a listing.
type SecretPage struct {
	Items      []Secret `json:"items"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// CreateSecretInput is a new secret and its first value.
type CreateSecretInput struct {
	Name        string   `json:"name"`
	Value       string   `json:"value"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// Generate asks the vault to make the value.
type Generate struct {
	Length  int    `json:"length"`
	Charset string `json:"charset,omitempty"`
}

// RotateSecretInput is the next value, given or generated. IfMatch makes
// the rotation conditional on the current version (412: CodePrecondition).
type RotateSecretInput struct {
	Value    string    `json:"value,omitempty"`
	Generate *Generate `json:"generate,omitempty"`
	IfMatch  *int64    `json:"-"`
}

// UpdateSecretInput edits metadata; a nil field keeps its value.
type UpdateSecretInput struct {
	Description *string   `json:"description,omitempty"`
	Tags        *[]string `json:"tags,omitempty"`
	IfMatch     *int64    `json:"-"`
}

// ListSecretsOptions filter a listing.
type ListSecretsOptions struct {
	Prefix         string
	Tag            string
	IncludeDeleted bool
	Limit          int
	Cursor         string
	At             At
}

// Revealed is a secret's value.
type Revealed struct {
	Value   string `json:"value"`
	Version int64  `json:"version"`
}

// RevealedSecret is one value of a batch reveal.
type RevealedSecret struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Value   string `json:"value"`
}

// RevealRefusal is a secret a batch reveal did not return: Reason is
// not_permitted, not_found or gone.
type RevealRefusal struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// RevealedSecrets is a batch reveal's answer, in name order.
type RevealedSecrets struct {
	Items   []RevealedSecret `json:"items"`
	Refused []RevealRefusal  `json:"refused"`
	Written Written          `json:"-"`
}

// Actor names who caused an event.
type Actor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Change is a field's value before and after.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// HistoryEntry is one event of a secret's timeline.
type HistoryEntry struct {
	Position        int64             `json:"position"`
	EventID         string            `json:"event_id"`
	Type            string            `json:"type"`
	Timestamp       time.Time         `json:"timestamp"`
	Actor           Actor             `json:"actor"`
	IP              string            `json:"ip"`
	UserAgent       string            `json:"user_agent"`
	RequestID       string            `json:"request_id,omitempty"`
	Changes         map[string]Change `json:"changes"`
	RevealedVersion int64             `json:"revealed_version,omitempty"`
}

// HistoryPage is a page of a secret's timeline, oldest first.
type HistoryPage struct {
	SecretID   string         `json:"secret_id"`
	Items      []HistoryEntry `json:"items"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// Instant is a point of the log an answer shows.
type Instant struct {
	Position int64      `json:"at_position"`
	Time     *time.Time `json:"as_of,omitempty"`
}

// Reveal is one reveal a diff lists.
type Reveal struct {
	Position  int64     `json:"position"`
	EventID   string    `json:"event_id"`
	Timestamp time.Time `json:"timestamp"`
	Actor     Actor     `json:"actor"`
	Version   int64     `json:"version"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

// SecretDiff is what changed between two instants.
type SecretDiff struct {
	SecretID          string            `json:"secret_id"`
	Name              string            `json:"name"`
	From              Instant           `json:"from"`
	To                Instant           `json:"to"`
	Existed           bool              `json:"existed_at_from"`
	Changes           map[string]Change `json:"changes"`
	VersionsAdded     []SecretVersion   `json:"versions_added"`
	VersionsDestroyed []SecretVersion   `json:"versions_destroyed"`
	Reveals           []Reveal          `json:"reveals"`
}

const secretsPath = "/api/v1/secrets" //nolint:gosec // G101: a URL path, not a credential

func secretPath(id string) string { return secretsPath + "/" + seg(id) }

func byNamePath(name string) string { return secretsPath + "/by-name/" + seg(name) }

// CreateSecret creates a secret with its first version (`write`).
func (c *Client) CreateSecret(ctx context.Context, in CreateSecretInput) (Secret, Written, error) {
	return c.secretWrite(ctx, request{method: http.MethodPost, path: secretsPath, body: in})
}

func (c *Client) secretWrite(ctx context.Context, req request) (Secret, Written, error) {
	var s Secret
	resp, err := c.call(ctx, req, &s)
	if err != nil {
		return Secret{}, Written{}, err
	}
	return s, written(resp), nil
}

// ListSecrets answers one page of the secrets the caller may list.
func (c *Client) ListSecrets(ctx context.Context, o ListSecretsOptions) (SecretPage, error) {
	req := atRequest(http.MethodGet, secretsPath, o.At)
	setNonEmpty(req.query, "prefix", o.Prefix)
	setNonEmpty(req.query, "tag", o.Tag)
	setNonEmpty(req.query, "cursor", o.Cursor)
	if o.IncludeDeleted {
		req.query.Set("include_deleted", "true")
	}
	if o.Limit > 0 {
		req.query.Set("limit", strconv.Itoa(o.Limit))
	}
	var p SecretPage
	_, err := c.call(ctx, req, &p)
	return p, err
}

// AllSecrets follows the listing's cursors to the end.
func (c *Client) AllSecrets(ctx context.Context, o ListSecretsOptions) ([]Secret, error) {
	var out []Secret
	for {
		p, err := c.ListSecrets(ctx, o)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out, nil
		}
		o.Cursor = p.NextCursor
	}
}

func setNonEmpty(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// GetSecret reads a secret's metadata (`read`), now or at an instant.
func (c *Client) GetSecret(ctx context.Context, id string, at ...At) (Secret, error) {
	var s Secret
	_, err := c.call(ctx, atRequest(http.MethodGet, secretPath(id), firstAt(at)), &s)
	return s, err
}

// GetSecretByName reads a secret's metadata by name (`read`); a caller
// without `read` on the name gets CodeForbidden whether or not it exists.
func (c *Client) GetSecretByName(ctx context.Context, name string, at ...At) (Secret, error) {
	var s Secret
	_, err := c.call(ctx, atRequest(http.MethodGet, byNamePath(name), firstAt(at)), &s)
	return s, err
}

// RevealSecret returns a version's value (`reveal`; version 0 is the
// current one). The vault records the reveal before it answers.
func (c *Client) RevealSecret(ctx context.Context, id string, version int64) (Revealed, error) {
	return c.reveal(ctx, secretPath(id)+"/reveal", version)
}

// RevealSecretByName is RevealSecret by name.
func (c *Client) RevealSecretByName(ctx context.Context, name string, version int64) (Revealed, error) {
	return c.reveal(ctx, byNamePath(name)+"/reveal", version)
}

func (c *Client) reveal(ctx context.Context, path string, version int64) (Revealed, error) {
	req := request{method: http.MethodGet, path: path, query: url.Values{}}
	if version > 0 {
		req.query.Set("version", strconv.FormatInt(version, 10))
	}
	var r Revealed
	_, err := c.call(ctx, req, &r)
	return r, err
}

// RevealSecrets reveals the named secrets in one request, each audited.
func (c *Client) RevealSecrets(ctx context.Context, names []string) (RevealedSecrets, error) {
	return c.revealBatch(ctx, map[string]any{"names": names})
}

// RevealPrefix reveals every secret under prefix the caller may reveal,
// in one request, each audited.
func (c *Client) RevealPrefix(ctx context.Context, prefix string) (RevealedSecrets, error) {
	return c.revealBatch(ctx, map[string]any{"prefix": prefix})
}

func (c *Client) revealBatch(ctx context.Context, body map[string]any) (RevealedSecrets, error) {
	var r RevealedSecrets
	resp, err := c.call(ctx, request{method: http.MethodPost, path: secretsPath + "/reveal", body: body}, &r)
	if err != nil {
		return RevealedSecrets{}, err
	}
	r.Written = written(resp)
	return r, nil
}

// RotateSecret adds a version (`rotate`).
func (c *Client) RotateSecret(ctx context.Context, id string, in RotateSecretInput) (Secret, Written, error) {
	return c.secretWrite(ctx, request{method: http.MethodPut, path: secretPath(id) + "/rotate", body: in, header: ifMatch(nil, in.IfMatch)})
}

// UpdateSecret edits description and tags (`write`).
func (c *Client) UpdateSecret(ctx context.Context, id string, in UpdateSecretInput) (Secret, Written, error) {
	return c.secretWrite(ctx, request{method: http.MethodPut, path: secretPath(id), body: in, header: ifMatch(nil, in.IfMatch)})
}

// RollbackSecret adds a version whose value is version's, server-side
// (`rotate`, not `reveal`). A destroyed version is CodeGone.
func (c *Client) RollbackSecret(ctx context.Context, id string, version int64, ifMatchVersion *int64) (Secret, Written, error) {
	return c.secretWrite(ctx, request{method: http.MethodPost, path: secretPath(id) + "/rollback",
		body: map[string]int64{"version": version}, header: ifMatch(nil, ifMatchVersion)})
}

// DeleteSecret soft-deletes a secret (`delete`).
func (c *Client) DeleteSecret(ctx context.Context, id string) (Written, error) {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: secretPath(id)})
	if err != nil {
		return Written{}, err
	}
	return written(resp), nil
}

// RestoreSecret undoes a delete (`delete`).
func (c *Client) RestoreSecret(ctx context.Context, id string) (Secret, Written, error) {
	return c.secretWrite(ctx, request{method: http.MethodPost, path: secretPath(id) + "/restore"})
}

// DestroySecretVersion destroys a version for good (`destroy`).
func (c *Client) DestroySecretVersion(ctx context.Context, id string, version int64) (Written, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: secretPath(id) + "/versions/" + strconv.FormatInt(version, 10) + "/destroy"})
	if err != nil {
		return Written{}, err
	}
	return written(resp), nil
}

// SecretVersions lists a secret's versions, now or at an instant.
func (c *Client) SecretVersions(ctx context.Context, id string, at ...At) ([]SecretVersion, error) {
	var out struct {
		Items []SecretVersion `json:"items"`
	}
	_, err := c.call(ctx, atRequest(http.MethodGet, secretPath(id)+"/versions", firstAt(at)), &out)
	return out.Items, err
}

// HistoryOptions page a secret's timeline; At bounds it.
type HistoryOptions struct {
	Limit  int
	Cursor string
	At     At
}

// SecretHistory is one page of a secret's timeline, oldest first.
func (c *Client) SecretHistory(ctx context.Context, id string, o HistoryOptions) (HistoryPage, error) {
	req := atRequest(http.MethodGet, secretPath(id)+"/history", o.At)
	setNonEmpty(req.query, "cursor", o.Cursor)
	if o.Limit > 0 {
		req.query.Set("limit", strconv.Itoa(o.Limit))
	}
	var p HistoryPage
	_, err := c.call(ctx, req, &p)
	return p, err
}

// DiffSecret says what changed between from and to, each an RFC 3339 time
// or a log position; to "" is now.
func (c *Client) DiffSecret(ctx context.Context, id, from, to string) (SecretDiff, error) {
	req := request{method: http.MethodGet, path: secretPath(id) + "/diff", query: url.Values{"from": {from}}}
	setNonEmpty(req.query, "to", to)
	var d SecretDiff
	_, err := c.call(ctx, req, &d)
	return d, err
}
