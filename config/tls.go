package config

import (
	"net"
	"net/netip"
	"strings"
)

// checkTLS refuses half a TLS configuration, and, in production, plain
// HTTP on an address other hosts can reach unless VAULT_TLS_DISABLE says a
// proxy in front terminates TLS: bearer tokens and revealed secrets would
// otherwise cross the network in clear.
func (c *Config) checkTLS(p *parser) {
	switch {
	case c.TLSCertFile != "" && c.TLSKeyFile == "":
		p.fail(EnvTLSKey, "is required with %s", EnvTLSCert)
	case c.TLSKeyFile != "" && c.TLSCertFile == "":
		p.fail(EnvTLSCert, "is required with %s", EnvTLSKey)
	}
	if c.TLSClientCAFile != "" && c.TLSCertFile == "" {
		p.fail(EnvTLSClientCA, "needs %s and %s: client certificates are checked in the TLS handshake", EnvTLSCert, EnvTLSKey)
	}
	if c.TLSDisable && c.TLSCertFile != "" {
		p.fail(EnvTLSDisable, "is true but %s is set: choose one", EnvTLSCert)
	}
	if c.Mode != ModeProduction || c.TLS() || c.TLSDisable {
		return
	}
	for _, l := range []struct{ name, addr string }{{EnvListenAddr, c.ListenAddr}, {EnvMetricsAddr, c.MetricsAddr}} {
		if l.addr != "" && !loopback(l.addr) {
			p.fail(EnvTLSCert, "is required in production to listen on %s (%s): set %s and %s, or %s=true when a proxy in front terminates TLS",
				l.addr, l.name, EnvTLSCert, EnvTLSKey, EnvTLSDisable)
		}
	}
}

// loopback reports whether addr (host:port) can only be reached from this
// host: a loopback IP or "localhost". An empty host means every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
