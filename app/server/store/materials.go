package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"certdesk/app/apply"
)

// Material is one accepted material file; its bytes live in the blob store
// under SHA256.
type Material struct {
	ID            string
	ApplicationID string
	Type          apply.MaterialType
	SHA256        string
	Bytes         int64
	Width, Height int
	DPI           float64
	Problems      string // JSON of the warnings
	FileName      string
	UploadedAt    time.Time
}

const matCols = `id, application_id, type, sha256, bytes, width, height, dpi, problems, file_name, uploaded_at`

func scanMaterial(row interface{ Scan(...any) error }) (*Material, error) {
	var m Material
	var up int64
	if err := row.Scan(&m.ID, &m.ApplicationID, &m.Type, &m.SHA256, &m.Bytes, &m.Width, &m.Height, &m.DPI, &m.Problems, &m.FileName, &up); err != nil {
		return nil, mapErr(err)
	}
	m.UploadedAt = fromMicros(up)
	return &m, nil
}

// AddMaterial records an accepted material.
func (t *Tx) AddMaterial(ctx context.Context, m *Material) error {
	_, err := t.exec(ctx, `INSERT INTO materials (`+matCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		m.ID, m.ApplicationID, m.Type, m.SHA256, m.Bytes, m.Width, m.Height, m.DPI, m.Problems, m.FileName, micros(m.UploadedAt))
	if err != nil {
		return fmt.Errorf("add material: %w", err)
	}
	return nil
}

// DeleteMaterial marks a material deleted (the blob stays: another
// application may share it, and history may show it).
func (t *Tx) DeleteMaterial(ctx context.Context, appID, id string, now time.Time) error {
	r, err := t.exec(ctx, `UPDATE materials SET deleted_at = $1 WHERE id = $2 AND application_id = $3 AND deleted_at IS NULL`, micros(now), id, appID)
	if err != nil {
		return fmt.Errorf("delete material: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Materials lists an application's live materials in upload order.
func (t *Tx) Materials(ctx context.Context, appID string) ([]*Material, error) {
	return queryMaterials(t.query(ctx, `SELECT `+matCols+` FROM materials WHERE application_id = $1 AND deleted_at IS NULL ORDER BY uploaded_at, id`, appID))
}

// Materials lists an application's live materials in upload order.
func (s *Store) Materials(ctx context.Context, appID string) ([]*Material, error) {
	return queryMaterials(s.query(ctx, `SELECT `+matCols+` FROM materials WHERE application_id = $1 AND deleted_at IS NULL ORDER BY uploaded_at, id`, appID))
}

func queryMaterials(rows *sql.Rows, err error) ([]*Material, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []*Material
	for rows.Next() {
		m, err := scanMaterial(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Material reads one live material of an application.
func (s *Store) Material(ctx context.Context, appID, id string) (*Material, error) {
	return scanMaterial(s.queryRow(ctx, `SELECT `+matCols+` FROM materials WHERE id = $1 AND application_id = $2 AND deleted_at IS NULL`, id, appID))
}

// Upload is a resumable upload in progress.
type Upload struct {
	ID            string
	ApplicationID string
	AccountID     string
	Type          apply.MaterialType
	FileName      string
	Bytes         int64
	SHA256        string
	Received      int64
	ReplaceID     string
	MaterialID    string // set when complete
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

const upCols = `id, application_id, account_id, type, file_name, bytes, sha256, received, replace_id, material_id, created_at, expires_at`

// CreateUpload records a new upload.
func (t *Tx) CreateUpload(ctx context.Context, u *Upload) error {
	_, err := t.exec(ctx, `INSERT INTO uploads (`+upCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		u.ID, u.ApplicationID, u.AccountID, u.Type, u.FileName, u.Bytes, u.SHA256, u.Received, u.ReplaceID, u.MaterialID, micros(u.CreatedAt), micros(u.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	return nil
}

// Upload reads an upload.
func (s *Store) Upload(ctx context.Context, id string) (*Upload, error) {
	var u Upload
	var c, e int64
	err := s.queryRow(ctx, `SELECT `+upCols+` FROM uploads WHERE id = $1`, id).Scan(
		&u.ID, &u.ApplicationID, &u.AccountID, &u.Type, &u.FileName, &u.Bytes, &u.SHA256, &u.Received, &u.ReplaceID, &u.MaterialID, &c, &e)
	if err != nil {
		return nil, mapErr(err)
	}
	u.CreatedAt, u.ExpiresAt = fromMicros(c), fromMicros(e)
	return &u, nil
}

// SetUploadReceived records how many bytes are safely on disk.
func (s *Store) SetUploadReceived(ctx context.Context, id string, n int64) error {
	_, err := s.exec(ctx, `UPDATE uploads SET received = $1 WHERE id = $2 AND material_id = ''`, n, id)
	return mapErr(err)
}

// CompleteUpload links a finished upload to its material.
func (t *Tx) CompleteUpload(ctx context.Context, id, materialID string) error {
	r, err := t.exec(ctx, `UPDATE uploads SET material_id = $1, received = bytes WHERE id = $2 AND material_id = ''`, materialID, id)
	if err != nil {
		return fmt.Errorf("complete upload: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrStale
	}
	return nil
}
