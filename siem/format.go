package siem

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/securevault/vault/domain"
)

// Format names accepted by NewFormatter.
const (
	FormatECS    = "ecs"
	FormatCEF    = "cef"
	FormatSyslog = "syslog"
)

// Formatter renders one event as one record, without framing: the sink
// decides how records are delimited on its transport.
type Formatter interface {
	Format(e Event) ([]byte, error)
	// Name is the format's name (ecs, cef, syslog).
	Name() string
}

// FormatOptions tunes the formatters. Zero values take the defaults.
type FormatOptions struct {
	// ProductVersion fills CEF's Device Version (default "1").
	ProductVersion string
	// Hostname fills syslog's HOSTNAME (default: this machine's name).
	Hostname string
	// AppName fills syslog's APP-NAME (default "securevault").
	AppName string
	// Facility is the syslog facility (default 10, authpriv: the facility
	// meant for security messages that only privileged users may read).
	Facility int
	// SDID names the syslog structured-data element. Private SD-IDs take the
	// form name@<enterprise number>; the default uses 32473, the number
	// RFC 5612 reserves for documentation, until an operator sets their own.
	SDID string
}

const (
	defaultAppName  = "securevault"
	defaultFacility = 10
	defaultSDID     = "vault@32473"
	ecsVersion      = "8.11.0"
)

// NewFormatter returns the formatter called name.
func NewFormatter(name string, opts FormatOptions) (Formatter, error) {
	if opts.ProductVersion == "" {
		opts.ProductVersion = "1"
	}
	if opts.AppName == "" {
		opts.AppName = defaultAppName
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	if opts.Facility == 0 {
		opts.Facility = defaultFacility
	}
	if opts.Facility < 0 || opts.Facility > 23 {
		return nil, domain.Errorf(domain.EINVALID, "syslog facility %d is not between 0 and 23", opts.Facility)
	}
	if opts.SDID == "" {
		opts.SDID = defaultSDID
	}
	if !validSDName(opts.SDID) {
		return nil, domain.Errorf(domain.EINVALID, "syslog structured-data id %q is not valid (1-32 printable characters, no space, '=', ']' or '\"')", opts.SDID)
	}
	switch name {
	case FormatECS:
		return ecsFormatter{}, nil
	case FormatCEF:
		return cefFormatter{version: opts.ProductVersion}, nil
	case FormatSyslog:
		return syslogFormatter{opts: opts}, nil
	}
	return nil, domain.Errorf(domain.EINVALID, "unknown SIEM format %q (want ecs, cef or syslog)", name)
}

// --- Elastic Common Schema -------------------------------------------------

type ecsFormatter struct{}

func (ecsFormatter) Name() string { return FormatECS }

// ecsDoc is one ECS document. Struct fields (not a map) keep the output's
// key order stable, which golden tests and humans reading a tail rely on.
type ecsDoc struct {
	Timestamp string            `json:"@timestamp"`
	ECS       ecsVersionField   `json:"ecs"`
	Event     ecsEvent          `json:"event"`
	User      *ecsUser          `json:"user,omitempty"`
	Source    *ecsSource        `json:"source,omitempty"`
	UserAgent *ecsUserAgent     `json:"user_agent,omitempty"`
	HTTP      *ecsHTTP          `json:"http,omitempty"`
	Service   ecsService        `json:"service"`
	Labels    map[string]string `json:"labels,omitempty"`
	Vault     ecsVault          `json:"vault"`
}

type ecsVersionField struct {
	Version string `json:"version"`
}

type ecsEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome"`
	ID       string   `json:"id"`
	Sequence int64    `json:"sequence"`
	Severity int      `json:"severity"`
	Provider string   `json:"provider"`
	Dataset  string   `json:"dataset"`
}

type ecsUser struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type ecsSource struct {
	IP string `json:"ip"`
}

type ecsUserAgent struct {
	Original string `json:"original"`
}

type ecsHTTP struct {
	Request ecsHTTPRequest `json:"request"`
}

type ecsHTTPRequest struct {
	ID string `json:"id"`
}

type ecsService struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ecsVault is the custom field set: ECS reserves unknown top-level names
// for the producer, so the vault's own facts live under "vault".
type ecsVault struct {
	StreamID      string          `json:"stream_id"`
	StreamVersion int64           `json:"stream_version"`
	Aggregate     string          `json:"aggregate"`
	SchemaVersion int             `json:"schema_version"`
	Data          json.RawMessage `json:"data"`
}

func (ecsFormatter) Format(e Event) ([]byte, error) {
	m := e.meaning()
	doc := ecsDoc{
		Timestamp: e.RecordedAt.UTC().Format(time.RFC3339Nano),
		ECS:       ecsVersionField{Version: ecsVersion},
		Event: ecsEvent{
			Kind:     "event",
			Category: m.ECSCategory,
			Type:     m.ECSType,
			Action:   e.Type,
			Outcome:  e.Outcome(),
			ID:       e.EventID,
			Sequence: e.Position,
			Severity: e.cefSeverity(),
			Provider: defaultAppName,
			Dataset:  "securevault.events",
		},
		Service: ecsService{Name: defaultAppName, Type: "vault"},
		Vault: ecsVault{
			StreamID:      e.StreamID,
			StreamVersion: e.Version,
			Aggregate:     e.Aggregate(),
			SchemaVersion: e.SchemaVersion,
			Data:          e.Data,
		},
	}
	md := e.Metadata
	if md.Actor != "" || md.ActorName != "" {
		doc.User = &ecsUser{ID: md.Actor, Name: md.ActorName}
	}
	labels := map[string]string{}
	if ip, ok := parseIP(md.ClientIP); ok {
		doc.Source = &ecsSource{IP: ip.String()}
	} else if md.ClientIP != "" {
		// source.ip is an ip field: a value that does not parse would make
		// Elasticsearch reject the whole document.
		labels["client_ip"] = md.ClientIP
	}
	if md.UserAgent != "" {
		doc.UserAgent = &ecsUserAgent{Original: md.UserAgent}
	}
	if md.RequestID != "" {
		doc.HTTP = &ecsHTTP{Request: ecsHTTPRequest{ID: md.RequestID}}
	}
	if md.CorrelationID != "" {
		labels["correlation_id"] = md.CorrelationID
	}
	if md.CausationID != "" {
		labels["causation_id"] = md.CausationID
	}
	if len(labels) > 0 {
		doc.Labels = labels
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("ecs: event at position %d: %w", e.Position, err)
	}
	return b, nil
}

// --- CEF -------------------------------------------------------------------

type cefFormatter struct{ version string }

func (cefFormatter) Name() string { return FormatCEF }

func (e Event) cefSeverity() int {
	switch e.meaning().Severity {
	case domain.SeverityCritical:
		return 9
	case domain.SeverityWarning:
		return 7
	case domain.SeverityNotice:
		return 5
	}
	return 3
}

// Format writes CEF:Version|Device Vendor|Device Product|Device Version|
// Device Event Class ID|Name|Severity|Extension.
func (f cefFormatter) Format(e Event) ([]byte, error) {
	var b strings.Builder
	b.WriteString("CEF:0|SecureVault|vault|")
	b.WriteString(cefHeader(f.version))
	b.WriteByte('|')
	b.WriteString(cefHeader(e.Type))
	b.WriteByte('|')
	b.WriteString(cefHeader(e.Name()))
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(e.cefSeverity()))
	b.WriteByte('|')

	md := e.Metadata
	ext := []struct{ key, value string }{
		{"rt", strconv.FormatInt(e.RecordedAt.UnixMilli(), 10)},
		{"externalId", e.EventID},
		{"act", e.Type},
		{"outcome", e.Outcome()},
		{"suid", md.Actor},
		{"suser", md.ActorName},
	}
	if ip, ok := parseIP(md.ClientIP); ok && ip.Is4() {
		ext = append(ext, struct{ key, value string }{"src", ip.String()})
	} else if ok {
		ext = append(ext, struct{ key, value string }{"c6a2", ip.String()}, struct{ key, value string }{"c6a2Label", "Source IPv6 Address"})
	}
	ext = append(ext, []struct{ key, value string }{
		{"requestClientApplication", md.UserAgent},
		{"cn1", strconv.FormatInt(e.Position, 10)}, {"cn1Label", "position"},
		{"cs1", md.RequestID}, {"cs1Label", "requestId"},
		{"cs2", e.StreamID}, {"cs2Label", "streamId"},
		{"cs3", md.CorrelationID}, {"cs3Label", "correlationId"},
		{"cs4", string(e.Data)}, {"cs4Label", "data"},
	}...)
	first := true
	for i := 0; i < len(ext); i++ {
		kv := ext[i]
		if kv.value == "" {
			// A label without its value would be noise; skip both.
			if i+1 < len(ext) && ext[i+1].key == kv.key+"Label" {
				i++
			}
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(kv.key)
		b.WriteByte('=')
		b.WriteString(cefExtension(kv.value))
	}
	return []byte(b.String()), nil
}

// cefHeader escapes a header field: pipes and backslashes are escaped, and
// line breaks, which the header may not contain, become spaces.
var cefHeaderEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ")

func cefHeader(s string) string { return cefHeaderEscaper.Replace(s) }

// cefExtension escapes an extension value: backslash, equals sign and line
// breaks (as \n and \r). Pipes need no escape in the extension.
var cefExtEscaper = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r\n", `\r\n`, "\n", `\n`, "\r", `\r`)

func cefExtension(s string) string { return cefExtEscaper.Replace(s) }

// --- RFC 5424 syslog -------------------------------------------------------

type syslogFormatter struct{ opts FormatOptions }

func (syslogFormatter) Name() string { return FormatSyslog }

func (e Event) syslogSeverity() int {
	switch e.meaning().Severity {
	case domain.SeverityCritical:
		return 2
	case domain.SeverityWarning:
		return 4
	case domain.SeverityNotice:
		return 5
	}
	return 6
}

// Format writes <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG.
// MSG is the event's redacted data as compact JSON; it carries no BOM, so it
// is MSG-ANY in RFC 5424's terms, which every receiver accepts.
func (f syslogFormatter) Format(e Event) ([]byte, error) {
	var b strings.Builder
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(f.opts.Facility*8 + e.syslogSeverity()))
	b.WriteString(">1 ")
	// RFC 5424 allows at most six fractional digits.
	b.WriteString(e.RecordedAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	b.WriteByte(' ')
	b.WriteString(headerField(f.opts.Hostname, 255))
	b.WriteByte(' ')
	b.WriteString(headerField(f.opts.AppName, 48))
	b.WriteString(" - ")
	b.WriteString(headerField(e.Type, 32))
	b.WriteString(" [")
	b.WriteString(f.opts.SDID)
	md := e.Metadata
	params := []struct{ name, value string }{
		{"position", strconv.FormatInt(e.Position, 10)},
		{"event_id", e.EventID},
		{"stream_id", e.StreamID},
		{"version", strconv.FormatInt(e.Version, 10)},
		{"type", e.Type},
		{"outcome", e.Outcome()},
		{"actor", md.Actor},
		{"actor_name", md.ActorName},
		{"client_ip", md.ClientIP},
		{"user_agent", md.UserAgent},
		{"request_id", md.RequestID},
		{"correlation_id", md.CorrelationID},
		{"causation_id", md.CausationID},
	}
	for _, p := range params {
		if p.value == "" {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(p.name)
		b.WriteString(`="`)
		b.WriteString(sdValue(p.value))
		b.WriteByte('"')
	}
	b.WriteString("] ")
	b.Write(e.Data)
	return []byte(b.String()), nil
}

// sdValue escapes a PARAM-VALUE: '"', '\' and ']' must be escaped (RFC 5424
// 6.3.3). Line breaks are legal there but would split the record on a
// line-framed transport, so they are written as the two characters \n or
// \r; receivers keep a backslash before any other character as is.
var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`, "\n", `\n`, "\r", `\r`)

func sdValue(s string) string { return sdEscaper.Replace(s) }

// headerField makes s a valid header token: printable US-ASCII without
// spaces, at most n characters, "-" (the nil value) when empty.
func headerField(s string, n int) string {
	out := make([]byte, 0, min(len(s), n))
	for i := 0; i < len(s) && len(out) < n; i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return "-"
	}
	return string(out)
}

func validSDName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' || c == ' ' {
			return false
		}
	}
	return true
}

func parseIP(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
