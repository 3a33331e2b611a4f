package fold

import (
	"context"

	"github.com/securevault/vault/domain"
)

// SecretID resolves a secret name to its id from the name's reservation
// stream in the log (names are reserved once and never released, so the
// answer never changes), the same way for commands and queries. A name
// that was never taken is ENOTFOUND; a malformed one EINVALID.
func (l *Loader) SecretID(ctx context.Context, name string) (string, error) {
	streams, err := domain.SecretNameStreams(name)
	if err != nil {
		return "", err
	}
	for _, streamID := range streams {
		events, err := l.ReadStream(ctx, streamID)
		if err != nil {
			return "", err
		}
		id, ok, err := domain.SecretIDOfReservation(events)
		if err != nil || ok {
			return id, err
		}
	}
	return "", domain.Errorf(domain.ENOTFOUND, "secret not found")
}
