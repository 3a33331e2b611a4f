package domain

// Snapshot is an aggregate's folded state at one event of its stream, kept
// beside the log as a cache so long streams need not be folded from their
// start. Position, Version and EventHash name that event: a snapshot is used
// only while the log holds exactly that event there, and any snapshot may be
// lost without changing an answer.
type Snapshot struct {
	StreamID string
	// Layout is the aggregate's state layout (SnapshotLayout); a snapshot of
	// another layout is passed over.
	Layout    int
	Version   int64
	Position  int64
	EventHash []byte
	// State is what the aggregate's Snapshot method returned.
	State []byte
}

// SnapshotLayout is the current state layout of an aggregate type's
// snapshots, and false for aggregates that are never snapshotted.
func SnapshotLayout(aggregate string) (int, bool) {
	switch aggregate {
	case SecretAggregate:
		return secretSnapshotLayout, true
	case UserAggregate:
		return userSnapshotLayout, true
	case SessionAggregate:
		return sessionSnapshotLayout, true
	case RoleAggregate:
		return roleSnapshotLayout, true
	case PolicyAggregate:
		return policySnapshotLayout, true
	case FileAggregate:
		return fileSnapshotLayout, true
	}
	return 0, false
}
