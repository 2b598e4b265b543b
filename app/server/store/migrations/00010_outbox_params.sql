-- +goose Up
-- A message's variables (JSON object of strings), for gateways that send
-- a template with parameters rather than free text (Alibaba Cloud SMS).
ALTER TABLE outbox ADD COLUMN params TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE outbox DROP COLUMN params;
