package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// StaffAction is one row of the hash-chained staff audit log.
type StaffAction struct {
	Seq      int64
	At       time.Time
	Actor    string // the staff account, or cli:USER on the server's machine
	Addr     string // where it came from
	Action   string
	Target   string // the application, UKEY or account acted on
	Detail   string
	PrevHash string
	Hash     string
}

// Sum is the row's hash: SHA-256 over the previous hash and every field,
// each length-prefixed so no two rows can share an encoding.
func (a *StaffAction) Sum() string {
	h := sha256.New()
	for _, f := range []string{a.PrevHash, fmt.Sprint(a.Seq), fmt.Sprint(micros(a.At)), a.Actor, a.Addr, a.Action, a.Target, a.Detail} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AppendStaffAction adds a to the chain inside t (the action's own
// transaction: an action and its log row commit together).
func (t *Tx) AppendStaffAction(ctx context.Context, a *StaffAction) error {
	q := `SELECT seq, hash FROM audit_head WHERE id = 1`
	if t.engine == Postgres {
		q += ` FOR UPDATE`
	}
	var seq int64
	var prev string
	if err := t.queryRow(ctx, q).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("audit head: %w", mapErr(err))
	}
	a.Seq, a.PrevHash = seq+1, prev
	a.Hash = a.Sum()
	if _, err := t.exec(ctx, `INSERT INTO audit_log (seq, at, actor, addr, action, target, detail, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		a.Seq, micros(a.At), a.Actor, a.Addr, a.Action, a.Target, a.Detail, a.PrevHash, a.Hash); err != nil {
		return fmt.Errorf("audit append: %w", err)
	}
	if _, err := t.exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, a.Seq, a.Hash); err != nil {
		return fmt.Errorf("audit head: %w", err)
	}
	return nil
}

// StaffActions calls fn for every row, oldest first, then returns the
// head's number and hash.
func (s *Store) StaffActions(ctx context.Context, fn func(*StaffAction) error) (headSeq int64, headHash string, err error) {
	rows, err := s.query(ctx, `SELECT seq, at, actor, addr, action, target, detail, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return 0, "", mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a StaffAction
		var at int64
		if err := rows.Scan(&a.Seq, &at, &a.Actor, &a.Addr, &a.Action, &a.Target, &a.Detail, &a.PrevHash, &a.Hash); err != nil {
			return 0, "", mapErr(err)
		}
		a.At = fromMicros(at)
		if err := fn(&a); err != nil {
			return 0, "", err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	err = s.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash)
	return headSeq, headHash, mapErr(err)
}
