-- +goose Up
-- Staff log in with a password and a TOTP code (RFC 6238). totp_secret is
-- the base32 secret sealed under the CA's key-encryption key (base64);
-- totp_step is the last time step a code was accepted for: a code works
-- once.
ALTER TABLE accounts ADD COLUMN totp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN totp_step BIGINT NOT NULL DEFAULT 0;
-- A staff member's duties, comma-separated: reviewer, finance, admin.
-- Staff made before roles existed keep every duty.
ALTER TABLE accounts ADD COLUMN staff_roles TEXT NOT NULL DEFAULT '';
UPDATE accounts SET staff_roles = 'reviewer,finance,admin' WHERE role = 'staff';

-- +goose Down
ALTER TABLE accounts DROP COLUMN staff_roles;
ALTER TABLE accounts DROP COLUMN totp_step;
ALTER TABLE accounts DROP COLUMN totp_secret;
