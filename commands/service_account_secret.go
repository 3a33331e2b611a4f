package commands

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
)

// Client secrets are 32 bytes from crypto/rand, shown once as
// "svs_" + base64url. What the log keeps is a keyed MAC of the secret, not
// a slow password hash: a 256-bit random secret cannot be guessed, so
// Argon2id would add no protection and only make every token request cost
// what a login costs (tens of MiB and milliseconds), turning the token
// endpoint into a lever against the server. The MAC is HMAC-SHA256 under a
// key derived (HKDF) from a data key of its own per account and secret
// version, stored wrapped outside the log like a password's: the log, a
// backup of it or the bus cannot check a guess offline, and deleting the
// account's keys shreds every MAC. It is compared in constant time.

// ClientSecretPrefix marks a client secret, so secret scanners and people
// can tell one from other strings.
const ClientSecretPrefix = "svs_"

const clientSecretBytes = 32

// newClientID returns a fresh public client id: 128 random bits in hex.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newClientSecret returns a fresh secret and its text form; the caller
// zeroes the bytes once it has the MAC.
func newClientSecret() ([]byte, string) {
	b := make([]byte, clientSecretBytes)
	_, _ = rand.Read(b)
	return b, ClientSecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// parseClientSecret reads a secret's text form; anything else is not one.
func parseClientSecret(s string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(s, ClientSecretPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(clientSecretBytes) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != clientSecretBytes {
		return nil, false
	}
	return b, true
}

// clientSecretMAC is the MAC of secret under the data key dk, bound to the
// account and the secret id, so a MAC never verifies for another secret
// generation or account.
func clientSecretMAC(dk []byte, accountID, secretID string, secret []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, dk, nil, "securevault client secret mac v1", 32)
	if err != nil {
		return nil, domain.WrapError(domain.EINTERNAL, "cannot derive the client secret key", err)
	}
	defer envelope.Zero(key)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(accountID))
	m.Write([]byte{0})
	m.Write([]byte(secretID))
	m.Write([]byte{0})
	m.Write(secret)
	return m.Sum(nil), nil
}

// mintClientSecret makes a new secret for account as key version version:
// the data key is stored first (as for a password), then the MAC computed.
// The text form goes to the caller once and nowhere else.
func (id *Identity) mintClientSecret(ctx context.Context, accountID string, version int64) (domain.SealedClientSecret, string, error) {
	dk, err := id.sealer.NewKey(ctx, accountID, version)
	if err != nil {
		return domain.SealedClientSecret{}, "", err
	}
	defer envelope.Zero(dk)
	secret, text := newClientSecret()
	defer envelope.Zero(secret)
	secretID := domain.NewID()
	mac, err := clientSecretMAC(dk, accountID, secretID, secret)
	if err != nil {
		return domain.SealedClientSecret{}, "", err
	}
	return domain.SealedClientSecret{SecretID: secretID, Version: version, MAC: mac}, text, nil
}

// verifyClientSecret checks a presented secret against a credential's MAC.
// A shredded key (the credential was rotated or revoked meanwhile) is a
// mismatch.
func (id *Identity) verifyClientSecret(ctx context.Context, accountID string, g domain.GrantCredential, presented string) (bool, error) {
	secret, ok := parseClientSecret(presented)
	if !ok {
		return false, nil
	}
	defer envelope.Zero(secret)
	dk, err := id.sealer.Key(ctx, accountID, g.KeyVersion)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer envelope.Zero(dk)
	mac, err := clientSecretMAC(dk, accountID, g.SecretID, secret)
	if err != nil {
		return false, err
	}
	return hmac.Equal(mac, g.MAC), nil
}

// shredKeyVersions deletes the data keys of secrets that were replaced or
// revoked once that is stored; a failure leaves a key nothing uses.
func (id *Identity) shredKeyVersions(ctx context.Context, accountID string, versions ...int64) {
	if err := id.sealer.Shred(context.WithoutCancel(ctx), accountID, versions...); err != nil {
		id.svc.logger.WarnContext(ctx, "could not shred a retired client secret key; deleting the account shreds it",
			"service_account_id", accountID, "error", err)
	}
}
