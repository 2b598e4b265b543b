package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"time"
)

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	return sub
}

// Account is a login: an applicant or a CA staff member.
type Account struct {
	ID           string
	Mobile       string // "" when registered by email only
	Email        string
	PasswordHash string
	Role         string
	Disabled     bool
	CreatedAt    time.Time
	TOTPSecret   []byte // sealed; staff only
	StaffRoles   string // comma-separated api.StaffRole values; staff only
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateAccount inserts an account. A taken mobile or email is a
// *ConflictError naming the column.
func (t *Tx) CreateAccount(ctx context.Context, a *Account) error {
	_, err := t.exec(ctx, `INSERT INTO accounts (id, mobile, email, password_hash, role, disabled, created_at, staff_roles) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		a.ID, nullable(a.Mobile), nullable(a.Email), a.PasswordHash, a.Role, boolInt(a.Disabled), micros(a.CreatedAt), a.StaffRoles)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const accountCols = `id, COALESCE(mobile,''), COALESCE(email,''), password_hash, role, disabled, created_at, totp_secret, staff_roles`

func scanAccount(row interface{ Scan(...any) error }) (*Account, error) {
	var a Account
	var disabled int
	var created int64
	var totp string
	if err := row.Scan(&a.ID, &a.Mobile, &a.Email, &a.PasswordHash, &a.Role, &disabled, &created, &totp, &a.StaffRoles); err != nil {
		return nil, mapErr(err)
	}
	a.Disabled, a.CreatedAt = disabled != 0, fromMicros(created)
	if totp != "" {
		b, err := base64.StdEncoding.DecodeString(totp)
		if err != nil {
			return nil, fmt.Errorf("account %s: totp: %w", a.ID, err)
		}
		a.TOTPSecret = b
	}
	return &a, nil
}

// AccountByLogin finds an account by mobile or email.
func (s *Store) AccountByLogin(ctx context.Context, login string) (*Account, error) {
	return scanAccount(s.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE mobile = $1 OR email = $1`, login))
}

// AccountByID finds an account.
func (s *Store) AccountByID(ctx context.Context, id string) (*Account, error) {
	return scanAccount(s.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
}

// ListAccounts lists accounts of a role ("" for all), newest first.
func (s *Store) ListAccounts(ctx context.Context, role string) ([]*Account, error) {
	rows, err := s.query(ctx, `SELECT `+accountCols+` FROM accounts WHERE $1 = '' OR role = $1 ORDER BY created_at DESC`, role)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetPassword replaces an account's password hash and ends its sessions.
func (t *Tx) SetPassword(ctx context.Context, id, hash string) error {
	r, err := t.exec(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	_, err = t.exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, id)
	return err
}

// SetDisabled disables or enables an account; disabling ends its sessions.
func (t *Tx) SetDisabled(ctx context.Context, id string, disabled bool) error {
	r, err := t.exec(ctx, `UPDATE accounts SET disabled = $1 WHERE id = $2`, boolInt(disabled), id)
	if err != nil {
		return fmt.Errorf("disable account: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if disabled {
		_, err = t.exec(ctx, `DELETE FROM sessions WHERE account_id = $1`, id)
	}
	return err
}

// CreateSession stores a session by the hash of its token; certSerial is
// the certificate of a UKEY login ("" for a password login).
func (t *Tx) CreateSession(ctx context.Context, tokenHash, accountID string, now, expires time.Time, certSerial string) error {
	via := "password"
	if certSerial != "" {
		via = "ukey"
	}
	_, err := t.exec(ctx, `INSERT INTO sessions (token_hash, account_id, created_at, expires_at, via, cert_serial) VALUES ($1,$2,$3,$4,$5,$6)`,
		tokenHash, accountID, micros(now), micros(expires), via, certSerial)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionAccount returns the account of a live session and, for a UKEY
// login, the serial of the certificate it was opened with.
func (s *Store) SessionAccount(ctx context.Context, tokenHash string, now time.Time) (*Account, string, error) {
	row := s.queryRow(ctx, `SELECT a.id, COALESCE(a.mobile,''), COALESCE(a.email,''), a.password_hash, a.role, a.disabled, a.created_at, a.staff_roles, s.cert_serial FROM sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0`, tokenHash, micros(now))
	var a Account
	var disabled int
	var created int64
	var serial string
	if err := row.Scan(&a.ID, &a.Mobile, &a.Email, &a.PasswordHash, &a.Role, &disabled, &created, &a.StaffRoles, &serial); err != nil {
		return nil, "", mapErr(err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, serial, nil
}

// DeleteSession ends a session (logout).
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return mapErr(err)
}

// DeleteExpiredSessions removes sessions past their expiry.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	r, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, micros(now))
	if err != nil {
		return 0, mapErr(err)
	}
	return r.RowsAffected()
}

// SetStaffRoles replaces a staff member's duties.
func (s *Store) SetStaffRoles(ctx context.Context, id, roles string) error {
	_, err := s.exec(ctx, `UPDATE accounts SET staff_roles = $1 WHERE id = $2 AND role = 'staff'`, roles, id)
	return mapErr(err)
}

// SetTOTP stores a staff account's sealed TOTP secret and forgets the
// steps used with the one before.
func (s *Store) SetTOTP(ctx context.Context, id string, sealed []byte) error {
	_, err := s.exec(ctx, `UPDATE accounts SET totp_secret = $1, totp_step = 0 WHERE id = $2`, base64.StdEncoding.EncodeToString(sealed), id)
	return mapErr(err)
}

// UseTOTPStep takes a TOTP time step for the account: true when it is
// later than every step taken before (a code accepted once is never
// accepted again, also by a racing request).
func (s *Store) UseTOTPStep(ctx context.Context, id string, step int64) (bool, error) {
	r, err := s.exec(ctx, `UPDATE accounts SET totp_step = $1 WHERE id = $2 AND totp_step < $1`, step, id)
	if err != nil {
		return false, mapErr(err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}
