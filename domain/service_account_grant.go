package domain

import (
	"net/netip"
	"slices"
	"time"
)

// The client-credentials grant's side of a service account: whether a
// credential may buy a token now, from this address, and whether a token
// it bought is still good.

// Reasons a token request for a known credential is refused.
const (
	ClientRefusedSecret   = "bad_secret"
	ClientRefusedExpired  = "expired"
	ClientRefusedAddress  = "address_not_allowed"
	ClientRefusedDisabled = "account_disabled"
)

// GrantCredential is what the token endpoint checks a secret against:
// the credential's current secret and its key.
type GrantCredential struct {
	ID         string
	SecretID   string
	KeyVersion int64
	MAC        []byte
	ExpiresAt  time.Time
}

// CredentialForGrant finds the credential of a client id for the
// client-credentials grant. A deleted account or an unknown credential is
// ENOTFOUND (invalid_client); a refusal that depends on the request (the
// account disabled, the credential expired, the address outside its
// networks) is returned as a reason for the audit record, with the
// credential.
func (a *ServiceAccount) CredentialForGrant(credentialID, clientIP string, now time.Time) (GrantCredential, string, error) {
	if err := a.live(); err != nil {
		return GrantCredential{}, "", err
	}
	c := a.credential(credentialID)
	if c == nil {
		return GrantCredential{}, "", Errorf(ENOTFOUND, "credential not found")
	}
	g := GrantCredential{ID: c.ID, SecretID: c.SecretID, KeyVersion: c.KeyVersion, MAC: slices.Clone(c.SealedMAC), ExpiresAt: c.ExpiresAt}
	switch {
	case a.state.Disabled:
		return g, ClientRefusedDisabled, nil
	case !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt):
		return g, ClientRefusedExpired, nil
	case !addressAllowed(c.AllowedCIDRs, clientIP):
		return g, ClientRefusedAddress, nil
	}
	return g, "", nil
}

func addressAllowed(cidrs []string, clientIP string) bool {
	if len(cidrs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, s := range cidrs {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// AcceptsToken reports whether a token naming secretID may act for the
// account at now, for a request from clientIP: the account is live and
// enabled, and a credential whose current secret is secretID exists, has
// not expired, and allows the address (its networks bind every request
// made with its tokens, not only the grant, so a token carried off the
// allowed networks is refused there). Rotating or revoking the credential,
// or disabling or deleting the account, makes it false from the next fold
// on.
func (a *ServiceAccount) AcceptsToken(secretID, clientIP string, now time.Time) bool {
	if a.live() != nil || a.state.Disabled {
		return false
	}
	for _, c := range a.state.Credentials {
		if c.SecretID == secretID {
			return (c.ExpiresAt.IsZero() || now.Before(c.ExpiresAt)) && addressAllowed(c.AllowedCIDRs, clientIP)
		}
	}
	return false
}
