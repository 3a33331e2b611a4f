package domain

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counter is a minimal aggregate that exercises the base on its own: its
// Added event is at schema version 3, and versions 1 and 2 still need
// upcasting.
type counter struct {
	AggregateRoot
	state counterState
}

type counterState struct {
	Total int `json:"total"`
	Adds  int `json:"adds"`
}

type counterAdded struct {
	N int `json:"n"`
}

type counterReset struct{}

func counterRegistry() *Registry {
	r := NewRegistry()
	Register[counterAdded](r, "CounterAdded", 3)
	Register[counterReset](r, "CounterReset", 1)
	// v1 spelled the amount as a string, v2 called it "amount".
	r.Upcast("CounterAdded", 1, func(data json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Amount string `json:"amount"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		var n int
		if _, err := fmt.Sscan(v1.Amount, &n); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]int{"amount": n})
	})
	r.Upcast("CounterAdded", 2, func(data json.RawMessage) (json.RawMessage, error) {
		var v2 struct {
			Amount int `json:"amount"`
		}
		if err := json.Unmarshal(data, &v2); err != nil {
			return nil, err
		}
		return json.Marshal(counterAdded{N: v2.Amount})
	})
	return r
}

func (c *counter) registry() *Registry { return counterRegistry() }
func (c *counter) snapshotState() any  { return &c.state }
func (c *counter) apply(payload any) {
	switch e := payload.(type) {
	case counterAdded:
		c.state.Total += e.N
		c.state.Adds++
	case counterReset:
		c.state.Total = 0
	}
}

// recorded turns an aggregate's changes into stored events, as the event
// store would, starting after version.
func recorded(stream string, version int64, changes []NewEvent) []RecordedEvent {
	out := make([]RecordedEvent, len(changes))
	for i, ch := range changes {
		out[i] = RecordedEvent{
			Position: version + int64(i) + 100, StreamID: stream, Version: version + int64(i) + 1,
			ID: ch.ID, Type: ch.Type, SchemaVersion: ch.SchemaVersion, Data: ch.Data, Metadata: ch.Metadata,
			RecordedAt: time.Date(2026, 1, 1, 0, 0, int(version)+i, 0, time.UTC),
		}
	}
	return out
}

func TestNewIDIsRandomVersion4(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		require.True(t, IsID(id), id)
		require.Equal(t, byte('4'), id[14], "version nibble")
		require.Contains(t, "89ab", string(id[19]), "variant bits")
		require.False(t, seen[id], "duplicate id")
		seen[id] = true
	}
}

func TestIsID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want bool
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"0F8FAD5B-D9CB-469F-A165-70867728950E", false}, // one spelling per id
		{"0f8fad5bd9cb469fa16570867728950e", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950g", false},
		{"0f8fad5b_d9cb-469f-a165-70867728950e", false},
		{"", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, IsID(tc.in))
		})
	}
}

func TestRecordAndLoad(t *testing.T) {
	t.Parallel()
	c := &counter{}
	c.setStream("counter", NewID())
	require.NoError(t, record(c, counterAdded{N: 2}))
	require.NoError(t, record(c, counterAdded{N: 5}))
	require.Equal(t, ExpectNoStream, c.Expected(), "a new aggregate appends with no stream")
	require.Equal(t, int64(2), c.Version())

	md := Metadata{Actor: "user-x", RequestID: "r1"}
	changes := c.ChangesWith(md)
	require.Len(t, changes, 2)
	for _, ch := range changes {
		require.Equal(t, "CounterAdded", ch.Type)
		require.Equal(t, 3, ch.SchemaVersion)
		require.True(t, IsID(ch.ID))
		require.Equal(t, md, ch.Metadata)
	}
	require.NotEqual(t, changes[0].ID, changes[1].ID)
	require.JSONEq(t, `{"n":2}`, string(changes[0].Data))

	loaded := &counter{}
	require.NoError(t, fold(loaded, "counter", recorded(c.StreamID(), 0, changes)))
	require.Equal(t, c.state, loaded.state)
	require.Equal(t, c.ID(), loaded.ID())
	require.Equal(t, ExpectVersion(2), loaded.Expected())
	require.Empty(t, loaded.Changes())

	require.NoError(t, record(loaded, counterReset{}))
	require.Equal(t, ExpectVersion(2), loaded.Expected(), "expected stays at the loaded version")
	loaded.Committed()
	require.Equal(t, ExpectVersion(3), loaded.Expected())
	require.Empty(t, loaded.Changes())
}

func TestFoldRejectsBrokenStreams(t *testing.T) {
	t.Parallel()
	good := func() []RecordedEvent {
		c := &counter{}
		c.setStream("counter", "0f8fad5b-d9cb-469f-a165-70867728950e")
		for i := range 3 {
			require.NoError(t, record(c, counterAdded{N: i}))
		}
		return recorded(c.StreamID(), 0, c.Changes())
	}
	cases := []struct {
		name    string
		breakIt func([]RecordedEvent) []RecordedEvent
	}{
		{"gap in versions", func(e []RecordedEvent) []RecordedEvent { return append(e[:1], e[2:]...) }},
		{"does not start at version 1", func(e []RecordedEvent) []RecordedEvent { return e[1:] }},
		{"duplicate version", func(e []RecordedEvent) []RecordedEvent { return append(e, e[2]) }},
		{"event of another stream", func(e []RecordedEvent) []RecordedEvent { e[1].StreamID = "counter-other"; return e }},
		{"stream of another aggregate", func(e []RecordedEvent) []RecordedEvent {
			for i := range e {
				e[i].StreamID = "user-0f8fad5b-d9cb-469f-a165-70867728950e"
			}
			return e
		}},
		{"unknown event type", func(e []RecordedEvent) []RecordedEvent { e[2].Type = "CounterExploded"; return e }},
		{"schema newer than the code", func(e []RecordedEvent) []RecordedEvent { e[0].SchemaVersion = 4; return e }},
		{"payload that does not decode", func(e []RecordedEvent) []RecordedEvent { e[0].Data = json.RawMessage(`{"n":"x"}`); return e }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := fold(&counter{}, "counter", tc.breakIt(good()))
			require.Error(t, err)
			require.Equal(t, EINTERNAL, ErrorCode(err))
		})
	}
	require.NoError(t, fold(&counter{}, "counter", good()), "the unbroken stream folds")
}

func TestUpcastersRunPerTypeAndVersion(t *testing.T) {
	t.Parallel()
	stream := StreamID("counter", NewID())
	events := []RecordedEvent{
		{StreamID: stream, Version: 1, Type: "CounterAdded", SchemaVersion: 1, Data: json.RawMessage(`{"amount":"4"}`)},
		{StreamID: stream, Version: 2, Type: "CounterAdded", SchemaVersion: 2, Data: json.RawMessage(`{"amount":10}`)},
		{StreamID: stream, Version: 3, Type: "CounterAdded", SchemaVersion: 3, Data: json.RawMessage(`{"n":100}`)},
		{StreamID: stream, Version: 4, Type: "CounterReset", SchemaVersion: 1, Data: json.RawMessage(`{}`)},
		{StreamID: stream, Version: 5, Type: "CounterAdded", SchemaVersion: 1, Data: json.RawMessage(`{"amount":"7"}`)},
	}
	c := &counter{}
	require.NoError(t, fold(c, "counter", events[:3]))
	require.Equal(t, counterState{Total: 114, Adds: 3}, c.state)

	c = &counter{}
	require.NoError(t, fold(c, "counter", events))
	require.Equal(t, counterState{Total: 7, Adds: 4}, c.state)

	t.Run("the store hook upcasts one step at a time", func(t *testing.T) {
		hook := counterRegistry().StoreUpcasters()["CounterAdded"]
		require.NotNil(t, hook)
		v, data, err := hook(1, json.RawMessage(`{"amount":"4"}`))
		require.NoError(t, err)
		require.Equal(t, 2, v)
		v, data, err = hook(v, data)
		require.NoError(t, err)
		require.Equal(t, 3, v)
		require.JSONEq(t, `{"n":4}`, string(data))
		v, _, err = hook(v, data)
		require.NoError(t, err)
		require.Equal(t, 3, v, "the current version is left alone")
	})

	t.Run("a failing upcaster fails the load", func(t *testing.T) {
		bad := []RecordedEvent{{StreamID: stream, Version: 1, Type: "CounterAdded", SchemaVersion: 1, Data: json.RawMessage(`{"amount":"many"}`)}}
		require.Error(t, fold(&counter{}, "counter", bad))
	})
}

func TestSnapshotThenFoldEqualsFullFold(t *testing.T) {
	t.Parallel()
	c := &counter{}
	c.setStream("counter", NewID())
	for i := 1; i <= 10; i++ {
		require.NoError(t, record(c, counterAdded{N: i}))
	}
	all := recorded(c.StreamID(), 0, c.Changes())

	for _, at := range []int{1, 5, 9, 10} {
		t.Run(fmt.Sprintf("snapshot at %d", at), func(t *testing.T) {
			head := &counter{}
			require.NoError(t, fold(head, "counter", all[:at]))
			snap, version, err := snapshot(head, 1)
			require.NoError(t, err)
			require.Equal(t, int64(at), version)

			restored := &counter{}
			require.NoError(t, restore(restored, "counter", 1, snap, version, all[at:]))
			full := &counter{}
			require.NoError(t, fold(full, "counter", all))
			require.Equal(t, full.state, restored.state)
			require.Equal(t, full.Version(), restored.Version())
			require.Equal(t, full.StreamID(), restored.StreamID())
		})
	}

	t.Run("pending changes cannot be snapshotted", func(t *testing.T) {
		_, _, err := snapshot(c, 1)
		require.Error(t, err)
	})
	t.Run("a snapshot of another layout is refused", func(t *testing.T) {
		head := &counter{}
		require.NoError(t, fold(head, "counter", all[:3]))
		snap, version, err := snapshot(head, 1)
		require.NoError(t, err)
		require.Error(t, restore(&counter{}, "counter", 2, snap, version, all[3:]))
	})
	t.Run("a snapshot offered as another version is refused", func(t *testing.T) {
		head := &counter{}
		require.NoError(t, fold(head, "counter", all[:3]))
		snap, _, err := snapshot(head, 1)
		require.NoError(t, err)
		require.Error(t, restore(&counter{}, "counter", 1, snap, 4, all[4:]))
	})
	t.Run("events after the snapshot must follow on", func(t *testing.T) {
		head := &counter{}
		require.NoError(t, fold(head, "counter", all[:3]))
		snap, version, err := snapshot(head, 1)
		require.NoError(t, err)
		require.Error(t, restore(&counter{}, "counter", 1, snap, version, all[4:]))
	})
}

func TestEventsAsOfAndUpTo(t *testing.T) {
	t.Parallel()
	c := &counter{}
	c.setStream("counter", NewID())
	for i := 1; i <= 4; i++ {
		require.NoError(t, record(c, counterAdded{N: i}))
	}
	all := recorded(c.StreamID(), 0, c.Changes())
	require.Len(t, EventsAsOf(all, all[1].RecordedAt), 2)
	require.Len(t, EventsAsOf(all, all[0].RecordedAt.Add(-time.Second)), 0)
	require.Len(t, EventsUpTo(all, all[2].Position), 3)
	require.Len(t, EventsUpTo(all, all[3].Position+10), 4)
}
