-- +goose Up
-- Failed logins and the locks they caused, shared by every instance on
-- one database: five wrong passwords spread over three instances lock the
-- login name on all of them.
CREATE TABLE throttle_failures (
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX throttle_failures_key ON throttle_failures(key, at);
CREATE TABLE throttle_locks (
    key        TEXT PRIMARY KEY,
    held_until BIGINT NOT NULL,
    locks      INTEGER NOT NULL
);

-- +goose Down
DROP TABLE throttle_locks;
DROP TABLE throttle_failures;
