package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ThrottleWait is how long key is locked for (0: not locked).
func (s *Store) ThrottleWait(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	var until int64
	err := s.queryRow(ctx, `SELECT held_until FROM throttle_locks WHERE key = $1`, key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, mapErr(err)
	}
	if d := fromMicros(until).Sub(now); d > 0 {
		return d, nil
	}
	return 0, nil
}

// ThrottleFail records a failure of key; the free-th failure within
// window locks it for base, doubling with each lock up to max. It returns
// the lock (0: none).
func (s *Store) ThrottleFail(ctx context.Context, key string, now time.Time, free int, window, base, max time.Duration) (time.Duration, error) {
	var lock time.Duration
	err := s.InTx(ctx, func(tx *Tx) error {
		lock = 0
		if _, err := tx.exec(ctx, `DELETE FROM throttle_failures WHERE key = $1 AND at <= $2`, key, micros(now.Add(-window))); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO throttle_failures (key, at) VALUES ($1, $2)`, key, micros(now)); err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM throttle_failures WHERE key = $1`, key).Scan(&n); err != nil {
			return err
		}
		if n < free {
			return nil
		}
		var locks int
		err := tx.queryRow(ctx, `SELECT locks FROM throttle_locks WHERE key = $1`, key).Scan(&locks)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		lock = base << locks
		if lock > max || lock <= 0 {
			lock = max
		}
		if _, err := tx.exec(ctx, `INSERT INTO throttle_locks (key, held_until, locks) VALUES ($1, $2, 1)
			ON CONFLICT (key) DO UPDATE SET held_until = excluded.held_until, locks = throttle_locks.locks + 1`, key, micros(now.Add(lock))); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `DELETE FROM throttle_failures WHERE key = $1`, key)
		return err
	})
	return lock, mapErr(err)
}

// ThrottleForgive forgets key's failures and lock (the right password).
func (s *Store) ThrottleForgive(ctx context.Context, key string) error {
	return mapErr(s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `DELETE FROM throttle_failures WHERE key = $1`, key); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `DELETE FROM throttle_locks WHERE key = $1`, key)
		return err
	}))
}
