package store

import (
	"context"
	"fmt"
	"time"
)

// Idempotent is a stored response to a POST with an Idempotency-Key.
type Idempotent struct {
	RequestHash string
	Status      int
	Body        string
}

// IdempotentResponse returns the stored response for (account, key).
func (t *Tx) IdempotentResponse(ctx context.Context, accountID, key string) (*Idempotent, error) {
	var r Idempotent
	err := t.queryRow(ctx, `SELECT request_hash, status, body FROM idempotency WHERE account_id = $1 AND key = $2`, accountID, key).Scan(&r.RequestHash, &r.Status, &r.Body)
	if err != nil {
		return nil, mapErr(err)
	}
	return &r, nil
}

// SaveIdempotent stores a response in the transaction that made the record,
// so a retry finds either both or neither.
func (t *Tx) SaveIdempotent(ctx context.Context, accountID, key string, r *Idempotent, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO idempotency (account_id, key, request_hash, status, body, created_at) VALUES ($1,$2,$3,$4,$5,$6)`,
		accountID, key, r.RequestHash, r.Status, r.Body, micros(now))
	if err != nil {
		if _, ok := err.(*ConflictError); ok {
			return ErrStale // a concurrent retry of the same request won: run again to replay it
		}
		return fmt.Errorf("save idempotent response: %w", err)
	}
	return nil
}
