-- +goose Up
-- The periodic jobs (renewal reminders) run by one instance at a time:
-- the instance that moves next_run forward runs the job; one that dies
-- leaves next_run in the past, and the next instance to look takes it.
CREATE TABLE job_runs (
    name     TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    next_run BIGINT NOT NULL
);

-- +goose Down
DROP TABLE job_runs;
