package domain

// Read model names: the checkpoint name of each projection. Commands wait
// for the read models that show what they wrote (read-your-writes), queries
// for the one they read; the projections take their names from here, so the
// three agree without importing each other.
const (
	ReadModelIdentity = "identity"
	ReadModelSecrets  = "secrets"
	ReadModelAudit    = "audit"
	ReadModelStreams  = "streams"
)
