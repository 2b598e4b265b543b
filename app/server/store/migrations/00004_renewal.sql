-- +goose Up
-- How a session was opened (password or ukey) and with which certificate:
-- renewal needs a UKEY login with the certificate being renewed.
ALTER TABLE sessions ADD COLUMN via TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';
-- The application a renewal or replacement takes over from.
ALTER TABLE applications ADD COLUMN renews TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE applications DROP COLUMN renews;
ALTER TABLE sessions DROP COLUMN cert_serial;
ALTER TABLE sessions DROP COLUMN via;
