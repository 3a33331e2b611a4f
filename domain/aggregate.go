package domain

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// NewID returns a random (version 4) UUID. It lives here rather than in a
// UUID library because domain imports only the standard library.
func NewID() string {
	var b [16]byte
	// crypto/rand.Read never fails since Go 1.24: it crashes the program
	// rather than hand out predictable bytes.
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// IsID reports whether s is a UUID in canonical lowercase form. Ids are part
// of stream ids, so only one spelling of each may exist.
func IsID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// ValidateID returns an EINVALID error naming field when id is not a UUID.
func ValidateID(field, id string) error {
	if !IsID(id) {
		return Errorf(EINVALID, "%s must be a UUID", field)
	}
	return nil
}

// UpcastFunc turns the payload of one schema version into the payload of the
// next one (version+1). Stored events are never rewritten; old payloads are
// upcast each time they are read.
type UpcastFunc func(data json.RawMessage) (json.RawMessage, error)

type eventKind struct {
	name    string
	version int
	typ     reflect.Type
}

type upcastKey struct {
	eventType string
	from      int
}

// Registry maps event payload structs to their stored type name and current
// schema version, and holds the upcasters of older versions. Build one per
// aggregate and do not change it after the first use: it is read without
// locks.
type Registry struct {
	byName    map[string]eventKind
	byType    map[reflect.Type]eventKind
	upcasters map[upcastKey]UpcastFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		byName:    map[string]eventKind{},
		byType:    map[reflect.Type]eventKind{},
		upcasters: map[upcastKey]UpcastFunc{},
	}
}

// Register declares payload struct T as event type eventType at its current
// schemaVersion. Payloads are recorded and applied as values of T.
func Register[T any](r *Registry, eventType string, schemaVersion int) {
	typ := reflect.TypeFor[T]()
	if schemaVersion < 1 {
		panic(fmt.Sprintf("domain: event %s registered with schema version %d", eventType, schemaVersion))
	}
	if _, dup := r.byName[eventType]; dup {
		panic(fmt.Sprintf("domain: event %s registered twice", eventType))
	}
	k := eventKind{name: eventType, version: schemaVersion, typ: typ}
	r.byName[eventType] = k
	r.byType[typ] = k
}

// Upcast registers fn to turn eventType payloads of schema version from into
// version from+1.
func (r *Registry) Upcast(eventType string, from int, fn UpcastFunc) {
	r.upcasters[upcastKey{eventType, from}] = fn
}

// EventTypes lists the registered event type names.
func (r *Registry) EventTypes() []string {
	out := make([]string, 0, len(r.byName))
	for name := range r.byName {
		out = append(out, name)
	}
	return out
}

// StoreUpcasters adapts the registry's upcasters to the event store's
// per-type hook (its Options.Upcasters), so events are upcast once on read
// for every consumer, not only for aggregates.
func (r *Registry) StoreUpcasters() map[string]func(int, json.RawMessage) (int, json.RawMessage, error) {
	out := map[string]func(int, json.RawMessage) (int, json.RawMessage, error){}
	for key := range r.upcasters {
		eventType := key.eventType
		out[eventType] = func(version int, data json.RawMessage) (int, json.RawMessage, error) {
			fn, ok := r.upcasters[upcastKey{eventType, version}]
			if !ok {
				return version, data, nil
			}
			next, err := fn(data)
			if err != nil {
				return version, nil, err
			}
			return version + 1, next, nil
		}
	}
	return out
}

// newEvent builds a NewEvent of a payload registered here with a payload
// that always marshals (strings and numbers), for the events appended
// without an aggregate (denials, reveals, name reservations).
func (r *Registry) newEvent(payload any, md Metadata) NewEvent {
	k, data, err := r.encode(payload)
	if err != nil {
		// Registration is static: an unregistered payload is a bug of this
		// package, caught by its tests, never an input.
		panic(fmt.Sprintf("domain: %v", err))
	}
	return NewEvent{ID: NewID(), Type: k.name, SchemaVersion: k.version, Data: data, Metadata: md}
}

// encode turns a payload struct into the parts of a NewEvent.
func (r *Registry) encode(payload any) (eventKind, json.RawMessage, error) {
	k, ok := r.byType[reflect.TypeOf(payload)]
	if !ok {
		return eventKind{}, nil, fmt.Errorf("event payload %T is not registered", payload)
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return eventKind{}, nil, fmt.Errorf("encode %s: %w", k.name, err)
	}
	return k, data, nil
}

// decode turns a recorded event into its payload struct, upcasting old
// schema versions first.
func (r *Registry) decode(ev RecordedEvent) (any, error) {
	k, ok := r.byName[ev.Type]
	if !ok {
		return nil, fmt.Errorf("event type %s at position %d is not known to this aggregate", ev.Type, ev.Position)
	}
	data, version := ev.Data, ev.SchemaVersion
	for version < k.version {
		fn, ok := r.upcasters[upcastKey{ev.Type, version}]
		if !ok {
			return nil, fmt.Errorf("no upcaster for %s schema version %d", ev.Type, version)
		}
		next, err := fn(data)
		if err != nil {
			return nil, fmt.Errorf("upcast %s v%d at position %d: %w", ev.Type, version, ev.Position, err)
		}
		data, version = next, version+1
	}
	if version > k.version {
		return nil, fmt.Errorf("event %s at position %d has schema version %d, newer than this build's %d", ev.Type, ev.Position, version, k.version)
	}
	ptr := reflect.New(k.typ)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("decode %s at position %d: %w", ev.Type, ev.Position, err)
	}
	return ptr.Elem().Interface(), nil
}

// AggregateRoot is the bookkeeping every aggregate embeds: its stream, the
// version it was loaded at, and the events recorded since. It is not safe
// for concurrent use; an aggregate lives for one command.
type AggregateRoot struct {
	id       string
	streamID string
	loaded   int64
	version  int64
	changes  []NewEvent
}

// ID is the aggregate's id (the part of the stream id after the type).
func (a *AggregateRoot) ID() string { return a.id }

// StreamID is the stream the aggregate's events live in.
func (a *AggregateRoot) StreamID() string { return a.streamID }

// Version is the stream version including events not yet appended.
func (a *AggregateRoot) Version() int64 { return a.version }

// LoadedVersion is the stream version the aggregate was loaded at.
func (a *AggregateRoot) LoadedVersion() int64 { return a.loaded }

// Expected is the optimistic-concurrency condition for appending Changes:
// "no stream" for a new aggregate, otherwise exactly the loaded version.
// ExpectNoStream and ExpectVersion(0) are the same value.
func (a *AggregateRoot) Expected() ExpectedVersion { return ExpectVersion(a.loaded) }

// Changes returns the events recorded since loading, oldest first, without
// metadata; see ChangesWith.
func (a *AggregateRoot) Changes() []NewEvent {
	return append([]NewEvent(nil), a.changes...)
}

// ChangesWith returns Changes with md stamped on every event.
func (a *AggregateRoot) ChangesWith(md Metadata) []NewEvent {
	out := a.Changes()
	for i := range out {
		out[i].Metadata = md
	}
	return out
}

// StreamAppend packages Changes for an atomic multi-stream append.
func (a *AggregateRoot) StreamAppend(md Metadata) StreamAppend {
	return StreamAppend{StreamID: a.streamID, Expected: a.Expected(), Events: a.ChangesWith(md)}
}

// Committed records that Changes were appended, so the aggregate can take
// further commands against its new version.
func (a *AggregateRoot) Committed() {
	a.loaded = a.version
	a.changes = nil
}

// applyingVersion is the stream version of the event apply is handling:
// record and fold both advance the version only after apply returns. State
// that remembers which event did something (so a reader can fetch that
// event's metadata directly) records it.
func (a *AggregateRoot) applyingVersion() int64 { return a.version + 1 }

func (a *AggregateRoot) setStream(aggregate, id string) {
	a.id = id
	a.streamID = StreamID(aggregate, id)
}

// eventSourced is what the shared fold, record and snapshot code needs from a
// concrete aggregate.
type eventSourced interface {
	root() *AggregateRoot
	registry() *Registry
	// apply changes state for one event. Events are facts: apply never
	// validates and never fails.
	apply(payload any)
	// snapshotState points at the aggregate's JSON-serialisable state.
	snapshotState() any
}

func (a *AggregateRoot) root() *AggregateRoot { return a }

// record applies payload to agg and queues it as a new event.
func record(agg eventSourced, payload any) error {
	k, data, err := agg.registry().encode(payload)
	if err != nil {
		return WrapError(EINTERNAL, "cannot record event", err)
	}
	agg.apply(payload)
	r := agg.root()
	r.version++
	r.changes = append(r.changes, NewEvent{ID: NewID(), Type: k.name, SchemaVersion: k.version, Data: data})
	return nil
}

// fold applies recorded events in order. Versions must follow on from the
// aggregate's current version: a gap means the caller read the stream wrongly
// and any decision taken on the result would be wrong too.
func fold(agg eventSourced, aggregate string, events []RecordedEvent) error {
	r := agg.root()
	if len(r.changes) > 0 {
		return Errorf(EINTERNAL, "cannot fold events into an aggregate with unsaved changes")
	}
	for _, ev := range events {
		if r.streamID == "" {
			if AggregateOf(ev.StreamID) != aggregate {
				return Errorf(EINTERNAL, "stream %s does not hold %s events", ev.StreamID, aggregate)
			}
			r.streamID = ev.StreamID
			r.id = ev.StreamID[len(aggregate)+1:]
		}
		if ev.StreamID != r.streamID {
			return Errorf(EINTERNAL, "event of stream %s folded into %s", ev.StreamID, r.streamID)
		}
		if ev.Version != r.version+1 {
			return Errorf(EINTERNAL, "stream %s: expected version %d, got %d", r.streamID, r.version+1, ev.Version)
		}
		payload, err := agg.registry().decode(ev)
		if err != nil {
			return WrapError(EINTERNAL, "cannot read stream "+r.streamID, err)
		}
		agg.apply(payload)
		if st, ok := agg.(stamped); ok {
			st.stamp(ev.Type, ev.RecordedAt, ev.Metadata.Actor)
		}
		r.version = ev.Version
	}
	r.loaded = r.version
	return nil
}

// stamped is an aggregate that remembers when and by whom its events were
// recorded, as its read model shows them. apply sees only payloads, so fold
// stamps each event after applying it, and the command that appended new
// ones stamps them with what the log recorded (see Secret.CommittedAt).
type stamped interface {
	stamp(eventType string, at time.Time, actor string)
}

// snapshotEnvelope wraps aggregate state with the layout version of that
// state, so a build whose state layout changed ignores old snapshots and
// folds the stream instead.
// The stream id and version it was taken at are inside too, so a state
// stored under the wrong stream or version is refused rather than folded on.
type snapshotEnvelope struct {
	Layout   int             `json:"layout"`
	StreamID string          `json:"stream_id"`
	Version  int64           `json:"version"`
	State    json.RawMessage `json:"state"`
}

// snapshot serialises the aggregate's state at its loaded version.
func snapshot(agg eventSourced, layout int) ([]byte, int64, error) {
	r := agg.root()
	if len(r.changes) > 0 {
		return nil, 0, Errorf(EINTERNAL, "cannot snapshot an aggregate with unsaved changes")
	}
	if r.version == 0 {
		return nil, 0, Errorf(EINTERNAL, "cannot snapshot an empty aggregate")
	}
	state, err := json.Marshal(agg.snapshotState())
	if err != nil {
		return nil, 0, WrapError(EINTERNAL, "cannot snapshot aggregate", err)
	}
	data, err := json.Marshal(snapshotEnvelope{Layout: layout, StreamID: r.streamID, Version: r.version, State: state})
	if err != nil {
		return nil, 0, WrapError(EINTERNAL, "cannot snapshot aggregate", err)
	}
	return data, r.version, nil
}

// restore loads snapshot state at version, then folds the events after it.
// A snapshot of another layout is reported as an error; snapshots are a
// cache, so the caller should then fold the whole stream.
func restore(agg eventSourced, aggregate string, layout int, data []byte, version int64, rest []RecordedEvent) error {
	var env snapshotEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return WrapError(EINTERNAL, "unreadable snapshot", err)
	}
	if env.Layout != layout {
		return Errorf(EINTERNAL, "snapshot layout %d is not the current %d", env.Layout, layout)
	}
	if AggregateOf(env.StreamID) != aggregate || version < 1 {
		return Errorf(EINTERNAL, "snapshot of %s at version %d does not fit a %s", env.StreamID, version, aggregate)
	}
	if env.Version != version {
		return Errorf(EINTERNAL, "snapshot of %s taken at version %d is offered as version %d", env.StreamID, env.Version, version)
	}
	if err := json.Unmarshal(env.State, agg.snapshotState()); err != nil {
		return WrapError(EINTERNAL, "unreadable snapshot state", err)
	}
	r := agg.root()
	r.streamID = env.StreamID
	r.id = env.StreamID[len(aggregate)+1:]
	r.version = version
	r.loaded = version
	return fold(agg, aggregate, rest)
}

// EventsAsOf returns the prefix of events recorded at or before t, so the
// same fold shows an aggregate as it was at that instant (time travel).
func EventsAsOf(events []RecordedEvent, t time.Time) []RecordedEvent {
	for i, ev := range events {
		if ev.RecordedAt.After(t) {
			return events[:i]
		}
	}
	return events
}

// EventsUpTo returns the prefix of events at or below global position pos.
func EventsUpTo(events []RecordedEvent, pos int64) []RecordedEvent {
	for i, ev := range events {
		if ev.Position > pos {
			return events[:i]
		}
	}
	return events
}
