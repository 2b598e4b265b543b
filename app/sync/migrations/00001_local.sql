-- +goose Up
CREATE TABLE drafts (
    app_id     TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    form       TEXT NOT NULL,
    dirty      INTEGER NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL
);
CREATE TABLE uploads (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    type       TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    idem_key   TEXT NOT NULL,
    upload_id  TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE TABLE statuses (
    app_id     TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE statuses;
DROP TABLE uploads;
DROP TABLE drafts;
