package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Message is a notification waiting in, or sent from, the outbox.
type Message struct {
	ID            string
	ApplicationID string
	Channel       string // sms or email
	Recipient     string
	Subject       string
	Body          string
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	SentAt        time.Time // zero while pending
	LastError     string
	// Params are the message's variables for a template gateway.
	Params map[string]string
}

// Enqueue adds a message in the same transaction as the change it reports.
func (t *Tx) Enqueue(ctx context.Context, m *Message) error {
	params, err := json.Marshal(m.Params)
	if err != nil || m.Params == nil {
		params = []byte("{}")
	}
	_, err = t.exec(ctx, `INSERT INTO outbox (id, application_id, channel, recipient, subject, body, created_at, next_attempt_at, attempts, last_error, params)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,0,'',$9)`, m.ID, m.ApplicationID, m.Channel, m.Recipient, m.Subject, m.Body, micros(m.CreatedAt), micros(m.CreatedAt), string(params))
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", m.Channel, err)
	}
	return nil
}

const msgCols = `id, application_id, channel, recipient, subject, body, created_at, next_attempt_at, attempts, COALESCE(sent_at, 0), last_error, params`

func scanMessages(s *Store, ctx context.Context, q string, args ...any) ([]*Message, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return scanRows(rows)
}

func scanRows(rows *sql.Rows) ([]*Message, error) {
	defer rows.Close()
	var out []*Message
	for rows.Next() {
		var m Message
		var c, n, sent int64
		var params string
		if err := rows.Scan(&m.ID, &m.ApplicationID, &m.Channel, &m.Recipient, &m.Subject, &m.Body, &c, &n, &m.Attempts, &sent, &m.LastError, &params); err != nil {
			return nil, mapErr(err)
		}
		if err := json.Unmarshal([]byte(params), &m.Params); err != nil {
			return nil, fmt.Errorf("message %s params: %w", m.ID, err)
		}
		m.CreatedAt, m.NextAttemptAt = fromMicros(c), fromMicros(n)
		if sent != 0 {
			m.SentAt = fromMicros(sent)
		}
		out = append(out, &m)
	}
	return out, rows.Err()
}

// Undelivered returns messages that failed at least once and are not sent
// yet, oldest first: what staff must see.
func (s *Store) Undelivered(ctx context.Context, limit int) ([]*Message, error) {
	return scanMessages(s, ctx, `SELECT `+msgCols+` FROM outbox WHERE sent_at IS NULL AND attempts > 0 ORDER BY created_at LIMIT $1`, limit)
}

// Messages lists the outbox, newest first; applicationID "" for all.
func (s *Store) Messages(ctx context.Context, applicationID string, limit int) ([]*Message, error) {
	return scanMessages(s, ctx, `SELECT `+msgCols+` FROM outbox WHERE $1 = '' OR application_id = $1 ORDER BY created_at DESC LIMIT $2`, applicationID, limit)
}

// ClaimDue leases up to limit due messages to owner until now+lease and
// returns them: messages leased to another owner whose lease has not run
// out are left alone, and on PostgreSQL rows another instance is claiming
// at this moment are skipped (FOR UPDATE SKIP LOCKED), so two instances
// never take the same message.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*Message, error) {
	lock := ""
	if s.engine == Postgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	var out []*Message
	err := s.InTx(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 AND lease_until <= $1
			ORDER BY next_attempt_at LIMIT $2`+lock, micros(now), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		out = out[:0]
		for _, id := range ids {
			r, err := tx.exec(ctx, `UPDATE outbox SET lease_until = $1, lease_owner = $2 WHERE id = $3 AND sent_at IS NULL AND lease_until <= $4`,
				micros(now.Add(lease)), owner, id, micros(now))
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 1 {
				m, err := scanOne(tx.query(ctx, `SELECT `+msgCols+` FROM outbox WHERE id = $1`, id))
				if err != nil {
					return err
				}
				out = append(out, m)
			}
		}
		return nil
	})
	return out, mapErr(err)
}

func scanOne(rows *sql.Rows, err error) (*Message, error) {
	if err != nil {
		return nil, err
	}
	ms, err := scanRows(rows)
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 {
		return nil, ErrNotFound
	}
	return ms[0], nil
}

// MarkSent records a delivery by the lease's owner ("" for any).
func (s *Store) MarkSent(ctx context.Context, id, owner string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = '', lease_until = 0 WHERE id = $2 AND ($3 = '' OR lease_owner = $3)`, micros(at), id, owner)
	return mapErr(err)
}

// MarkFailed records a failed attempt and when to try again, and ends the
// lease.
func (s *Store) MarkFailed(ctx context.Context, id, owner, reason string, next time.Time) error {
	_, err := s.exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, lease_until = 0 WHERE id = $3 AND ($4 = '' OR lease_owner = $4)`,
		reason, micros(next), id, owner)
	return mapErr(err)
}
