package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"
)

// UKEY is a token the CA initialised, with its SO PIN sealed.
type UKEY struct {
	Serial    string
	Label     string
	SOPIN     []byte // sealed under the CA's KEK
	NextSOPIN []byte // sealed; a rotation handed out, not yet confirmed
	OwnerID   string
	CreatedAt time.Time
	CreatedBy string
	RotatedAt time.Time // zero: never rotated
	Unlocks   int
}

const ukeyCols = `serial, label, so_pin, next_so_pin, owner_id, created_at, created_by, rotated_at, unlocks`

func scanUKEY(row interface{ Scan(...any) error }) (*UKEY, error) {
	var u UKEY
	var so, next string
	var c, r int64
	if err := row.Scan(&u.Serial, &u.Label, &so, &next, &u.OwnerID, &c, &u.CreatedBy, &r, &u.Unlocks); err != nil {
		return nil, mapErr(err)
	}
	var err error
	if u.SOPIN, err = base64.StdEncoding.DecodeString(so); err != nil {
		return nil, fmt.Errorf("ukey %s: %w", u.Serial, err)
	}
	if u.NextSOPIN, err = base64.StdEncoding.DecodeString(next); err != nil {
		return nil, fmt.Errorf("ukey %s: %w", u.Serial, err)
	}
	u.CreatedAt = fromMicros(c)
	if r != 0 {
		u.RotatedAt = fromMicros(r)
	}
	return &u, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// AddUKEY records an initialised UKEY; a serial recorded before is a
// *ConflictError on serial.
func (s *Store) AddUKEY(ctx context.Context, u *UKEY) error {
	_, err := s.exec(ctx, `INSERT INTO ukeys (`+ukeyCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		u.Serial, u.Label, b64(u.SOPIN), b64(u.NextSOPIN), u.OwnerID, micros(u.CreatedAt), u.CreatedBy, 0, 0)
	return mapErr(err)
}

// UKEYs lists the recorded UKEYs, oldest first.
func (s *Store) UKEYs(ctx context.Context) ([]*UKEY, error) {
	rows, err := s.query(ctx, `SELECT `+ukeyCols+` FROM ukeys ORDER BY created_at, serial`)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*UKEY
	for rows.Next() {
		u, err := scanUKEY(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UKEY reads one UKEY inside t, locking its row on PostgreSQL.
func (t *Tx) UKEY(ctx context.Context, serial string) (*UKEY, error) {
	q := `SELECT ` + ukeyCols + ` FROM ukeys WHERE serial = $1`
	if t.engine == Postgres {
		q += ` FOR UPDATE`
	}
	return scanUKEY(t.queryRow(ctx, q, serial))
}

// SaveUKEY writes a UKEY's owner, SO PINs and counters.
func (t *Tx) SaveUKEY(ctx context.Context, u *UKEY) error {
	rot := int64(0)
	if !u.RotatedAt.IsZero() {
		rot = micros(u.RotatedAt)
	}
	_, err := t.exec(ctx, `UPDATE ukeys SET so_pin = $1, next_so_pin = $2, owner_id = $3, rotated_at = $4, unlocks = $5 WHERE serial = $6`,
		b64(u.SOPIN), b64(u.NextSOPIN), u.OwnerID, rot, u.Unlocks, u.Serial)
	return err
}

// CertificatesOnToken lists the certificates downloaded onto a UKEY serial.
func (t *Tx) CertificatesOnToken(ctx context.Context, serial string) ([]*Certificate, error) {
	rows, err := t.query(ctx, `SELECT `+certCols+` FROM certificates WHERE token_serial = $1 ORDER BY issued_at DESC`, serial)
	return scanCerts(rows, err)
}

// Unlock is a holder's request to unlock a locked user PIN.
type Unlock struct {
	ID            string
	Serial        string
	AccountID     string
	ApplicationID string
	State         string
	CodeMAC       string
	Attempts      int
	Mobile        string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	ApprovedBy    string
	UpdatedAt     time.Time
}

const unlockCols = `id, serial, account_id, application_id, state, code_mac, attempts, mobile, created_at, expires_at, approved_by, updated_at`

func scanUnlock(row interface{ Scan(...any) error }) (*Unlock, error) {
	var u Unlock
	var c, e, up int64
	if err := row.Scan(&u.ID, &u.Serial, &u.AccountID, &u.ApplicationID, &u.State, &u.CodeMAC, &u.Attempts, &u.Mobile, &c, &e, &u.ApprovedBy, &up); err != nil {
		return nil, mapErr(err)
	}
	u.CreatedAt, u.ExpiresAt, u.UpdatedAt = fromMicros(c), fromMicros(e), fromMicros(up)
	return &u, nil
}

// AddUnlock records a new unlock request.
func (t *Tx) AddUnlock(ctx context.Context, u *Unlock) error {
	_, err := t.exec(ctx, `INSERT INTO ukey_unlocks (`+unlockCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		u.ID, u.Serial, u.AccountID, u.ApplicationID, u.State, u.CodeMAC, u.Attempts, u.Mobile, micros(u.CreatedAt), micros(u.ExpiresAt), u.ApprovedBy, micros(u.UpdatedAt))
	return err
}

// Unlock reads one unlock request inside t, locking it on PostgreSQL.
func (t *Tx) Unlock(ctx context.Context, id string) (*Unlock, error) {
	q := `SELECT ` + unlockCols + ` FROM ukey_unlocks WHERE id = $1`
	if t.engine == Postgres {
		q += ` FOR UPDATE`
	}
	return scanUnlock(t.queryRow(ctx, q, id))
}

// SaveUnlock writes an unlock request's state, attempts and approval.
func (t *Tx) SaveUnlock(ctx context.Context, u *Unlock) error {
	_, err := t.exec(ctx, `UPDATE ukey_unlocks SET state = $1, attempts = $2, approved_by = $3, expires_at = $4, updated_at = $5 WHERE id = $6`,
		u.State, u.Attempts, u.ApprovedBy, micros(u.ExpiresAt), micros(u.UpdatedAt), u.ID)
	return err
}

// Unlocks lists unlock requests in a state ("" for all), newest first.
func (s *Store) Unlocks(ctx context.Context, state string) ([]*Unlock, error) {
	rows, err := s.query(ctx, `SELECT `+unlockCols+` FROM ukey_unlocks WHERE $1 = '' OR state = $1 ORDER BY created_at DESC`, state)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*Unlock
	for rows.Next() {
		u, err := scanUnlock(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// AuditEntry is one line of an account's audit history.
type AuditEntry struct {
	ID        string
	AccountID string
	At        time.Time
	Actor     string
	Event     string
	Detail    string
}

// Audit appends to an account's audit history.
func (t *Tx) Audit(ctx context.Context, e *AuditEntry) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	_, err := t.exec(ctx, `INSERT INTO audit (id, account_id, at, actor, event, detail) VALUES ($1,$2,$3,$4,$5,$6)`,
		e.ID, e.AccountID, micros(e.At), e.Actor, e.Event, e.Detail)
	return err
}

// AuditOf lists an account's audit history, oldest first.
func (s *Store) AuditOf(ctx context.Context, accountID string) ([]*AuditEntry, error) {
	rows, err := s.query(ctx, `SELECT id, account_id, at, actor, event, detail FROM audit WHERE account_id = $1 ORDER BY at, id`, accountID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.AccountID, &at, &e.Actor, &e.Event, &e.Detail); err != nil {
			return nil, mapErr(err)
		}
		e.At = fromMicros(at)
		out = append(out, &e)
	}
	return out, rows.Err()
}

// MarkReminder records that the reminder for a certificate and threshold
// is sent, in t with the message; false when it was recorded before (the
// job ran already, here or in another process).
func (t *Tx) MarkReminder(ctx context.Context, serial string, threshold int, at time.Time) (bool, error) {
	r, err := t.exec(ctx, `INSERT INTO reminders (cert_serial, threshold, sent_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`, serial, threshold, micros(at))
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// ExpiringCertificates lists valid certificates whose validity ends before
// t, with the application they belong to.
func (s *Store) ExpiringCertificates(ctx context.Context, before time.Time) ([]*Certificate, error) {
	rows, err := s.query(ctx, `SELECT `+certCols+` FROM certificates WHERE revoked_at IS NULL AND not_after < $1 ORDER BY not_after`, micros(before))
	return scanCerts(rows, err)
}

// CertificateSerials maps each of an owner's applications to its newest
// certificate's serial.
func (s *Store) CertificateSerials(ctx context.Context, ownerID string) (map[string]string, error) {
	rows, err := s.query(ctx, `SELECT c.application_id, c.serial FROM certificates c JOIN applications a ON a.id = c.application_id WHERE a.owner_id = $1 ORDER BY c.issued_at`, ownerID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var app, serial string
		if err := rows.Scan(&app, &serial); err != nil {
			return nil, mapErr(err)
		}
		out[app] = serial // newest last, so newest wins
	}
	return out, rows.Err()
}
