package authtoken

import (
	"errors"
	"time"
)

// TypeClient is the token type of the client-credentials grant: an access
// token whose subject is a service account and whose sid names the
// credential's current secret (not a session), so rotating or revoking the
// credential ends it. A user access token can never pass for one, nor the
// reverse, since each verifier demands its own type.
const TypeClient = "client"

// IssueClient signs an access token for service account accountID bought
// with the secret secretID, valid for ttl.
func (m *Manager) IssueClient(accountID, secretID string, ttl time.Duration) (Token, error) {
	if ttl <= 0 {
		return Token{}, errors.New("authtoken: client token TTL must be positive")
	}
	return m.issue(accountID, secretID, TypeClient, ttl)
}

// VerifyClient checks a client-credentials access token. Whether its
// account and secret are still in force is the caller's next check.
func (m *Manager) VerifyClient(raw string) (Claims, error) { return m.verify(raw, TypeClient) }
