package commands

import (
	"context"
	"time"

	"github.com/securevault/vault/domain"
)

// CreateCredentialInput is a new client credential. ExpiresAt nil means it
// never expires; AllowedCIDRs empty means any address.
type CreateCredentialInput struct {
	Name         string
	ExpiresAt    *time.Time
	AllowedCIDRs []string
}

// IssuedCredential is a credential with its secret, answered once by the
// command that made or rotated it and never again. ClientSecret is a
// bearer credential: it goes to the caller and nowhere else.
type IssuedCredential struct {
	Credential   domain.ClientCredentialSummary
	ClientSecret string
}

// String keeps the secret out of fmt output.
func (c IssuedCredential) String() string { return "credential " + c.Credential.ID }

// GoString keeps the secret out of %#v output.
func (c IssuedCredential) GoString() string { return c.String() }

// CreateClientCredential needs `admin` on service-accounts/<name> and that
// the caller covers every permission the account holds (or escalate
// there): whoever holds the secret acts as the account. The client id is
// claimed in the same atomic append, with "no stream".
func (id *Identity) CreateClientCredential(ctx context.Context, caller domain.Caller, accountID string, in CreateCredentialInput) (IssuedCredential, Written, error) {
	if in.ExpiresAt != nil && in.ExpiresAt.IsZero() {
		return IssuedCredential{}, Written{}, domain.Errorf(domain.EINVALID, "expires_at must be in the future")
	}
	for attempt := 0; ; attempt++ {
		a, err := id.authorizeMint(ctx, caller, accountID, "create a credential for")
		if err != nil {
			return IssuedCredential{}, Written{}, err
		}
		credentialID, clientID := domain.NewID(), newClientID()
		sealed, text, err := id.mintClientSecret(ctx, a.ID(), a.NextKeyVersion())
		if err != nil {
			return IssuedCredential{}, Written{}, err
		}
		cin := domain.CredentialInput{ID: credentialID, Name: in.Name, ClientID: clientID, AllowedCIDRs: in.AllowedCIDRs}
		if in.ExpiresAt != nil {
			cin.ExpiresAt = *in.ExpiresAt
		}
		if cin.AllowedCIDRs == nil {
			cin.AllowedCIDRs = []string{}
		}
		if err := a.AddCredential(cin, sealed, id.now()); err != nil {
			// The key stays: the account's next secret adopts it.
			return IssuedCredential{}, Written{}, err
		}
		md := caller.Metadata()
		w, err := id.svc.appendEvents(ctx, a.StreamAppend(md), domain.NewClientIDAssignment(clientID, a.ID(), credentialID, md))
		if domain.ErrorCode(err) == domain.ECONFLICT && attempt < identityRetries {
			continue // the key version is adopted again or superseded
		}
		if err != nil {
			return IssuedCredential{}, Written{}, err
		}
		c, _ := a.Credential(credentialID)
		return IssuedCredential{Credential: c, ClientSecret: text}, w, nil
	}
}

// authorizeMint loads the account and allows handing out a way to act as
// it: `admin` on it and covering all it holds.
func (id *Identity) authorizeMint(ctx context.Context, caller domain.Caller, accountID, what string) (*domain.ServiceAccount, error) {
	a, err := id.loadServiceAccount(ctx, accountID)
	if err != nil {
		return nil, err
	}
	target := domain.ServiceAccountResource(a.Name())
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, target); err != nil {
		return nil, err
	}
	if err := id.authorizeHeld(ctx, caller, target, a.RoleIDs(), what); err != nil {
		return nil, err
	}
	return a, nil
}
