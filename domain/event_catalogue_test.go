package domain

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every event type any registry knows must say what it means to the audit
// log and the SIEM; a new type without an entry fails here, not in an
// auditor's query.
func TestEveryEventTypeHasAMeaning(t *testing.T) {
	t.Parallel()
	types := EventTypes()
	// The types appended without an aggregate are registered too, or they
	// would escape this check.
	for _, want := range []string{EventAccessDenied, EventSecretRevealed, EventSecretNameReserved, EventChainKeyed, EventLoginFailed, EventRoleMemberAdded} {
		require.Contains(t, types, want)
	}
	for _, eventType := range types {
		t.Run(eventType, func(t *testing.T) {
			m, ok := EventMeaningOf(eventType)
			require.True(t, ok, "%s has no entry in the event catalogue (domain/event_catalogue.go)", eventType)
			require.Contains(t, []string{AuditAllowed, AuditDenied, AuditFailed}, m.Outcome)
			require.NotEmpty(t, m.ECSCategory)
			require.NotEmpty(t, m.ECSType)
			switch m.Resource {
			case ResourceFromDenial:
				// The action and resource are the attempt's, read from the data.
			case ResourceFromField:
				require.NotEmpty(t, m.ResourceField)
				fallthrough
			default:
				require.NotEmpty(t, m.Action)
				require.NotEmpty(t, m.ResourceType)
			}
		})
	}
}

// The catalogue names only registered types, so a misspelt entry cannot
// stand in for the real one.
func TestEventCatalogueNamesRegisteredTypes(t *testing.T) {
	t.Parallel()
	types := EventTypes()
	for eventType := range eventCatalogue() {
		require.True(t, slices.Contains(types, eventType), "%s is in the catalogue but in no registry", eventType)
	}
}

func TestMeaningOfAnUnknownType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		eventType, streamID string
		category, types     []string
	}{
		{"WidgetCreated", "widget-1", []string{"configuration"}, []string{"creation"}},
		{"UserMerged", "user-1", []string{"iam"}, []string{"user", "change"}},
		{"FileShredded", "file-1", []string{"file"}, []string{"change"}},
		{"FileNameDropped", "filename-a", []string{"file"}, []string{"change"}},
	}
	for _, tt := range tests {
		m := MeaningOf(tt.eventType, tt.streamID)
		require.Equal(t, tt.eventType, m.Action)
		require.Equal(t, AggregateOf(tt.streamID), m.ResourceType)
		require.Equal(t, AuditAllowed, m.Outcome)
		require.Equal(t, SeverityInfo, m.Severity)
		require.Equal(t, tt.category, m.ECSCategory)
		require.Equal(t, tt.types, m.ECSType)
	}
}

// Events built without an aggregate come out of their registry with its
// type and schema version.
func TestEventsWithoutAggregateUseTheirRegistry(t *testing.T) {
	t.Parallel()
	md := Metadata{Actor: "u"}
	for _, ev := range []NewEvent{
		NewAccessDeniedEvent(AccessDenied{UserID: "u", Action: "read", Resource: "secrets/x"}, md),
		NewSecretRevealedEvent(NewID(), 2, md),
		NewSecretNameReservation("x", NewID(), md).Events[0],
	} {
		require.True(t, IsID(ev.ID))
		require.Equal(t, 1, ev.SchemaVersion)
		require.Contains(t, EventTypes(), ev.Type)
		require.Equal(t, md, ev.Metadata)
	}
}
