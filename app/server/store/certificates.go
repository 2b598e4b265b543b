package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"
)

// Certificate is an issued certificate.
type Certificate struct {
	Serial        string // hex
	ApplicationID string
	KeyID         string // SHA-256 of the SubjectPublicKeyInfo
	DER           []byte
	NotBefore     time.Time
	NotAfter      time.Time
	IssuedAt      time.Time
	RevokedAt     time.Time // zero when valid
	RevokeReason  int
	TokenSerial   string // the UKEY it was downloaded onto, as the client said
}

const certCols = `serial, application_id, key_id, der, not_before, not_after, issued_at, COALESCE(revoked_at, 0), revoke_reason, token_serial`

func scanCert(row interface{ Scan(...any) error }) (*Certificate, error) {
	var c Certificate
	var der string
	var nb, na, ia, ra int64
	if err := row.Scan(&c.Serial, &c.ApplicationID, &c.KeyID, &der, &nb, &na, &ia, &ra, &c.RevokeReason, &c.TokenSerial); err != nil {
		return nil, mapErr(err)
	}
	b, err := base64.StdEncoding.DecodeString(der)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", c.Serial, err)
	}
	c.DER, c.NotBefore, c.NotAfter, c.IssuedAt = b, fromMicros(nb), fromMicros(na), fromMicros(ia)
	if ra != 0 {
		c.RevokedAt = fromMicros(ra)
	}
	return &c, nil
}

// AddCertificate records an issued certificate. A key certified before is
// a *ConflictError on key_id.
func (t *Tx) AddCertificate(ctx context.Context, c *Certificate) error {
	_, err := t.exec(ctx, `INSERT INTO certificates (serial, application_id, key_id, der, not_before, not_after, issued_at, revoke_reason, token_serial) VALUES ($1,$2,$3,$4,$5,$6,$7,0,$8)`,
		c.Serial, c.ApplicationID, c.KeyID, base64.StdEncoding.EncodeToString(c.DER), micros(c.NotBefore), micros(c.NotAfter), micros(c.IssuedAt), c.TokenSerial)
	if err != nil {
		return fmt.Errorf("add certificate: %w", err)
	}
	return nil
}

// CertificateOf returns an application's newest certificate.
func (t *Tx) CertificateOf(ctx context.Context, appID string) (*Certificate, error) {
	return scanCert(t.queryRow(ctx, `SELECT `+certCols+` FROM certificates WHERE application_id = $1 ORDER BY issued_at DESC LIMIT 1`, appID))
}

// CertificateOf returns an application's newest certificate.
func (s *Store) CertificateOf(ctx context.Context, appID string) (*Certificate, error) {
	return scanCert(s.queryRow(ctx, `SELECT `+certCols+` FROM certificates WHERE application_id = $1 ORDER BY issued_at DESC LIMIT 1`, appID))
}

// CertificateBySerial finds a certificate.
func (s *Store) CertificateBySerial(ctx context.Context, serial string) (*Certificate, error) {
	return scanCert(s.queryRow(ctx, `SELECT `+certCols+` FROM certificates WHERE serial = $1`, serial))
}

// reasonSuperseded is RFC 5280's superseded (4).
const reasonSuperseded = 4

// RevokeCertificates marks an application's valid certificates revoked,
// ends the sessions opened with them (UKEY logins) unless superseded, and moves the CRL's
// revision so the next CRL request signs a new one — all in t.
func (t *Tx) RevokeCertificates(ctx context.Context, appID string, reason int, at time.Time) (int64, error) {
	// A certificate superseded by its renewal is not compromised: the
	// session the holder renewed in goes on (to its end), so the window
	// can show the renewal finished. New logins with it are refused.
	if reason != reasonSuperseded {
		if _, err := t.exec(ctx, `DELETE FROM sessions WHERE cert_serial <> '' AND cert_serial IN (SELECT serial FROM certificates WHERE application_id = $1 AND revoked_at IS NULL)`, appID); err != nil {
			return 0, fmt.Errorf("revoke: end sessions: %w", err)
		}
	}
	r, err := t.exec(ctx, `UPDATE certificates SET revoked_at = $1, revoke_reason = $2 WHERE application_id = $3 AND revoked_at IS NULL`, micros(at), reason, appID)
	if err != nil {
		return 0, fmt.Errorf("revoke: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil || n == 0 {
		return n, err
	}
	if _, err := t.exec(ctx, `UPDATE crl_state SET revision = revision + 1 WHERE id = 1`); err != nil {
		return 0, fmt.Errorf("revoke: crl revision: %w", err)
	}
	return n, nil
}

// CRLState is the last CRL signed and the revision of the revocation list.
type CRLState struct {
	Revision    int64 // moves with every revocation
	Number      int64 // of the last CRL signed (0: none yet)
	CRLRevision int64 // the revision that CRL lists
	DER         []byte
	ThisUpdate  time.Time
	NextUpdate  time.Time
}

const crlCols = `revision, number, crl_revision, der, this_update, next_update`

func scanCRL(row interface{ Scan(...any) error }) (*CRLState, error) {
	var c CRLState
	var der string
	var tu, nu int64
	if err := row.Scan(&c.Revision, &c.Number, &c.CRLRevision, &der, &tu, &nu); err != nil {
		return nil, mapErr(err)
	}
	b, err := base64.StdEncoding.DecodeString(der)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	c.DER, c.ThisUpdate, c.NextUpdate = b, fromMicros(tu), fromMicros(nu)
	return &c, nil
}

// CRLHead reads the CRL's state without its DER: one small row per CRL
// request tells whether the CRL cached in memory is still current.
func (s *Store) CRLHead(ctx context.Context) (*CRLState, error) {
	var c CRLState
	var tu, nu int64
	err := s.queryRow(ctx, `SELECT revision, number, crl_revision, this_update, next_update FROM crl_state WHERE id = 1`).
		Scan(&c.Revision, &c.Number, &c.CRLRevision, &tu, &nu)
	if err != nil {
		return nil, mapErr(err)
	}
	c.ThisUpdate, c.NextUpdate = fromMicros(tu), fromMicros(nu)
	return &c, nil
}

// CRLState reads the CRL's state with its DER.
func (s *Store) CRLState(ctx context.Context) (*CRLState, error) {
	return scanCRL(s.queryRow(ctx, `SELECT `+crlCols+` FROM crl_state WHERE id = 1`))
}

// CRLStateForUpdate reads the CRL's state inside t, taking the row for
// the rest of t on PostgreSQL (SQLite's one writer already serialises).
func (t *Tx) CRLStateForUpdate(ctx context.Context) (*CRLState, error) {
	q := `SELECT ` + crlCols + ` FROM crl_state WHERE id = 1`
	if t.engine == Postgres {
		q += ` FOR UPDATE`
	}
	return scanCRL(t.queryRow(ctx, q))
}

// SaveCRL records a newly signed CRL.
func (t *Tx) SaveCRL(ctx context.Context, c *CRLState) error {
	_, err := t.exec(ctx, `UPDATE crl_state SET number = $1, crl_revision = $2, der = $3, this_update = $4, next_update = $5 WHERE id = 1`,
		c.Number, c.CRLRevision, base64.StdEncoding.EncodeToString(c.DER), micros(c.ThisUpdate), micros(c.NextUpdate))
	return err
}

// RevokedCertificates lists every revoked certificate, for the CRL.
func (s *Store) RevokedCertificates(ctx context.Context) ([]*Certificate, error) {
	rows, err := s.query(ctx, `SELECT `+certCols+` FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at`)
	return scanCerts(rows, err)
}

// RevokedCertificates lists every revoked certificate inside t, so a CRL
// lists exactly the revision it is numbered for.
func (t *Tx) RevokedCertificates(ctx context.Context) ([]*Certificate, error) {
	rows, err := t.query(ctx, `SELECT `+certCols+` FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at`)
	return scanCerts(rows, err)
}

func scanCerts(rows *sql.Rows, err error) ([]*Certificate, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*Certificate
	for rows.Next() {
		c, err := scanCert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DownloadCode is the one-time code of an approved application, stored
// only as a MAC.
type DownloadCode struct {
	ApplicationID string
	MAC           string
	ExpiresAt     time.Time
	Attempts      int
	UsedKeyID     string
}

// SetDownloadCode stores (or replaces) an application's code.
func (t *Tx) SetDownloadCode(ctx context.Context, c *DownloadCode, now time.Time) error {
	if _, err := t.exec(ctx, `DELETE FROM download_codes WHERE application_id = $1`, c.ApplicationID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO download_codes (application_id, code_mac, expires_at, attempts, used_key_id, created_at) VALUES ($1,$2,$3,0,'',$4)`,
		c.ApplicationID, c.MAC, micros(c.ExpiresAt), micros(now))
	return err
}

// DownloadCode reads an application's code.
func (t *Tx) DownloadCode(ctx context.Context, appID string) (*DownloadCode, error) {
	var c DownloadCode
	var exp int64
	err := t.queryRow(ctx, `SELECT application_id, code_mac, expires_at, attempts, used_key_id FROM download_codes WHERE application_id = $1`, appID).
		Scan(&c.ApplicationID, &c.MAC, &exp, &c.Attempts, &c.UsedKeyID)
	if err != nil {
		return nil, mapErr(err)
	}
	c.ExpiresAt = fromMicros(exp)
	return &c, nil
}

// DownloadCode reads an application's code outside a transaction.
func (s *Store) DownloadCode(ctx context.Context, appID string) (*DownloadCode, error) {
	var c DownloadCode
	var exp int64
	err := s.queryRow(ctx, `SELECT application_id, code_mac, expires_at, attempts, used_key_id FROM download_codes WHERE application_id = $1`, appID).
		Scan(&c.ApplicationID, &c.MAC, &exp, &c.Attempts, &c.UsedKeyID)
	if err != nil {
		return nil, mapErr(err)
	}
	c.ExpiresAt = fromMicros(exp)
	return &c, nil
}

// CountCodeAttempt records a wrong code, never past max: the count is
// bounded whatever instance or request writes it.
func (s *Store) CountCodeAttempt(ctx context.Context, appID string, max int) error {
	_, err := s.exec(ctx, `UPDATE download_codes SET attempts = attempts + 1 WHERE application_id = $1 AND attempts < $2`, appID, max)
	return mapErr(err)
}

// ReserveCodeAttempt counts a try of the download code before it is
// compared, unless max are counted: true when this caller has the try.
func (s *Store) ReserveCodeAttempt(ctx context.Context, appID string, max int) (bool, error) {
	r, err := s.exec(ctx, `UPDATE download_codes SET attempts = attempts + 1 WHERE application_id = $1 AND attempts < $2`, appID, max)
	if err != nil {
		return false, mapErr(err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// ReleaseCodeAttempt gives back a reserved try (the code was right).
func (s *Store) ReleaseCodeAttempt(ctx context.Context, appID string) error {
	_, err := s.exec(ctx, `UPDATE download_codes SET attempts = attempts - 1 WHERE application_id = $1 AND attempts > 0`, appID)
	return mapErr(err)
}

// UseCode binds the code to the key it was used for.
func (t *Tx) UseCode(ctx context.Context, appID, keyID string) error {
	_, err := t.exec(ctx, `UPDATE download_codes SET used_key_id = $1 WHERE application_id = $2`, keyID, appID)
	return err
}

// AddNonce stores a UKEY login challenge, sweeping those expired before
// now (by index: the table holds only the last few minutes' challenges).
func (s *Store) AddNonce(ctx context.Context, nonce string, expires, now time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM login_nonces WHERE expires_at <= $1`, micros(now)); err != nil {
		return mapErr(err)
	}
	_, err := s.exec(ctx, `INSERT INTO login_nonces (nonce, expires_at, used) VALUES ($1,$2,0)`, nonce, micros(expires))
	return mapErr(err)
}

// UseNonce consumes a nonce: true only the first time, before it expires.
func (s *Store) UseNonce(ctx context.Context, nonce string, now time.Time) (bool, error) {
	r, err := s.exec(ctx, `UPDATE login_nonces SET used = 1 WHERE nonce = $1 AND used = 0 AND expires_at > $2`, nonce, micros(now))
	if err != nil {
		return false, mapErr(err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}
