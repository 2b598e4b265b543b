-- +goose Up
-- The staff console (issue 19).
--
-- Reasons a reviewer picks when returning a material; the CA edits the
-- list (certdesk-server reasons ...). material_type '' fits any material.
CREATE TABLE reject_reasons (
    code          TEXT PRIMARY KEY,
    zh            TEXT NOT NULL,
    en            TEXT NOT NULL,
    material_type TEXT NOT NULL DEFAULT '',
    position      INTEGER NOT NULL DEFAULT 0,
    retired       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO reject_reasons (code, zh, en, position) VALUES
    ('unsealed', '复印件未加盖单位公章', 'The copy is not stamped with the organisation''s seal', 10),
    ('unsigned', '未签字或签字不完整', 'Not signed, or the signature is incomplete', 20),
    ('unclear', '图像模糊、反光或有遮挡,无法辨认', 'The image is blurred, glared or covered and cannot be read', 30),
    ('cropped', '页面不完整,四角未全部拍入', 'The page is cut off: all four corners must be in the picture', 40),
    ('expired', '证件已过有效期', 'The document has expired', 50),
    ('mismatch', '材料内容与填写的信息不一致', 'The document does not match what was entered in the form', 60),
    ('wrong_doc', '上传的不是要求的材料', 'This is not the document asked for', 70);

-- A reviewer's return of one material, shown to the applicant beside it;
-- replacing the material (a new row) leaves it behind with the old one.
CREATE TABLE material_rejections (
    material_id    TEXT PRIMARY KEY REFERENCES materials(id),
    application_id TEXT NOT NULL REFERENCES applications(id),
    reason_code    TEXT NOT NULL,
    note           TEXT NOT NULL,
    by_account     TEXT NOT NULL,
    at             BIGINT NOT NULL
);
CREATE INDEX material_rejections_application ON material_rejections(application_id);

-- Approvals given in the current review round (two-person approval): a
-- rejection clears them; the same reviewer cannot give two.
CREATE TABLE review_approvals (
    application_id TEXT NOT NULL REFERENCES applications(id),
    account_id     TEXT NOT NULL,
    at             BIGINT NOT NULL,
    PRIMARY KEY (application_id, account_id)
);

-- Who is looking at an application (a soft lock: shown, not enforced).
CREATE TABLE review_locks (
    application_id TEXT PRIMARY KEY REFERENCES applications(id),
    account_id     TEXT NOT NULL,
    held_until     BIGINT NOT NULL
);

-- Money returned for a cancelled application, as finance recorded it.
ALTER TABLE payments ADD COLUMN refunded_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN refund_note TEXT NOT NULL DEFAULT '';

-- The CA's policies that every instance and command must see alike
-- (review_approvals: 1, or 2 for two-person approval).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('review_approvals', '1');

-- +goose Down
DROP TABLE settings;
ALTER TABLE payments DROP COLUMN refund_note;
ALTER TABLE payments DROP COLUMN refunded_at;
DROP TABLE review_locks;
DROP TABLE review_approvals;
DROP TABLE material_rejections;
DROP TABLE reject_reasons;
