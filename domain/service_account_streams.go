package domain

import (
	"sync"
	"time"
)

// Streams that accompany service accounts without an aggregate of their
// own: the client id lookup and the token audit stream.

// Event types of the client id and token streams.
const (
	EventServiceAccountNameReserved = "ServiceAccountNameReserved"
	EventServiceAccountNameReleased = "ServiceAccountNameReleased"
	EventClientIDAssigned           = "ClientIDAssigned"
	EventClientTokenIssued          = "ClientTokenIssued"
	EventClientTokenRefused         = "ClientTokenRefused"
)

// ServiceAccountNameReserved claims a service-account name.
type ServiceAccountNameReserved struct {
	ServiceAccountID string `json:"service_account_id"`
}

// ServiceAccountNameReleased frees a service-account name (on delete).
type ServiceAccountNameReleased struct {
	ServiceAccountID string `json:"service_account_id"`
}

// ServiceAccountNameReservationStream is the stream that reserves a
// service-account name.
func ServiceAccountNameReservationStream(name string) string {
	return StreamID(ServiceAccountNameAggregate, FoldName(name))
}

// ClientIDAssigned ties a client id to the credential it names, forever:
// client ids are never reused.
type ClientIDAssigned struct {
	ServiceAccountID string `json:"service_account_id"`
	CredentialID     string `json:"credential_id"`
}

// ClientIDStream is the lookup stream of a client id.
func ClientIDStream(clientID string) string { return StreamID(ClientIDAggregate, clientID) }

// ClientTokenStream is the token audit stream of a service account.
func ClientTokenStream(accountID string) string { return StreamID(ClientTokenAggregate, accountID) }

// ClientTokenIssued records one access token issued by the
// client-credentials grant: which credential, for which account, to which
// address, and the token's id (jti) and expiry. Never the secret or the
// token.
type ClientTokenIssued struct {
	ServiceAccountID string    `json:"service_account_id"`
	CredentialID     string    `json:"credential_id"`
	ClientID         string    `json:"client_id"`
	TokenID          string    `json:"token_id"`
	Address          string    `json:"address"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// ClientTokenRefused records a token request for a known credential that
// was refused; Reason is one of the ClientRefused* constants.
type ClientTokenRefused struct {
	ServiceAccountID string `json:"service_account_id"`
	CredentialID     string `json:"credential_id"`
	ClientID         string `json:"client_id"`
	Reason           string `json:"reason"`
	Address          string `json:"address"`
}

var clientStreamsRegistry = sync.OnceValue(func() *Registry {
	r := NewRegistry()
	Register[ClientIDAssigned](r, EventClientIDAssigned, 1)
	Register[ClientTokenIssued](r, EventClientTokenIssued, 1)
	Register[ClientTokenRefused](r, EventClientTokenRefused, 1)
	return r
})

// ClientStreamEvents is the registry of the client id and token streams.
func ClientStreamEvents() *Registry { return clientStreamsRegistry() }

// NewClientIDAssignment is the append that claims clientID for a
// credential; it goes in the credential's creating append, with "no
// stream", so no two credentials share a client id.
func NewClientIDAssignment(clientID, accountID, credentialID string, md Metadata) StreamAppend {
	return StreamAppend{
		StreamID: ClientIDStream(clientID),
		Expected: ExpectNoStream,
		Events:   []NewEvent{clientStreamsRegistry().newEvent(ClientIDAssigned{ServiceAccountID: accountID, CredentialID: credentialID}, md)},
	}
}

// ClientIDOwner folds a client id's lookup stream; ok is false when the
// client id was never issued.
func ClientIDOwner(events []RecordedEvent) (ClientIDAssigned, bool, error) {
	for _, ev := range events {
		if ev.Type != EventClientIDAssigned {
			continue
		}
		p, err := clientStreamsRegistry().decode(ev)
		if err != nil {
			return ClientIDAssigned{}, false, WrapError(EINTERNAL, "cannot read a client id", err)
		}
		a := p.(ClientIDAssigned)
		if !IsID(a.ServiceAccountID) || !IsID(a.CredentialID) {
			return ClientIDAssigned{}, false, Errorf(EINTERNAL, "client id stream %s is malformed", ev.StreamID)
		}
		return a, true, nil
	}
	return ClientIDAssigned{}, false, nil
}

// NewClientTokenIssuedEvent builds the audit event of one issuance.
func NewClientTokenIssuedEvent(e ClientTokenIssued, md Metadata) NewEvent {
	e.ExpiresAt = e.ExpiresAt.UTC()
	return clientStreamsRegistry().newEvent(e, md)
}

// NewClientTokenRefusedEvent builds the audit event of one refusal.
func NewClientTokenRefusedEvent(e ClientTokenRefused, md Metadata) NewEvent {
	return clientStreamsRegistry().newEvent(e, md)
}
