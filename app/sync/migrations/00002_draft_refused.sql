-- +goose Up
-- A draft the server refused (a field it does not accept): kept, with the
-- server's answer, and not sent again until it is edited.
ALTER TABLE drafts ADD COLUMN refused TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE drafts DROP COLUMN refused;
