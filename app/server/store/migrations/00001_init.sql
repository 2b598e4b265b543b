-- +goose Up
-- One schema for SQLite and PostgreSQL: text IDs, BIGINT unix microseconds,
-- INTEGER booleans, JSON as TEXT, no dialect-only types.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    mobile        TEXT UNIQUE,
    email         TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE applications (
    id                TEXT PRIMARY KEY,
    owner_id          TEXT NOT NULL REFERENCES accounts(id),
    kind              TEXT NOT NULL,
    state             TEXT NOT NULL,
    form              TEXT NOT NULL,
    answer_hash       TEXT NOT NULL DEFAULT '',
    username          TEXT UNIQUE,
    subject           TEXT NOT NULL DEFAULT '',
    agreement_version TEXT NOT NULL,
    agreement_at      BIGINT NOT NULL,
    reject_reason     TEXT NOT NULL DEFAULT '',
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX applications_owner ON applications(owner_id, created_at);
CREATE INDEX applications_state ON applications(state, updated_at);

CREATE TABLE history (
    application_id TEXT NOT NULL REFERENCES applications(id),
    seq            INTEGER NOT NULL,
    from_state     TEXT NOT NULL,
    to_state       TEXT NOT NULL,
    event          TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_id       TEXT NOT NULL,
    at             BIGINT NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (application_id, seq)
);

CREATE TABLE materials (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id),
    type           TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    bytes          BIGINT NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    dpi            DOUBLE PRECISION NOT NULL,
    problems       TEXT NOT NULL DEFAULT '[]',
    file_name      TEXT NOT NULL DEFAULT '',
    uploaded_at    BIGINT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX materials_application ON materials(application_id, type);

CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id),
    account_id     TEXT NOT NULL REFERENCES accounts(id),
    type           TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    bytes          BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    received       BIGINT NOT NULL DEFAULT 0,
    replace_id     TEXT NOT NULL DEFAULT '',
    material_id    TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);

CREATE TABLE idempotency (
    account_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    sent_at         BIGINT,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox(sent_at, next_attempt_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency;
DROP TABLE uploads;
DROP TABLE materials;
DROP TABLE history;
DROP TABLE applications;
DROP TABLE sessions;
DROP TABLE accounts;
