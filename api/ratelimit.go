package api

import "net/netip"

// limiterKey groups IPv6 clients by /64, the block one subscriber usually
// holds, so rotating addresses within it does not multiply the allowance.
func limiterKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}
