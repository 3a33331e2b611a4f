package mail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/mail/internal/maildb"
)

// Store keeps the e-mail tokens (as hashes only) and the deliveries, in
// PostgreSQL (migration 00120). It satisfies commands.EmailTokenStore.
type Store struct {
	pool    *pgxpool.Pool
	queries *maildb.Queries
}

// NewStore returns the store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, queries: maildb.New()} }

// LookupEmailToken returns the token stored under lookup, or ENOTFOUND.
func (s *Store) LookupEmailToken(ctx context.Context, lookup []byte) (domain.EmailTokenRecord, error) {
	row, err := s.queries.GetToken(ctx, s.pool, lookup)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.EmailTokenRecord{}, domain.Errorf(domain.ENOTFOUND, "token not found")
	}
	if err != nil {
		return domain.EmailTokenRecord{}, domain.WrapError(domain.EINTERNAL, "read an e-mail token", err)
	}
	return domain.EmailTokenRecord{
		Purpose: row.Purpose, UserID: uuidString(row.UserID), Binding: row.Binding,
		ExpiresAt: row.ExpiresAt.Time, Used: row.Used,
	}, nil
}

// ConsumeEmailToken marks the token used; ECONFLICT if it already was.
func (s *Store) ConsumeEmailToken(ctx context.Context, lookup []byte, at time.Time) error {
	n, err := s.queries.ConsumeToken(ctx, s.pool, maildb.ConsumeTokenParams{At: timestamp(at), Lookup: lookup})
	if err != nil {
		return domain.WrapError(domain.EINTERNAL, "spend an e-mail token", err)
	}
	if n == 0 {
		return domain.Errorf(domain.ECONFLICT, "the token was used already")
	}
	return nil
}

// PurgeExpired deletes the tokens that expired before before.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.queries.DeleteExpiredTokens(ctx, s.pool, timestamp(before))
	if err != nil {
		return 0, fmt.Errorf("mail: purge expired tokens: %w", err)
	}
	return n, nil
}

// Deliveries counts the recorded deliveries by status (sent, skipped, dead).
func (s *Store) Deliveries(ctx context.Context) (map[string]int64, error) {
	rows, err := s.queries.CountDeliveries(ctx, s.pool)
	if err != nil {
		return nil, fmt.Errorf("mail: count deliveries: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

func timestamp(t time.Time) pgtype.Timestamptz { return pgtype.Timestamptz{Time: t.UTC(), Valid: true} }

func parseUUID(s string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return pgtype.UUID{}, domain.WrapError(domain.EINVALID, "malformed id", err)
	}
	return u, nil
}

func uuidString(u pgtype.UUID) string {
	if !u.Valid {
		return ""
	}
	v, _ := u.Value()
	s, _ := v.(string)
	return s
}

// Grant is a minted token as it is stored: its two hashes, never the token.
type Grant struct {
	Token         domain.EmailToken
	Purpose       string
	UserID        string
	SourceEventID string
	ExpiresAt     time.Time
}

// IssueToken stores g (the consumer does it inside the delivery's
// transaction; see Consumer).
func (s *Store) IssueToken(ctx context.Context, g Grant) error { return s.issueToken(ctx, s.pool, g) }

func (s *Store) issueToken(ctx context.Context, db maildb.DBTX, g Grant) error {
	uid, err := parseUUID(g.UserID)
	if err != nil {
		return err
	}
	src, err := parseUUID(g.SourceEventID)
	if err != nil {
		return err
	}
	if err := s.queries.InsertToken(ctx, db, maildb.InsertTokenParams{
		Lookup: g.Token.Lookup, Binding: g.Token.Binding, Purpose: g.Purpose, UserID: uid,
		SourceEventID: src, ExpiresAt: timestamp(g.ExpiresAt),
	}); err != nil {
		return fmt.Errorf("mail: store a token: %w", err)
	}
	return nil
}
