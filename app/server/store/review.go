package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"certdesk/app/apply"
)

// RejectReason is one entry of the CA's list of reasons for returning a
// material.
type RejectReason struct {
	Code         string
	ZH, EN       string
	MaterialType apply.MaterialType // "" fits any material
	Position     int
	Retired      bool
}

// RejectReasons lists the reasons in the CA's order; retired ones only
// when asked (a past rejection still names them).
func (s *Store) RejectReasons(ctx context.Context, withRetired bool) ([]*RejectReason, error) {
	rows, err := s.query(ctx, `SELECT code, zh, en, material_type, position, retired FROM reject_reasons ORDER BY position, code`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*RejectReason
	for rows.Next() {
		var r RejectReason
		var retired int
		if err := rows.Scan(&r.Code, &r.ZH, &r.EN, &r.MaterialType, &r.Position, &retired); err != nil {
			return nil, mapErr(err)
		}
		r.Retired = retired != 0
		if withRetired || !r.Retired {
			out = append(out, &r)
		}
	}
	return out, rows.Err()
}

// SaveRejectReason adds a reason or changes one (a change of wording
// shows in rejections made before it, which keep only the code).
func (s *Store) SaveRejectReason(ctx context.Context, r *RejectReason) error {
	_, err := s.exec(ctx, `INSERT INTO reject_reasons (code, zh, en, material_type, position, retired) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (code) DO UPDATE SET zh = excluded.zh, en = excluded.en, material_type = excluded.material_type, position = excluded.position, retired = excluded.retired`,
		r.Code, r.ZH, r.EN, string(r.MaterialType), r.Position, boolInt(r.Retired))
	return mapErr(err)
}

// MaterialRejection is a reviewer's return of one material.
type MaterialRejection struct {
	MaterialID    string
	ApplicationID string
	ReasonCode    string
	Note          string
	By            string
	At            time.Time
}

// AddMaterialRejection records (or replaces) the return of a material.
func (t *Tx) AddMaterialRejection(ctx context.Context, r *MaterialRejection) error {
	_, err := t.exec(ctx, `INSERT INTO material_rejections (material_id, application_id, reason_code, note, by_account, at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (material_id) DO UPDATE SET reason_code = excluded.reason_code, note = excluded.note, by_account = excluded.by_account, at = excluded.at`,
		r.MaterialID, r.ApplicationID, r.ReasonCode, r.Note, r.By, micros(r.At))
	if err != nil {
		return fmt.Errorf("material rejection: %w", err)
	}
	return nil
}

// MaterialRejections returns the returns of an application's live
// materials, by material ID.
func (s *Store) MaterialRejections(ctx context.Context, appID string) (map[string]*MaterialRejection, error) {
	return scanRejections(s.query(ctx, rejectionsQuery, appID))
}

// MaterialRejections in a transaction.
func (t *Tx) MaterialRejections(ctx context.Context, appID string) (map[string]*MaterialRejection, error) {
	return scanRejections(t.query(ctx, rejectionsQuery, appID))
}

const rejectionsQuery = `SELECT r.material_id, r.application_id, r.reason_code, r.note, r.by_account, r.at FROM material_rejections r
	JOIN materials m ON m.id = r.material_id WHERE r.application_id = $1 AND m.deleted_at IS NULL`

func scanRejections(rows *sql.Rows, err error) (map[string]*MaterialRejection, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]*MaterialRejection{}
	for rows.Next() {
		var r MaterialRejection
		var at int64
		if err := rows.Scan(&r.MaterialID, &r.ApplicationID, &r.ReasonCode, &r.Note, &r.By, &at); err != nil {
			return nil, mapErr(err)
		}
		r.At = fromMicros(at)
		out[r.MaterialID] = &r
	}
	return out, rows.Err()
}

// Approval is one reviewer's approval in the current round.
type Approval struct {
	AccountID string
	At        time.Time
}

// ReviewApprovals lists the approvals an application holds.
func (t *Tx) ReviewApprovals(ctx context.Context, appID string) ([]Approval, error) {
	return scanApprovals(t.query(ctx, `SELECT account_id, at FROM review_approvals WHERE application_id = $1 ORDER BY at`, appID))
}

// ReviewApprovals outside a transaction.
func (s *Store) ReviewApprovals(ctx context.Context, appID string) ([]Approval, error) {
	return scanApprovals(s.query(ctx, `SELECT account_id, at FROM review_approvals WHERE application_id = $1 ORDER BY at`, appID))
}

func scanApprovals(rows *sql.Rows, err error) ([]Approval, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var a Approval
		var at int64
		if err := rows.Scan(&a.AccountID, &at); err != nil {
			return nil, mapErr(err)
		}
		a.At = fromMicros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// AddReviewApproval records an approval; a second one by the same
// account is ErrConflict (the primary key says so, whatever the race).
func (t *Tx) AddReviewApproval(ctx context.Context, appID, accountID string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO review_approvals (application_id, account_id, at) VALUES ($1,$2,$3)`, appID, accountID, micros(at))
	return mapErr(err)
}

// ClearReviewApprovals ends a review round (a rejection, or the approval
// that completed it).
func (t *Tx) ClearReviewApprovals(ctx context.Context, appID string) error {
	_, err := t.exec(ctx, `DELETE FROM review_approvals WHERE application_id = $1`, appID)
	return err
}

// ReviewLock is who is looking at an application, until when.
type ReviewLock struct {
	ApplicationID string
	AccountID     string
	Until         time.Time
}

// TakeReviewLock gives accountID the application's lock unless someone
// else holds it unexpired; it returns the lock as it then stands.
func (s *Store) TakeReviewLock(ctx context.Context, appID, accountID string, now, until time.Time) (*ReviewLock, error) {
	_, err := s.exec(ctx, `INSERT INTO review_locks (application_id, account_id, held_until) VALUES ($1,$2,$3)
		ON CONFLICT (application_id) DO UPDATE SET account_id = excluded.account_id, held_until = excluded.held_until
		WHERE review_locks.account_id = excluded.account_id OR review_locks.held_until <= $4`, appID, accountID, micros(until), micros(now))
	if err != nil {
		return nil, mapErr(err)
	}
	var l ReviewLock
	var u int64
	if err := s.queryRow(ctx, `SELECT application_id, account_id, held_until FROM review_locks WHERE application_id = $1`, appID).Scan(&l.ApplicationID, &l.AccountID, &u); err != nil {
		return nil, mapErr(err)
	}
	l.Until = fromMicros(u)
	return &l, nil
}

// ReleaseReviewLock ends accountID's lock (after a decision).
func (t *Tx) ReleaseReviewLock(ctx context.Context, appID string) error {
	_, err := t.exec(ctx, `DELETE FROM review_locks WHERE application_id = $1`, appID)
	return err
}

// ReviewLocks returns the unexpired locks by application.
func (s *Store) ReviewLocks(ctx context.Context, now time.Time) (map[string]*ReviewLock, error) {
	rows, err := s.query(ctx, `SELECT application_id, account_id, held_until FROM review_locks WHERE held_until > $1`, micros(now))
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]*ReviewLock{}
	for rows.Next() {
		var l ReviewLock
		var u int64
		if err := rows.Scan(&l.ApplicationID, &l.AccountID, &u); err != nil {
			return nil, mapErr(err)
		}
		l.Until = fromMicros(u)
		out[l.ApplicationID] = &l
	}
	return out, rows.Err()
}

// RefundPayments lists payments flagged for refund (money that arrived
// for a cancelled application), the recorded ones too.
func (s *Store) RefundPayments(ctx context.Context) ([]*Payment, error) {
	return queryPayments(s.query(ctx, `SELECT `+payCols+` FROM payments WHERE refund_needed = 1 ORDER BY created_at`))
}

// RecordRefund marks a flagged payment returned; once only.
func (t *Tx) RecordRefund(ctx context.Context, paymentID, note string, at time.Time) error {
	r, err := t.exec(ctx, `UPDATE payments SET refunded_at = $1, refund_note = $2 WHERE id = $3 AND refund_needed = 1 AND refunded_at = 0`, micros(at), note, paymentID)
	if err != nil {
		return fmt.Errorf("record refund: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchSession slides a session's expiry to until, never past created_at
// + maxAge: the console's idle timeout.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, now, until time.Time, maxAge time.Duration) error {
	_, err := s.exec(ctx, `UPDATE sessions SET expires_at = CASE WHEN created_at + $1 < $2 THEN created_at + $1 ELSE $2 END
		WHERE token_hash = $3 AND expires_at > $4`, maxAge.Microseconds(), micros(until), tokenHash, micros(now))
	return mapErr(err)
}

// CertificateSearch finds issued certificates whose serial, subject or
// application ID contains q (case-insensitive), newest first.
func (s *Store) CertificateSearch(ctx context.Context, q string, limit int) ([]*Certificate, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(q)) + "%"
	return scanCerts(s.query(ctx, `SELECT `+certCols+` FROM certificates c JOIN applications a ON a.id = c.application_id
		WHERE lower(c.serial) LIKE $1 ESCAPE '\' OR lower(a.subject) LIKE $1 ESCAPE '\' OR lower(c.application_id) LIKE $1 ESCAPE '\'
		ORDER BY c.not_before DESC LIMIT $2`, like, limit))
}

// Setting reads one of the CA's policies ("" when unset).
func (t *Tx) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := t.queryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

// Setting outside a transaction.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return v, err
}

// SetSetting writes one of the CA's policies.
func (t *Tx) SetSetting(ctx context.Context, key, value string) error {
	_, err := t.exec(ctx, `INSERT INTO settings (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// PendingMethods is the method of each application's newest payment, for
// the applications waiting on one (one query for the whole queue).
func (s *Store) PendingMethods(ctx context.Context) (map[string]string, error) {
	rows, err := s.query(ctx, `SELECT p.application_id, p.method FROM payments p
		JOIN applications a ON a.id = p.application_id AND a.state = 'payment_pending'
		WHERE p.created_at = (SELECT MAX(created_at) FROM payments q WHERE q.application_id = p.application_id)`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, m string
		if err := rows.Scan(&id, &m); err != nil {
			return nil, mapErr(err)
		}
		out[id] = m
	}
	return out, rows.Err()
}

// ApprovalCounts is how many approvals each application in review holds.
func (s *Store) ApprovalCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.query(ctx, `SELECT application_id, COUNT(*) FROM review_approvals GROUP BY application_id`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, mapErr(err)
		}
		out[id] = n
	}
	return out, rows.Err()
}
