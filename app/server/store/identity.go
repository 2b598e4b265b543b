package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// IdentitySession is one face-ID verification of an application.
type IdentitySession struct {
	ID            string
	ApplicationID string
	Status        string // pending, passed, failed, expired
	Attempts      int
	MaxAttempts   int
	Reason        string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

const idsCols = `id, application_id, status, attempts, max_attempts, reason, created_at, expires_at`

func scanIdentity(row interface{ Scan(...any) error }) (*IdentitySession, error) {
	var s IdentitySession
	var c, e int64
	if err := row.Scan(&s.ID, &s.ApplicationID, &s.Status, &s.Attempts, &s.MaxAttempts, &s.Reason, &c, &e); err != nil {
		return nil, mapErr(err)
	}
	s.CreatedAt, s.ExpiresAt = fromMicros(c), fromMicros(e)
	return &s, nil
}

// AddIdentitySession records a new verification session.
func (t *Tx) AddIdentitySession(ctx context.Context, s *IdentitySession) error {
	_, err := t.exec(ctx, `INSERT INTO identity_sessions (`+idsCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		s.ID, s.ApplicationID, s.Status, s.Attempts, s.MaxAttempts, s.Reason, micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("add identity session: %w", err)
	}
	return nil
}

// SaveIdentitySession writes a session's status, attempts and reason.
func (t *Tx) SaveIdentitySession(ctx context.Context, s *IdentitySession) error {
	_, err := t.exec(ctx, `UPDATE identity_sessions SET status=$1, attempts=$2, reason=$3 WHERE id=$4`, s.Status, s.Attempts, s.Reason, s.ID)
	return err
}

// IdentitySession reads a session inside a transaction.
func (t *Tx) IdentitySession(ctx context.Context, id string) (*IdentitySession, error) {
	return scanIdentity(t.queryRow(ctx, `SELECT `+idsCols+` FROM identity_sessions WHERE id = $1`, id))
}

// LatestIdentitySession is an application's newest session.
func (s *Store) LatestIdentitySession(ctx context.Context, appID string) (*IdentitySession, error) {
	return scanIdentity(s.queryRow(ctx, `SELECT `+idsCols+` FROM identity_sessions WHERE application_id = $1 ORDER BY created_at DESC LIMIT 1`, appID))
}

// IdentitySessionByID reads a session.
func (s *Store) IdentitySessionByID(ctx context.Context, id string) (*IdentitySession, error) {
	return scanIdentity(s.queryRow(ctx, `SELECT `+idsCols+` FROM identity_sessions WHERE id = $1`, id))
}

// SeeCallback records a callback ID; false when it was seen before (a
// replay), which the caller must then ignore.
func (t *Tx) SeeCallback(ctx context.Context, id string, now time.Time) (bool, error) {
	_, err := t.exec(ctx, `INSERT INTO seen_callbacks (id, seen_at) VALUES ($1,$2)`, id, micros(now))
	if _, dup := err.(*ConflictError); dup {
		return false, nil
	}
	return err == nil, err
}

// Payment is one attempt to pay an application's fee.
type Payment struct {
	ID            string // out_trade_no for online payments
	ApplicationID string
	Method        string // bank_transfer or online
	AmountFen     int64
	Status        string // unpaid, pending, paid, closed
	QR            string
	TradeNo       string
	RefundNeeded  bool
	CreatedAt     time.Time
	ExpiresAt     time.Time
	PaidAt        time.Time
	RefundedAt    time.Time // finance recorded the money returned
	RefundNote    string
}

const payCols = `id, application_id, method, amount_fen, status, qr, trade_no, refund_needed, created_at, expires_at, COALESCE(paid_at, 0), refunded_at, refund_note`

func scanPayment(row interface{ Scan(...any) error }) (*Payment, error) {
	var p Payment
	var refund int
	var c, e, paid, refunded int64
	if err := row.Scan(&p.ID, &p.ApplicationID, &p.Method, &p.AmountFen, &p.Status, &p.QR, &p.TradeNo, &refund, &c, &e, &paid, &refunded, &p.RefundNote); err != nil {
		return nil, mapErr(err)
	}
	if refunded != 0 {
		p.RefundedAt = fromMicros(refunded)
	}
	p.RefundNeeded, p.CreatedAt, p.ExpiresAt = refund != 0, fromMicros(c), fromMicros(e)
	if paid != 0 {
		p.PaidAt = fromMicros(paid)
	}
	return &p, nil
}

// AddPayment records a payment attempt.
func (t *Tx) AddPayment(ctx context.Context, p *Payment) error {
	_, err := t.exec(ctx, `INSERT INTO payments (id, application_id, method, amount_fen, status, qr, trade_no, refund_needed, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,0,$8,$9)`,
		p.ID, p.ApplicationID, p.Method, p.AmountFen, p.Status, p.QR, p.TradeNo, micros(p.CreatedAt), micros(p.ExpiresAt))
	if err != nil {
		return fmt.Errorf("add payment: %w", err)
	}
	return nil
}

// SavePayment writes a payment's status.
func (t *Tx) SavePayment(ctx context.Context, p *Payment) error {
	var paid any
	if !p.PaidAt.IsZero() {
		paid = micros(p.PaidAt)
	}
	_, err := t.exec(ctx, `UPDATE payments SET status=$1, qr=$2, trade_no=$3, refund_needed=$4, paid_at=$5 WHERE id=$6`,
		p.Status, p.QR, p.TradeNo, boolInt(p.RefundNeeded), paid, p.ID)
	return err
}

// Payment reads a payment inside a transaction.
func (t *Tx) Payment(ctx context.Context, id string) (*Payment, error) {
	q := `SELECT ` + payCols + ` FROM payments WHERE id = $1`
	if t.engine == Postgres {
		q += ` FOR UPDATE`
	}
	return scanPayment(t.queryRow(ctx, q, id))
}

// PaymentByID reads one payment.
func (s *Store) PaymentByID(ctx context.Context, id string) (*Payment, error) {
	return scanPayment(s.queryRow(ctx, `SELECT `+payCols+` FROM payments WHERE id = $1`, id))
}

// LatestPayment is an application's newest payment attempt.
func (s *Store) LatestPayment(ctx context.Context, appID string) (*Payment, error) {
	return scanPayment(s.queryRow(ctx, `SELECT `+payCols+` FROM payments WHERE application_id = $1 ORDER BY created_at DESC LIMIT 1`, appID))
}

// PendingPayments lists online payments still waiting, for the query
// fallback and the timeout close.
func (s *Store) PendingPayments(ctx context.Context) ([]*Payment, error) {
	return queryPayments(s.query(ctx, `SELECT `+payCols+` FROM payments WHERE status = 'pending' ORDER BY created_at`))
}

func queryPayments(rows *sql.Rows, err error) ([]*Payment, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
