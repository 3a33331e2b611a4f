// Package siem turns the vault's published events into the formats security
// information and event management tools ingest (Elastic Common Schema JSON
// lines, ArcSight CEF, RFC 5424 syslog) and forwards them, from a durable
// JetStream consumer, to stdout, a file or a syslog receiver.
package siem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/relay"
)

// Outcomes, as ECS spells them.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Event is one published event, ready to be formatted.
type Event struct {
	relay.Envelope
}

// Decode reads a bus message's payload. The payload is already redacted by
// the relay; sealed_* members are dropped once more here so a mistake
// upstream can never reach a SIEM, whose retention nobody controls.
func Decode(payload []byte) (Event, error) {
	var env relay.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return Event{}, domain.WrapError(domain.EINVALID, "the message is not a vault event envelope", err)
	}
	if env.Position <= 0 || env.EventID == "" || env.Type == "" {
		return Event{}, domain.Errorf(domain.EINVALID, "the message lacks a position, event id or type")
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		env.Data = json.RawMessage("{}")
	}
	data, err := domain.RedactForBus(env.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event at position %d: %w", env.Position, err)
	}
	env.Data = compact(data)
	return Event{Envelope: env}, nil
}

// compact strips insignificant whitespace so one event is one line in every
// format.
func compact(data json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return data
	}
	return b.Bytes()
}

// meaning is what the domain's event catalogue says the event is.
func (e Event) meaning() domain.EventMeaning { return domain.MeaningOf(e.Type, e.StreamID) }

// Outcome is failure for the events that record a refused or failed
// attempt, success for everything else.
func (e Event) Outcome() string {
	if e.meaning().Outcome != domain.AuditAllowed {
		return OutcomeFailure
	}
	return OutcomeSuccess
}

// Aggregate is the kind of thing the event is about (user, secret, ...).
func (e Event) Aggregate() string { return domain.AggregateOf(e.StreamID) }

// Name is the event type in words: "LoginFailed" becomes "Login failed".
func (e Event) Name() string {
	var b strings.Builder
	for i, r := range e.Type {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
