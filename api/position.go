package api

import (
	"net/http"
	"strconv"

	"github.com/securevault/vault/domain"
)

// Read-your-writes headers: a command answers the global position it wrote;
// a query given a minimum position waits until its read model reached it.
const (
	HeaderPosition    = "X-Vault-Position"
	HeaderMinPosition = "X-Vault-Min-Position"
)

// setPosition reports the position a command wrote.
func setPosition(w http.ResponseWriter, position int64) {
	w.Header().Set(HeaderPosition, strconv.FormatInt(position, 10))
}

// minPosition parses X-Vault-Min-Position; 0 when absent.
func minPosition(r *http.Request) (int64, error) {
	v := r.Header.Get(HeaderMinPosition)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, domain.Errorf(domain.EINVALID, "%s must be a non-negative integer", HeaderMinPosition)
	}
	return n, nil
}

// awaitMinPosition waits, bounded by the configured timeout, until the named
// read models reached the position the request asks for. Past the bound the
// error is EUNAVAILABLE (503), so the client knows to retry rather than
// trust a stale answer. Without a waiter there is nothing to wait for.
func (s *Server) awaitMinPosition(r *http.Request, readModels ...string) error {
	pos, err := minPosition(r)
	if err != nil || pos == 0 || s.waiter == nil {
		return err
	}
	if s.logHead != nil {
		head, err := s.logHead(r.Context())
		if err != nil {
			return err
		}
		if pos > head {
			return domain.Errorf(domain.EINVALID, "%s %d is beyond the head of the log (%d); send a position a write reported", HeaderMinPosition, pos, head)
		}
	}
	return s.waiter.WaitFor(r.Context(), pos, s.cfg.MinPositionTimeout, readModels...)
}
