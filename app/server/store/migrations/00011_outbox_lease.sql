-- +goose Up
-- Several server instances share one outbox: an instance leases the
-- messages it is about to send (FOR UPDATE SKIP LOCKED on PostgreSQL), so
-- no two send the same one; a lease of an instance that died expires and
-- another takes the message over.
ALTER TABLE outbox ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN lease_owner;
ALTER TABLE outbox DROP COLUMN lease_until;
