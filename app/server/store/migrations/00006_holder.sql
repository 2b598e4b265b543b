-- +goose Up
-- UKEYs the CA initialised (certdesk-server ukey init). so_pin is the SO
-- PIN sealed under the CA's key-encryption key (base64); next_so_pin is a
-- rotation handed out in an unlock grant and not yet confirmed, so the
-- token holds one of the two. owner_id is the account whose certificate
-- went onto the key first: no other account can claim it.
CREATE TABLE ukeys (
    serial      TEXT PRIMARY KEY,
    label       TEXT NOT NULL,
    so_pin      TEXT NOT NULL,
    next_so_pin TEXT NOT NULL DEFAULT '',
    owner_id    TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    rotated_at  BIGINT NOT NULL DEFAULT 0,
    unlocks     INTEGER NOT NULL DEFAULT 0
);
-- A renewal (证书更新) takes over from renews with its data, materials and
-- identity; a replacement (补办) goes through the whole process again.
ALTER TABLE applications ADD COLUMN renewal INTEGER NOT NULL DEFAULT 0;
-- The UKEY a certificate was downloaded onto, as the client reported it.
ALTER TABLE certificates ADD COLUMN token_serial TEXT NOT NULL DEFAULT '';

-- A holder's request to unlock a locked user PIN.
CREATE TABLE ukey_unlocks (
    id             TEXT PRIMARY KEY,
    serial         TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    application_id TEXT NOT NULL,
    state          TEXT NOT NULL,
    code_mac       TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    mobile         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    approved_by    TEXT NOT NULL DEFAULT '',
    updated_at     BIGINT NOT NULL
);
CREATE INDEX ukey_unlocks_serial ON ukey_unlocks(serial, created_at);

-- What happened to an account outside its applications' histories
-- (unlocks, holder revocations), for the holder and the CA's staff.
CREATE TABLE audit (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    event      TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_account ON audit(account_id, at);

-- Renewal reminders sent: one per certificate and threshold (days).
CREATE TABLE reminders (
    cert_serial TEXT NOT NULL,
    threshold   INTEGER NOT NULL,
    sent_at     BIGINT NOT NULL,
    PRIMARY KEY (cert_serial, threshold)
);

-- +goose Down
DROP TABLE reminders;
DROP TABLE audit;
DROP TABLE ukey_unlocks;
ALTER TABLE certificates DROP COLUMN token_serial;
DROP TABLE ukeys;
ALTER TABLE applications DROP COLUMN renewal;
