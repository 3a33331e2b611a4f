package domain

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// A service account is a principal that is not a person: it holds roles
// like a user, but has no password, no e-mail and no login. It proves who
// it is with client credentials (OAuth 2.0 client-credentials grant), each
// a public client id and a secret shown once. The secret never reaches the
// domain: the command layer keeps a keyed MAC of it, sealed in the sense
// that it is useless without a data key kept outside the log (see
// commands/service_account_secret.go), and the aggregate only stores that.

// Aggregate names of the service-account streams.
const (
	ServiceAccountAggregate     = "serviceaccount"
	ServiceAccountNameAggregate = "serviceaccountname"
	// ClientIDAggregate maps a client id to its credential
	// (clientid-<client id>), appended once, with "no stream", in the
	// credential's creating append, so a client id is never issued twice.
	ClientIDAggregate = "clientid"
	// ClientTokenAggregate holds the audit record of each token issued to
	// (or refused for) an account's credentials (clienttoken-<account id>),
	// apart from the account's stream, which stays short because every
	// request with such a token folds it.
	ClientTokenAggregate = "clienttoken"
)

// ResourceServiceAccounts is the policy resource type of service accounts:
// service-accounts/<name>.
const ResourceServiceAccounts = "service-accounts"

// ServiceAccountResource names a service account for access checks.
func ServiceAccountResource(name string) string { return ResourceServiceAccounts + "/" + name }

// Service-account event types.
//
//nolint:gosec // G101: event type names, not credentials
const (
	EventServiceAccountCreated       = "ServiceAccountCreated"
	EventServiceAccountUpdated       = "ServiceAccountUpdated"
	EventServiceAccountRolesAssigned = "ServiceAccountRolesAssigned"
	EventServiceAccountDisabled      = "ServiceAccountDisabled"
	EventServiceAccountEnabled       = "ServiceAccountEnabled"
	EventServiceAccountDeleted       = "ServiceAccountDeleted"
	EventClientCredentialCreated     = "ClientCredentialCreated"
	EventClientCredentialRotated     = "ClientCredentialRotated"
	EventClientCredentialRevoked     = "ClientCredentialRevoked"
)

// Limits of one account's credentials.
const (
	MaxClientCredentials  = 10
	MaxCredentialCIDRs    = 32
	ClientSecretMACLength = 32
)

// ServiceAccountCreated starts a service account with its roles.
type ServiceAccountCreated struct {
	ServiceAccountID string   `json:"service_account_id"`
	Name             string   `json:"name"`
	Description      string   `json:"description"`
	RoleIDs          []string `json:"role_ids"`
}

// ServiceAccountUpdated replaces the description.
type ServiceAccountUpdated struct {
	Description string `json:"description"`
}

// ServiceAccountRolesAssigned replaces the account's role set.
type ServiceAccountRolesAssigned struct {
	RoleIDs []string `json:"role_ids"`
}

// ServiceAccountDisabled makes every token of the account fail at once and
// refuses new ones; ServiceAccountEnabled lifts it.
type ServiceAccountDisabled struct{}

// ServiceAccountEnabled lifts ServiceAccountDisabled.
type ServiceAccountEnabled struct{}

// ServiceAccountDeleted is final; the name is released in the same append.
type ServiceAccountDeleted struct{}

// ClientCredentialCreated adds a credential. SecretID names the current
// secret (tokens carry it as their sid, so rotating or revoking ends them);
// SealedSecretMAC is the keyed MAC of the secret under the account's data
// key of KeyVersion, never the secret. ExpiresAt zero means no expiry;
// AllowedCIDRs empty means any address.
type ClientCredentialCreated struct {
	CredentialID    string    `json:"credential_id"`
	Name            string    `json:"name"`
	ClientID        string    `json:"client_id"`
	SecretID        string    `json:"secret_id"`
	KeyVersion      int64     `json:"key_version"`
	SealedSecretMAC []byte    `json:"sealed_secret_mac"`
	CreatedAt       time.Time `json:"created_at"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	AllowedCIDRs    []string  `json:"allowed_cidrs,omitempty"`
}

// ClientCredentialRotated replaces a credential's secret: the old secret
// and every token it bought stop working at once.
type ClientCredentialRotated struct {
	CredentialID    string    `json:"credential_id"`
	SecretID        string    `json:"secret_id"`
	KeyVersion      int64     `json:"key_version"`
	SealedSecretMAC []byte    `json:"sealed_secret_mac"`
	RotatedAt       time.Time `json:"rotated_at"`
}

// ClientCredentialRevoked removes a credential; its tokens fail at once.
type ClientCredentialRevoked struct {
	CredentialID string `json:"credential_id"`
	KeyVersion   int64  `json:"key_version"`
}

// SealedClientSecret is a secret's keyed MAC under the data key of Version.
type SealedClientSecret struct {
	SecretID string
	Version  int64
	MAC      []byte
}

func (s SealedClientSecret) check() error {
	if err := ValidateID("secret id", s.SecretID); err != nil {
		return err
	}
	if s.Version < 1 {
		return Errorf(EINVALID, "key version must be positive")
	}
	if len(s.MAC) != ClientSecretMACLength {
		return Errorf(EINVALID, "sealed client secret is malformed")
	}
	return nil
}

type credentialState struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	ClientID     string    `json:"client_id"`
	SecretID     string    `json:"secret_id"`
	KeyVersion   int64     `json:"key_version"`
	SealedMAC    []byte    `json:"sealed_mac"`
	CreatedAt    time.Time `json:"created_at"`
	RotatedAt    time.Time `json:"rotated_at,omitzero"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	AllowedCIDRs []string  `json:"allowed_cidrs,omitempty"`
}

type serviceAccountState struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	RoleIDs     []string `json:"role_ids"`
	Disabled    bool     `json:"disabled"`
	Deleted     bool     `json:"deleted"`
	// KeyVersion is the last data key version taken by a secret.
	KeyVersion  int64             `json:"key_version"`
	Credentials []credentialState `json:"credentials"`
}

// ServiceAccount is the service-account aggregate (stream
// serviceaccount-<id>).
type ServiceAccount struct {
	AggregateRoot
	state serviceAccountState
}

const serviceAccountSnapshotLayout = 1

var serviceAccountRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[ServiceAccountCreated](r, EventServiceAccountCreated, 1)
	Register[ServiceAccountUpdated](r, EventServiceAccountUpdated, 1)
	Register[ServiceAccountRolesAssigned](r, EventServiceAccountRolesAssigned, 1)
	Register[ServiceAccountDisabled](r, EventServiceAccountDisabled, 1)
	Register[ServiceAccountEnabled](r, EventServiceAccountEnabled, 1)
	Register[ServiceAccountDeleted](r, EventServiceAccountDeleted, 1)
	Register[ClientCredentialCreated](r, EventClientCredentialCreated, 1)
	Register[ClientCredentialRotated](r, EventClientCredentialRotated, 1)
	Register[ClientCredentialRevoked](r, EventClientCredentialRevoked, 1)
	return r
})

// ServiceAccountEvents is the registry of service-account stream events.
func ServiceAccountEvents() *Registry { return serviceAccountRegistry() }

func (a *ServiceAccount) registry() *Registry { return serviceAccountRegistry() }
func (a *ServiceAccount) snapshotState() any  { return &a.state }

func (a *ServiceAccount) apply(payload any) {
	switch e := payload.(type) {
	case ServiceAccountCreated:
		a.state = serviceAccountState{Name: e.Name, Description: e.Description, RoleIDs: slices.Clone(e.RoleIDs), Credentials: []credentialState{}}
	case ServiceAccountUpdated:
		a.state.Description = e.Description
	case ServiceAccountRolesAssigned:
		a.state.RoleIDs = slices.Clone(e.RoleIDs)
	case ServiceAccountDisabled:
		a.state.Disabled = true
	case ServiceAccountEnabled:
		a.state.Disabled = false
	case ServiceAccountDeleted:
		a.state.Deleted = true
		a.state.Credentials = []credentialState{}
	case ClientCredentialCreated:
		a.state.KeyVersion = max(a.state.KeyVersion, e.KeyVersion)
		a.state.Credentials = append(a.state.Credentials, credentialState{
			ID: e.CredentialID, Name: e.Name, ClientID: e.ClientID, SecretID: e.SecretID, KeyVersion: e.KeyVersion,
			SealedMAC: slices.Clone(e.SealedSecretMAC), CreatedAt: e.CreatedAt, ExpiresAt: e.ExpiresAt,
			AllowedCIDRs: slices.Clone(e.AllowedCIDRs),
		})
	case ClientCredentialRotated:
		a.state.KeyVersion = max(a.state.KeyVersion, e.KeyVersion)
		if c := a.credential(e.CredentialID); c != nil {
			c.SecretID, c.KeyVersion, c.SealedMAC, c.RotatedAt = e.SecretID, e.KeyVersion, slices.Clone(e.SealedSecretMAC), e.RotatedAt
		}
	case ClientCredentialRevoked:
		a.state.Credentials = slices.DeleteFunc(a.state.Credentials, func(c credentialState) bool { return c.ID == e.CredentialID })
	}
}

func (a *ServiceAccount) credential(id string) *credentialState {
	for i := range a.state.Credentials {
		if a.state.Credentials[i].ID == id {
			return &a.state.Credentials[i]
		}
	}
	return nil
}

// NewServiceAccount creates a service account. Whether each role exists,
// and whether the caller may hand them out, is the command layer's check.
func NewServiceAccount(id, name, description string, roleIDs []string) (*ServiceAccount, error) {
	if err := ValidateID("service account id", id); err != nil {
		return nil, err
	}
	n, err := NormalizeName("service account", name)
	if err != nil {
		return nil, err
	}
	d, err := checkDescription(description)
	if err != nil {
		return nil, err
	}
	ids, err := normalizeIDs("role id", roleIDs)
	if err != nil {
		return nil, err
	}
	a := &ServiceAccount{}
	a.setStream(ServiceAccountAggregate, id)
	if err := record(a, ServiceAccountCreated{ServiceAccountID: id, Name: n, Description: d, RoleIDs: ids}); err != nil {
		return nil, err
	}
	return a, nil
}

// LoadServiceAccount folds a service-account stream.
func LoadServiceAccount(events []RecordedEvent) (*ServiceAccount, error) {
	a := &ServiceAccount{}
	if err := fold(a, ServiceAccountAggregate, events); err != nil {
		return nil, err
	}
	if a.Version() == 0 {
		return nil, Errorf(ENOTFOUND, "service account not found")
	}
	return a, nil
}

// RestoreServiceAccount loads an account from a snapshot plus later events.
func RestoreServiceAccount(snap []byte, version int64, rest []RecordedEvent) (*ServiceAccount, error) {
	a := &ServiceAccount{}
	if err := restore(a, ServiceAccountAggregate, serviceAccountSnapshotLayout, snap, version, rest); err != nil {
		return nil, err
	}
	return a, nil
}

// Snapshot serialises the account at its loaded version.
func (a *ServiceAccount) Snapshot() ([]byte, int64, error) {
	return snapshot(a, serviceAccountSnapshotLayout)
}

func (a *ServiceAccount) live() error {
	if a.Version() == 0 || a.state.Deleted {
		return Errorf(ENOTFOUND, "service account not found")
	}
	return nil
}

// UpdateDescription replaces the description; an unchanged one records
// nothing.
func (a *ServiceAccount) UpdateDescription(description string) error {
	if err := a.live(); err != nil {
		return err
	}
	d, err := checkDescription(description)
	if err != nil {
		return err
	}
	if d == a.state.Description {
		return nil
	}
	return record(a, ServiceAccountUpdated{Description: d})
}

// AssignRoles replaces the account's roles.
func (a *ServiceAccount) AssignRoles(roleIDs []string) error {
	if err := a.live(); err != nil {
		return err
	}
	ids, err := normalizeIDs("role id", roleIDs)
	if err != nil {
		return err
	}
	if slices.Equal(ids, a.state.RoleIDs) {
		return nil
	}
	return record(a, ServiceAccountRolesAssigned{RoleIDs: ids})
}

// SetDisabled disables or enables the account.
func (a *ServiceAccount) SetDisabled(disabled bool) error {
	if err := a.live(); err != nil {
		return err
	}
	if disabled == a.state.Disabled {
		return nil
	}
	if disabled {
		return record(a, ServiceAccountDisabled{})
	}
	return record(a, ServiceAccountEnabled{})
}

// Delete ends the account and every credential with it.
func (a *ServiceAccount) Delete() error {
	if err := a.live(); err != nil {
		return err
	}
	return record(a, ServiceAccountDeleted{})
}

// NextKeyVersion is the data key version the next secret must be sealed
// as: each secret has its own data key.
func (a *ServiceAccount) NextKeyVersion() int64 { return a.state.KeyVersion + 1 }

// CredentialInput is a new credential as the domain checks it.
type CredentialInput struct {
	ID           string
	Name         string
	ClientID     string
	ExpiresAt    time.Time
	AllowedCIDRs []string
}

// NormalizeClientCIDRs checks a credential's allowed networks and returns
// them canonical (masked), sorted and without duplicates. A bare address is
// its own /32 or /128.
func NormalizeClientCIDRs(in []string) ([]string, error) {
	if len(in) > MaxCredentialCIDRs {
		return nil, Errorf(EINVALID, "a credential allows at most %d networks", MaxCredentialCIDRs)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, Errorf(EINVALID, "allowed_cidrs: %q is not a network in CIDR notation", truncate(s, 64))
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		c := p.Masked().String()
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// IsClientID reports whether s has the shape of a client id: 32 lowercase
// hex digits (128 random bits).
func IsClientID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// AddCredential records a new credential with its first secret, sealed as
// NextKeyVersion.
func (a *ServiceAccount) AddCredential(in CredentialInput, secret SealedClientSecret, now time.Time) error {
	if err := a.live(); err != nil {
		return err
	}
	if err := ValidateID("credential id", in.ID); err != nil {
		return err
	}
	if !IsClientID(in.ClientID) {
		return Errorf(EINVALID, "client id is malformed")
	}
	name, err := NormalizeName("credential", in.Name)
	if err != nil {
		return err
	}
	cidrs, err := NormalizeClientCIDRs(in.AllowedCIDRs)
	if err != nil {
		return err
	}
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		return Errorf(EINVALID, "expires_at must be in the future")
	}
	if err := secret.check(); err != nil {
		return err
	}
	if secret.Version != a.NextKeyVersion() {
		return Errorf(ECONFLICT, "the service account changed concurrently; retry")
	}
	if len(a.state.Credentials) >= MaxClientCredentials {
		return Errorf(EUNPROCESSABLE, "a service account holds at most %d credentials; revoke one first", MaxClientCredentials)
	}
	for _, c := range a.state.Credentials {
		if c.Name == name {
			return Errorf(ECONFLICT, "the service account already has a credential named %q", name)
		}
	}
	expires := time.Time{}
	if !in.ExpiresAt.IsZero() {
		expires = in.ExpiresAt.UTC().Truncate(time.Second)
	}
	return record(a, ClientCredentialCreated{
		CredentialID: in.ID, Name: name, ClientID: in.ClientID, SecretID: secret.SecretID, KeyVersion: secret.Version,
		SealedSecretMAC: secret.MAC, CreatedAt: now.UTC(), ExpiresAt: expires, AllowedCIDRs: cidrs,
	})
}

// RotateCredential replaces a credential's secret; the old key version is
// the caller's to shred once this is stored (ReplacedKeyVersion).
func (a *ServiceAccount) RotateCredential(credentialID string, secret SealedClientSecret, now time.Time) error {
	if err := a.live(); err != nil {
		return err
	}
	c := a.credential(credentialID)
	if c == nil {
		return Errorf(ENOTFOUND, "credential not found")
	}
	if err := secret.check(); err != nil {
		return err
	}
	if secret.Version != a.NextKeyVersion() {
		return Errorf(ECONFLICT, "the service account changed concurrently; retry")
	}
	return record(a, ClientCredentialRotated{
		CredentialID: credentialID, SecretID: secret.SecretID, KeyVersion: secret.Version, SealedSecretMAC: secret.MAC, RotatedAt: now.UTC(),
	})
}

// RevokeCredential removes a credential.
func (a *ServiceAccount) RevokeCredential(credentialID string) error {
	if err := a.live(); err != nil {
		return err
	}
	c := a.credential(credentialID)
	if c == nil {
		return Errorf(ENOTFOUND, "credential not found")
	}
	return record(a, ClientCredentialRevoked{CredentialID: credentialID, KeyVersion: c.KeyVersion})
}

// KeyVersionOf is the data key version of a credential's current secret,
// or 0 when the account has no such credential.
func (a *ServiceAccount) KeyVersionOf(credentialID string) int64 {
	if c := a.credential(credentialID); c != nil {
		return c.KeyVersion
	}
	return 0
}

// Name is the lowercased account name.
func (a *ServiceAccount) Name() string { return a.state.Name }

// Description is the free-text description.
func (a *ServiceAccount) Description() string { return a.state.Description }

// RoleIDs are the account's roles, sorted.
func (a *ServiceAccount) RoleIDs() []string { return slices.Clone(a.state.RoleIDs) }

// Disabled reports whether the account is disabled.
func (a *ServiceAccount) Disabled() bool { return a.state.Disabled }

// Deleted reports whether the account was deleted.
func (a *ServiceAccount) Deleted() bool { return a.state.Deleted }

// Credentials are the account's credentials, never their secrets.
func (a *ServiceAccount) Credentials() []ClientCredentialSummary {
	out := make([]ClientCredentialSummary, 0, len(a.state.Credentials))
	for _, c := range a.state.Credentials {
		out = append(out, c.summary())
	}
	return out
}

// Credential is one credential, never its secret.
func (a *ServiceAccount) Credential(credentialID string) (ClientCredentialSummary, bool) {
	if c := a.credential(credentialID); c != nil {
		return c.summary(), true
	}
	return ClientCredentialSummary{}, false
}

func (c credentialState) summary() ClientCredentialSummary {
	s := ClientCredentialSummary{
		ID: c.ID, Name: c.Name, ClientID: c.ClientID, CreatedAt: c.CreatedAt, AllowedCIDRs: slices.Clone(c.AllowedCIDRs),
	}
	if s.AllowedCIDRs == nil {
		s.AllowedCIDRs = []string{}
	}
	if !c.RotatedAt.IsZero() {
		t := c.RotatedAt
		s.RotatedAt = &t
	}
	if !c.ExpiresAt.IsZero() {
		t := c.ExpiresAt
		s.ExpiresAt = &t
	}
	return s
}
