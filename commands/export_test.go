package commands

// SnapshotEvery is snapshotEvery, for tests that bound how much of a stream
// a read may fold.
const SnapshotEvery = snapshotEvery
