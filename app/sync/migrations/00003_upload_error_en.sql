-- +goose Up
-- A refused upload's answer in English too: the window shows it in the
-- user's language (it was kept in Chinese only).
ALTER TABLE uploads ADD COLUMN error_en TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE uploads DROP COLUMN error_en;
