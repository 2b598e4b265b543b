package store

import (
	"context"
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
}

const certCols = `serial, application_id, key_id, der, not_before, not_after, issued_at, COALESCE(revoked_at, 0), revoke_reason`

func scanCert(row interface{ Scan(...any) error }) (*Certificate, error) {
	var c Certificate
	var der string
	var nb, na, ia, ra int64
	if err := row.Scan(&c.Serial, &c.ApplicationID, &c.KeyID, &der, &nb, &na, &ia, &ra, &c.RevokeReason); err != nil {
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
	_, err := t.exec(ctx, `INSERT INTO certificates (serial, application_id, key_id, der, not_before, not_after, issued_at, revoke_reason) VALUES ($1,$2,$3,$4,$5,$6,$7,0)`,
		c.Serial, c.ApplicationID, c.KeyID, base64.StdEncoding.EncodeToString(c.DER), micros(c.NotBefore), micros(c.NotAfter), micros(c.IssuedAt))
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

// RevokeCertificates marks an application's valid certificates revoked.
func (t *Tx) RevokeCertificates(ctx context.Context, appID string, reason int, at time.Time) (int64, error) {
	r, err := t.exec(ctx, `UPDATE certificates SET revoked_at = $1, revoke_reason = $2 WHERE application_id = $3 AND revoked_at IS NULL`, micros(at), reason, appID)
	if err != nil {
		return 0, fmt.Errorf("revoke: %w", err)
	}
	return r.RowsAffected()
}

// RevokedCertificates lists every revoked certificate, for the CRL.
func (s *Store) RevokedCertificates(ctx context.Context) ([]*Certificate, error) {
	rows, err := s.query(ctx, `SELECT `+certCols+` FROM certificates WHERE revoked_at IS NOT NULL ORDER BY revoked_at`)
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

// CodeAttempt counts a wrong code.
func (s *Store) CodeAttempt(ctx context.Context, appID string) error {
	_, err := s.exec(ctx, `UPDATE download_codes SET attempts = attempts + 1 WHERE application_id = $1`, appID)
	return mapErr(err)
}

// UseCode binds the code to the key it was used for.
func (t *Tx) UseCode(ctx context.Context, appID, keyID string) error {
	_, err := t.exec(ctx, `UPDATE download_codes SET used_key_id = $1 WHERE application_id = $2`, keyID, appID)
	return err
}

// AddNonce stores a UKEY login challenge.
func (s *Store) AddNonce(ctx context.Context, nonce string, expires time.Time) error {
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
