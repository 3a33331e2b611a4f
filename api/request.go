package api

import (
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/securevault/vault/domain"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

const (
	maxRequestIDLen = 128
	maxUserAgentLen = 512
	unmatchedRoute  = "unmatched"
)

type requestInfoKey struct{}
type actorKey struct{}

// requestInfo is what the middleware learns about a request before any
// handler runs; command handlers stamp it into event metadata.
type requestInfo struct {
	ID        string
	ClientIP  netip.Addr
	UserAgent string
	// route is filled in by the router once it has matched (recordRoute),
	// so the path is matched once per request, not once more for the label.
	route *string
}

// Route is the matched path template, or "unmatched"; never the raw path,
// which is unbounded and may carry names a log should not hold.
func (i requestInfo) Route() string {
	if i.route == nil || *i.route == "" {
		return unmatchedRoute
	}
	return *i.route
}

// labelWith records route's documented template as the request's route
// label; a nil route, or one without a path template, leaves it unmatched.
func (i requestInfo) labelWith(route *mux.Route) {
	if i.route == nil || route == nil {
		return
	}
	if tpl, err := route.GetPathTemplate(); err == nil {
		*i.route = DocumentedPath(tpl)
	}
}

type actor struct{ id, name string }

func requestInfoFrom(ctx context.Context) requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return info
}

// RequestIDFrom returns the id of the request ctx belongs to, or "".
func RequestIDFrom(ctx context.Context) string { return requestInfoFrom(ctx).ID }

// ClientIPFrom returns the client address after the trusted-proxy rules.
func ClientIPFrom(ctx context.Context) netip.Addr { return requestInfoFrom(ctx).ClientIP }

// WithActor records the authenticated principal; the authentication
// middleware calls it so MetadataFrom can name who acted.
func WithActor(ctx context.Context, id, name string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor{id: id, name: name})
}

// MetadataFrom builds the event metadata for a command issued by the request
// ctx belongs to. The request id doubles as the correlation id, so every
// event a request causes can be found from one log line. Commands set
// CausationID per event.
func MetadataFrom(ctx context.Context) domain.Metadata {
	info := requestInfoFrom(ctx)
	md := domain.Metadata{
		UserAgent:     info.UserAgent,
		RequestID:     info.ID,
		CorrelationID: info.ID,
	}
	if info.ClientIP.IsValid() {
		md.ClientIP = info.ClientIP.String()
	}
	if a, ok := ctx.Value(actorKey{}).(actor); ok {
		md.Actor, md.ActorName = a.id, a.name
	}
	return md
}

// requestContext attaches requestInfo and echoes the request id.
func (s *Server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := requestInfo{
			ID:        requestID(r.Header.Get(HeaderRequestID)),
			ClientIP:  clientIP(r, s.cfg.TrustedProxies),
			UserAgent: cleanUserAgent(r.UserAgent()),
			route:     new(string),
		}
		w.Header().Set(HeaderRequestID, info.ID)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
	})
}

// requestID keeps a caller's id when it is short and made of safe
// characters, so it can be correlated across services without letting a
// client inject log lines; otherwise it makes a fresh one.
func requestID(incoming string) string {
	if validRequestID(incoming) {
		return incoming
	}
	return rand.Text()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func cleanUserAgent(ua string) string {
	if len(ua) > maxUserAgentLen {
		ua = ua[:maxUserAgentLen]
	}
	if !utf8.ValidString(ua) {
		ua = strings.ToValidUTF8(ua, "\uFFFD")
	}
	return ua
}

// clientIP returns the peer address, unless the peer is a trusted proxy: then
// X-Forwarded-For is walked from the right (the hop the proxy appended) past
// every trusted proxy, and the first address not trusted is the client. The
// left part of the header is client-controlled, so it is never taken on
// trust; a malformed hop stops the walk at the last proxy reached.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	current := peer
	for i := len(hops) - 1; i >= 0 && isTrusted(current, trusted); i-- {
		hop := parseAddr(strings.TrimSpace(hops[i]))
		if !hop.IsValid() {
			break
		}
		current = hop
	}
	return current
}

// parseAddr accepts "ip", "ip:port" and "[ipv6]:port". An IPv6 zone is
// dropped: it is any text a client behind a proxy cares to write
// ("fe80::1%<anything>"), and it means nothing off the sender's host.
func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, serr := net.SplitHostPort(s)
		if serr != nil {
			return netip.Addr{}
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}
		}
	}
	return a.WithZone("").Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
