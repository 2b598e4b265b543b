-- +goose Up
CREATE TABLE identity_sessions (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id),
    status         TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    max_attempts   INTEGER NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX identity_sessions_application ON identity_sessions(application_id, created_at);

-- Callback and notify IDs already processed: a replay changes nothing.
CREATE TABLE seen_callbacks (
    id      TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

CREATE TABLE payments (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id),
    method         TEXT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    status         TEXT NOT NULL,
    qr             TEXT NOT NULL DEFAULT '',
    trade_no       TEXT NOT NULL DEFAULT '',
    refund_needed  INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    paid_at        BIGINT
);
CREATE INDEX payments_application ON payments(application_id, created_at);

-- +goose Down
DROP TABLE payments;
DROP TABLE seen_callbacks;
DROP TABLE identity_sessions;
