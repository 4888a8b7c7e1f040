-- Encrypted attachment blobs: the ciphertext lives in data_dir/attachments/<id>;
-- this table holds only metadata. The server cannot decrypt a blob (its key
-- travels inside an end-to-end-encrypted message).
CREATE TABLE attachments (
    attachment_id TEXT PRIMARY KEY,
    owner_user    TEXT NOT NULL,
    owner_device  BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX attachments_by_expiry ON attachments (expires_at);
