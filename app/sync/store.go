// Package appsync is the client's local memory and its sync loop: form
// drafts autosaved on every change (a crash loses nothing), queued
// material uploads (resumed after a restart from the server's offset),
// cached statuses and the server in use, in a SQLite file in the user's
// data directory; and a loop that pushes queued work when the server is
// reachable, pulls statuses, backs off while offline and tells the UI.
//
// Conflicts: the server wins for state (it is the authority on where an
// application stands); the local draft wins for edits not yet sent. An
// unsent edit the server refuses (the application was paid meanwhile) is
// dropped with a Conflict event that says so.
package appsync

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"certdesk/app/api"
	"certdesk/app/apply"
	"certdesk/app/atomicfile"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the local database.
type Store struct {
	db  *sql.DB
	dir string
}

// Open opens (creating) the local store in dir.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "queue"), 0o700); err != nil {
		return nil, fmt.Errorf("local data directory: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	// synchronous FULL: an autosaved keystroke must survive a power cut.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "local.db")+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err == nil {
		_, err = p.Up(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("local store migrations: %w", err)
	}
	return &Store{db: db, dir: dir}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Draft is the local copy of an application's form.
type Draft struct {
	AppID string
	Kind  apply.Kind
	Form  apply.Values
	Dirty bool // edited locally, not yet on the server
	// Refused is the server's answer to this version of the draft (a
	// field it does not accept); it is not sent again until edited.
	Refused   *api.Error
	UpdatedAt time.Time
}

// SaveDraft autosaves a form (every change, from the UI) and marks it
// dirty until the loop has sent it.
func (s *Store) SaveDraft(ctx context.Context, appID string, kind apply.Kind, form apply.Values) error {
	b, err := json.Marshal(form)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO drafts (app_id, kind, form, dirty, updated_at, refused) VALUES ($1,$2,$3,1,$4,'')
		ON CONFLICT(app_id) DO UPDATE SET form = excluded.form, dirty = 1, updated_at = MAX(excluded.updated_at, drafts.updated_at + 1), refused = ''`,
		appID, kind, string(b), time.Now().UnixMicro())
	return err
}

// Draft reads a draft.
func (s *Store) Draft(ctx context.Context, appID string) (*Draft, error) {
	var d Draft
	var form string
	var dirty int
	var up int64
	var refused string
	err := s.db.QueryRowContext(ctx, `SELECT app_id, kind, form, dirty, updated_at, refused FROM drafts WHERE app_id = $1`, appID).Scan(&d.AppID, &d.Kind, &form, &dirty, &up, &refused)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(form), &d.Form); err != nil {
		return nil, fmt.Errorf("draft %s: %w", appID, err)
	}
	if refused != "" {
		d.Refused = new(api.Error)
		if err := json.Unmarshal([]byte(refused), d.Refused); err != nil {
			return nil, fmt.Errorf("draft %s: %w", appID, err)
		}
	}
	d.Dirty, d.UpdatedAt = dirty != 0, time.UnixMicro(up)
	return &d, nil
}

func (s *Store) dirtyDrafts(ctx context.Context) ([]*Draft, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT app_id FROM drafts WHERE dirty = 1 AND refused = '' ORDER BY updated_at`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	var out []*Draft
	for _, id := range ids {
		d, err := s.Draft(ctx, id)
		if err == nil && d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// markSent clears the dirty flag if the draft is still what was sent (an
// edit made meanwhile stays dirty for the next round).
func (s *Store) markSent(ctx context.Context, d *Draft) error {
	_, err := s.db.ExecContext(ctx, `UPDATE drafts SET dirty = 0 WHERE app_id = $1 AND updated_at = $2`, d.AppID, d.UpdatedAt.UnixMicro())
	return err
}

// DropDraft deletes an application's draft.
func (s *Store) DropDraft(ctx context.Context, appID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM drafts WHERE app_id = $1`, appID)
	return err
}

// markRefused keeps the server's refusal with the draft, if the draft is
// still what was sent.
func (s *Store) markRefused(ctx context.Context, d *Draft, e *api.Error) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE drafts SET refused = $1 WHERE app_id = $2 AND updated_at = $3`, string(b), d.AppID, d.UpdatedAt.UnixMicro())
	return err
}

// Queued is a material waiting for, or in, upload.
type Queued struct {
	ID        string // local ID
	AppID     string
	Type      apply.MaterialType
	FileName  string
	IdemKey   string // the same for every attempt to create the upload
	UploadID  string // the server's, once created
	State     string // queued, done, failed
	Error     string // the refusal, in Chinese
	ErrorEN   string // and in English
	CreatedAt time.Time
}

// Enqueue copies a material into the local queue (so that moving or
// editing the original does not break a resume) and records it.
func (s *Store) Enqueue(ctx context.Context, id, appID string, t apply.MaterialType, fileName string, data []byte, idemKey string) error {
	if err := atomicfile.WriteFile(filepath.Join(s.dir, "queue", id), data, 0o600); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO uploads (id, app_id, type, file_name, idem_key, upload_id, state, error, created_at) VALUES ($1,$2,$3,$4,$5,'','queued','',$6)`,
		id, appID, t, fileName, idemKey, time.Now().UnixMicro())
	return err
}

// queuedOne reads one queued upload by its local ID.
func (s *Store) queuedOne(ctx context.Context, id string) (*Queued, error) {
	var q Queued
	var c int64
	err := s.db.QueryRowContext(ctx, `SELECT id, app_id, type, file_name, idem_key, upload_id, state, error, error_en, created_at FROM uploads WHERE id = $1`, id).
		Scan(&q.ID, &q.AppID, &q.Type, &q.FileName, &q.IdemKey, &q.UploadID, &q.State, &q.Error, &q.ErrorEN, &c)
	if err != nil {
		return nil, fmt.Errorf("queued upload %s: %w", id, err)
	}
	q.CreatedAt = time.UnixMicro(c)
	return &q, nil
}

func (s *Store) queued(ctx context.Context, state string) ([]*Queued, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, app_id, type, file_name, idem_key, upload_id, state, error, error_en, created_at FROM uploads WHERE $1 = '' OR state = $1 ORDER BY created_at`, state)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Queued
	for rows.Next() {
		var q Queued
		var c int64
		if err := rows.Scan(&q.ID, &q.AppID, &q.Type, &q.FileName, &q.IdemKey, &q.UploadID, &q.State, &q.Error, &q.ErrorEN, &c); err != nil {
			return nil, err
		}
		q.CreatedAt = time.UnixMicro(c)
		out = append(out, &q)
	}
	return out, rows.Err()
}

// Uploads lists the queue (all states), for the UI.
func (s *Store) Uploads(ctx context.Context) ([]*Queued, error) { return s.queued(ctx, "") }

func (s *Store) setUpload(ctx context.Context, q *Queued) error {
	_, err := s.db.ExecContext(ctx, `UPDATE uploads SET upload_id = $1, state = $2, error = $3, error_en = $4 WHERE id = $5`, q.UploadID, q.State, q.Error, q.ErrorEN, q.ID)
	return err
}

func (s *Store) queuedData(id string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.dir, "queue", id))
}

// Status is the cached state of an application.
type Status struct {
	AppID     string
	State     apply.State
	Subject   string
	UpdatedAt time.Time
}

func (s *Store) status(ctx context.Context, appID string) (*Status, error) {
	var st Status
	var up int64
	err := s.db.QueryRowContext(ctx, `SELECT app_id, state, subject, updated_at FROM statuses WHERE app_id = $1`, appID).Scan(&st.AppID, &st.State, &st.Subject, &up)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	st.UpdatedAt = time.UnixMicro(up)
	return &st, err
}

// Statuses lists the cached statuses (the user center while offline).
func (s *Store) Statuses(ctx context.Context) ([]Status, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT app_id, state, subject, updated_at FROM statuses ORDER BY updated_at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Status
	for rows.Next() {
		var st Status
		var up int64
		if err := rows.Scan(&st.AppID, &st.State, &st.Subject, &up); err != nil {
			return nil, err
		}
		st.UpdatedAt = time.UnixMicro(up)
		out = append(out, st)
	}
	return out, rows.Err()
}

func (s *Store) setStatus(ctx context.Context, st Status) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO statuses (app_id, state, subject, updated_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT(app_id) DO UPDATE SET state = excluded.state, subject = excluded.subject, updated_at = excluded.updated_at`,
		st.AppID, st.State, st.Subject, st.UpdatedAt.UnixMicro())
	return err
}

// Setting reads a setting ("" when unset).
func (s *Store) Setting(ctx context.Context, key string) string {
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v); err != nil {
		return "" // unset (or unreadable: the caller's default applies)
	}
	return v
}

// SetSetting writes a setting (the server in use, the remembered login).
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ($1,$2) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// Settings returns every local setting, for the support bundle (which
// redacts it).
func (s *Store) Settings(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM settings`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// UnsentDrafts counts drafts with edits not yet on the server.
func (s *Store) UnsentDrafts(ctx context.Context) (int, error) {
	ds, err := s.dirtyDrafts(ctx)
	return len(ds), err
}
