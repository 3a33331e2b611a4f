package api

import (
	"net/http"
	"strconv"

	"github.com/securevault/vault/domain"
)

// Read-your-writes headers: a command answers the global position it wrote;
// a query given a minimum position waits until its read model reached it
// (package queries does the bounded wait and answers 503 past it).
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
