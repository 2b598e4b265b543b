package store

import (
	"context"
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

// DueMessages returns up to limit pending messages whose next attempt is due.
func (s *Store) DueMessages(ctx context.Context, now time.Time, limit int) ([]*Message, error) {
	return scanMessages(s, ctx, `SELECT `+msgCols+` FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`, micros(now), limit)
}

// Messages lists the outbox, newest first; applicationID "" for all.
func (s *Store) Messages(ctx context.Context, applicationID string, limit int) ([]*Message, error) {
	return scanMessages(s, ctx, `SELECT `+msgCols+` FROM outbox WHERE $1 = '' OR application_id = $1 ORDER BY created_at DESC LIMIT $2`, applicationID, limit)
}

// MarkSent records a delivery.
func (s *Store) MarkSent(ctx context.Context, id string, at time.Time) error {
	_, err := s.exec(ctx, `UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = '' WHERE id = $2`, micros(at), id)
	return mapErr(err)
}

// MarkFailed records a failed attempt and when to try again.
func (s *Store) MarkFailed(ctx context.Context, id string, reason string, next time.Time) error {
	_, err := s.exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3`, reason, micros(next), id)
	return mapErr(err)
}
