package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parser reads variables and collects errors, each naming its variable.
type parser struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

// weak is an error in production and a loud warning in dev mode.
func (p *parser) weak(mode Mode, logger *slog.Logger, name, problem string) {
	if mode == ModeProduction {
		p.fail(name, "%s", problem)
		return
	}
	logger.Warn("DEV MODE: weak key accepted; production would refuse it", "variable", name, "problem", problem)
}

func (p *parser) err() error { return errors.Join(p.errs...) }

// str returns the variable's value, or its documented default when unset
// or blank.
func (p *parser) str(name string) string {
	if v, ok := p.lookup(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return defaultOf(name)
}

func (p *parser) duration(name string) time.Duration {
	raw := p.str(name)
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.fail(name, "must be a positive duration like 500ms, 5s or 15m, got %q", raw)
		return 0
	}
	return d
}

func (p *parser) int(name string, minimum int) int {
	raw := p.str(name)
	n, err := strconv.Atoi(raw)
	if err != nil || n < minimum {
		p.fail(name, "must be an integer of at least %d, got %q", minimum, raw)
		return 0
	}
	return n
}

func (p *parser) float(name string) float64 {
	raw := p.str(name)
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f < 0 || f != f {
		p.fail(name, "must be a non-negative number, got %q", raw)
		return 0
	}
	return f
}

func (p *parser) bool(name string) bool {
	raw := p.str(name)
	b, err := strconv.ParseBool(raw)
	if err != nil {
		p.fail(name, "must be true or false, got %q", raw)
		return false
	}
	return b
}

func (p *parser) logLevel(name string) slog.Level {
	raw := p.str(name)
	var l slog.Level
	if err := l.UnmarshalText([]byte(raw)); err != nil {
		p.fail(name, "must be debug, info, warn or error, got %q", raw)
	}
	return l
}

// prefixes parses a comma-separated list of CIDRs or bare addresses.
func (p *parser) prefixes(name string) []netip.Prefix {
	raw := p.str(name)
	var out []netip.Prefix
	for _, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(item); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			p.fail(name, "must be comma-separated CIDRs or IP addresses; %q is neither", item)
			continue
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out
}
