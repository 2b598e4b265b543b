package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"certdesk/app/apply"
)

// Application is one certificate application as stored. Form never holds
// the security answer: only AnswerHash does.
type Application struct {
	ID               string
	OwnerID          string
	Kind             apply.Kind
	State            apply.State
	Form             apply.Values
	AnswerHash       string
	Username         string // "" frees the unique username (drafts, cancelled)
	Subject          string
	AgreementVersion string
	AgreementAt      time.Time
	RejectReason     string
	Renews           string // the application this one renews or replaces
	Renewal          bool   // a renewal (证书更新) of Renews, not a replacement
	Version          int    // optimistic lock
	CreatedAt        time.Time
	UpdatedAt        time.Time

	// savedUsername is Username as the row held it at Version, so that a
	// save that leaves the name alone does not name the column: SQLite
	// rewrites every index on a column in an UPDATE's SET list, changed or
	// not (measured: one WAL page of every issuance was the unique
	// username index). The version check makes it safe to trust.
	savedUsername string
	saved         bool
}

const appCols = `id, owner_id, kind, state, form, answer_hash, COALESCE(username,''), subject, agreement_version, agreement_at, reject_reason, renews, renewal, version, created_at, updated_at`

func scanApp(row interface{ Scan(...any) error }) (*Application, error) {
	var a Application
	var form string
	var agreed, created, updated, renewal int64
	if err := row.Scan(&a.ID, &a.OwnerID, &a.Kind, &a.State, &form, &a.AnswerHash, &a.Username, &a.Subject,
		&a.AgreementVersion, &agreed, &a.RejectReason, &a.Renews, &renewal, &a.Version, &created, &updated); err != nil {
		return nil, mapErr(err)
	}
	if err := json.Unmarshal([]byte(form), &a.Form); err != nil {
		return nil, fmt.Errorf("application %s: form: %w", a.ID, err)
	}
	a.AgreementAt, a.CreatedAt, a.UpdatedAt = fromMicros(agreed), fromMicros(created), fromMicros(updated)
	a.Renewal = renewal != 0
	a.savedUsername, a.saved = a.Username, true
	return &a, nil
}

// CreateApplication inserts a new application with its first history row.
func (t *Tx) CreateApplication(ctx context.Context, a *Application, first apply.HistoryEntry) error {
	form, err := json.Marshal(a.Form)
	if err != nil {
		return err
	}
	a.Version = 1
	_, err = t.exec(ctx, `INSERT INTO applications (id, owner_id, kind, state, form, answer_hash, username, subject, agreement_version, agreement_at, reject_reason, renews, renewal, version, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
		a.ID, a.OwnerID, a.Kind, a.State, string(form), a.AnswerHash, nullable(a.Username), a.Subject,
		a.AgreementVersion, micros(a.AgreementAt), a.RejectReason, a.Renews, boolInt(a.Renewal), a.Version, micros(a.CreatedAt), micros(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create application: %w", err)
	}
	a.savedUsername, a.saved = a.Username, true
	return t.AppendHistory(ctx, a.ID, first)
}

// SaveApplication writes a changed application if nobody else changed it
// since it was read, and bumps its version; ErrStale otherwise.
func (t *Tx) SaveApplication(ctx context.Context, a *Application) error {
	form, err := json.Marshal(a.Form)
	if err != nil {
		return err
	}
	var r sql.Result
	if a.saved && a.Username == a.savedUsername {
		r, err = t.exec(ctx, `UPDATE applications SET state=$1, form=$2, answer_hash=$3, subject=$4, reject_reason=$5, updated_at=$6, version=version+1
		WHERE id=$7 AND version=$8`,
			a.State, string(form), a.AnswerHash, a.Subject, a.RejectReason, micros(a.UpdatedAt), a.ID, a.Version)
	} else {
		r, err = t.exec(ctx, `UPDATE applications SET state=$1, form=$2, answer_hash=$3, username=$4, subject=$5, reject_reason=$6, updated_at=$7, version=version+1
		WHERE id=$8 AND version=$9`,
			a.State, string(form), a.AnswerHash, nullable(a.Username), a.Subject, a.RejectReason, micros(a.UpdatedAt), a.ID, a.Version)
	}
	if err != nil {
		return fmt.Errorf("save application %s: %w", a.ID, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrStale
	}
	a.Version++
	a.savedUsername, a.saved = a.Username, true
	return nil
}

// AppendHistory records one step of an application.
func (t *Tx) AppendHistory(ctx context.Context, appID string, h apply.HistoryEntry) error {
	_, err := t.exec(ctx, `INSERT INTO history (application_id, seq, from_state, to_state, event, actor, actor_id, at, note)
		SELECT $1, COALESCE(MAX(seq),0)+1, $2, $3, $4, $5, $6, $7, $8 FROM history WHERE application_id = $1`,
		appID, h.From, h.To, h.Event, h.Actor, h.ActorID, micros(h.At), h.Note)
	if err != nil {
		if _, ok := err.(*ConflictError); ok {
			return ErrStale // two steps raced for the same seq: retry
		}
		return fmt.Errorf("append history: %w", err)
	}
	return nil
}

// Application reads one application inside the transaction and, on
// PostgreSQL, locks its row until commit, so concurrent steps on one
// application queue instead of failing their optimistic check over and
// over. (SQLite transactions are already serialised by Store.writeMu.)
func (t *Tx) Application(ctx context.Context, id string) (*Application, error) {
	q := `SELECT ` + appCols + ` FROM applications WHERE id = $1`
	if t.engine == Postgres {
		q += ` FOR UPDATE`
	}
	return scanApp(t.queryRow(ctx, q, id))
}

// Application reads one application.
func (s *Store) Application(ctx context.Context, id string) (*Application, error) {
	return scanApp(s.queryRow(ctx, `SELECT `+appCols+` FROM applications WHERE id = $1`, id))
}

// Applications lists an owner's applications, newest first; ownerID ""
// with states lists for staff by state.
func (s *Store) Applications(ctx context.Context, ownerID string, states ...apply.State) ([]*Application, error) {
	q := `SELECT ` + appCols + ` FROM applications WHERE owner_id = $1 ORDER BY created_at DESC`
	args := []any{ownerID}
	if ownerID == "" {
		q = `SELECT ` + appCols + ` FROM applications ORDER BY updated_at`
		args = nil
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	want := map[apply.State]bool{}
	for _, st := range states {
		want[st] = true
	}
	var out []*Application
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		if len(want) == 0 || want[a.State] {
			out = append(out, a)
		}
	}
	return out, rows.Err()
}

// History returns an application's steps in order.
func (s *Store) History(ctx context.Context, appID string) ([]apply.HistoryEntry, error) {
	rows, err := s.query(ctx, `SELECT from_state, to_state, event, actor, actor_id, at, note FROM history WHERE application_id = $1 ORDER BY seq`, appID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []apply.HistoryEntry
	for rows.Next() {
		var h apply.HistoryEntry
		var at int64
		if err := rows.Scan(&h.From, &h.To, &h.Event, &h.Actor, &h.ActorID, &at, &h.Note); err != nil {
			return nil, mapErr(err)
		}
		h.At = fromMicros(at)
		out = append(out, h)
	}
	return out, rows.Err()
}
