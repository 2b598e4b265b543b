-- +goose Up
CREATE TABLE certificates (
    serial         TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id),
    key_id         TEXT NOT NULL UNIQUE,
    der            TEXT NOT NULL,
    not_before     BIGINT NOT NULL,
    not_after      BIGINT NOT NULL,
    issued_at      BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoke_reason  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificates_application ON certificates(application_id);

CREATE TABLE download_codes (
    application_id TEXT PRIMARY KEY REFERENCES applications(id),
    code_mac       TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    used_key_id    TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL
);

CREATE TABLE login_nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE login_nonces;
DROP TABLE download_codes;
DROP TABLE certificates;
