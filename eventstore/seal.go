package eventstore

import (
	"context"
)

// Seal makes sure the newest link of the chain is keyed: when the head is
// an unkeyed SHA-256 link (a log written before the chain was keyed), it
// appends the ChainKeyed event whose keyed link covers that hash, which
// seals every event before it. It reports whether it wrote the seal.
//
// vaultd calls it on start-up so the unkeyed prefix is sealed at once; the
// writer would otherwise do the same before the first keyed append. Sealing
// is idempotent across replicas: the head is checked under the append lock.
func (s *Store) Seal(ctx context.Context) (bool, error) {
	if err := s.refuseIfTampered(); err != nil {
		return false, err
	}
	res, err := s.submit(ctx, nil)
	if err != nil {
		return false, err
	}
	return res.LastPosition > 0, nil
}
