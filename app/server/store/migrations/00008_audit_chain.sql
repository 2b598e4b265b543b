-- +goose Up
-- Every staff action, append-only, each row chained to the one before by
-- SHA-256 (hash covers prev_hash and the row's fields): `certdesk-server
-- audit verify` finds a row changed, removed or inserted. audit_head holds
-- the last row's number and hash, so a cut-off tail shows too, and
-- serialises appends (its row is taken FOR UPDATE on PostgreSQL).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    addr      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
