-- +goose Up
-- The CRL: its number only ever increases (RFC 5280 §5.2.3) and it is
-- signed anew only when a revocation changed the list (revision moved past
-- crl_revision) or it nears next_update. One row.
CREATE TABLE crl_state (
    id           INTEGER PRIMARY KEY,
    revision     BIGINT NOT NULL,
    number       BIGINT NOT NULL,
    crl_revision BIGINT NOT NULL,
    der          TEXT NOT NULL,
    this_update  BIGINT NOT NULL,
    next_update  BIGINT NOT NULL
);
INSERT INTO crl_state (id, revision, number, crl_revision, der, this_update, next_update) VALUES (1, 0, 0, -1, '', 0, 0);

-- An application that says revoked has its certificates on the CRL: repair
-- what a generic revoke event could leave before (issue 14).
UPDATE certificates SET revoke_reason = 0,
    revoked_at = (SELECT updated_at FROM applications WHERE applications.id = certificates.application_id)
WHERE revoked_at IS NULL AND application_id IN (SELECT id FROM applications WHERE state = 'revoked');

-- One provider trade pays one order. Duplicates an old database may hold
-- are renamed (kept for the finance staff to check) so the index can exist.
UPDATE payments SET trade_no = trade_no || ' (duplicate: check)'
WHERE method = 'online' AND trade_no <> '' AND id NOT IN
    (SELECT MIN(id) FROM payments WHERE method = 'online' AND trade_no <> '' GROUP BY trade_no);
CREATE UNIQUE INDEX payments_trade_no ON payments(method, trade_no) WHERE method = 'online' AND trade_no <> '';

-- Expired login challenges are swept as new ones are made.
CREATE INDEX login_nonces_expiry ON login_nonces(expires_at);

-- +goose Down
DROP INDEX login_nonces_expiry;
DROP INDEX payments_trade_no;
DROP TABLE crl_state;
