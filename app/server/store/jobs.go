package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// TakeRun claims the run of job name that is due at now for owner, and
// books its next run at next. It reports whether this caller is the one
// to run it: of several instances looking at once exactly one is (the
// conditional upsert is one statement on one row), and none until next.
func (s *Store) TakeRun(ctx context.Context, name, owner string, now, next time.Time) (bool, error) {
	var got string
	err := s.InTx(ctx, func(tx *Tx) error {
		return tx.queryRow(ctx, `INSERT INTO job_runs (name, owner, next_run) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, next_run = excluded.next_run
			WHERE job_runs.next_run <= $4
			RETURNING owner`, name, owner, micros(next), micros(now)).Scan(&got)
	})
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, mapErr(err)
	}
	return got == owner, nil
}
