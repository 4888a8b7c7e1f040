-- Curbside schema, PostgreSQL (the scale-out store). Mirrors migrations/sqlite/0001_init.sql.
-- Never edit a migration once released: add a new numbered file.
-- Times are milliseconds since the Unix epoch. No table holds plaintext content.

CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    user_id        TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    npi            TEXT,
    specialty      TEXT,
    verified       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    next_device_id BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_npi ON users (npi) WHERE npi IS NOT NULL;

CREATE TABLE user_roles (
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    role       TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE devices (
    user_id       TEXT NOT NULL REFERENCES users (user_id),
    device_id     BIGINT NOT NULL,
    identity_key  BYTEA NOT NULL,
    signed_prekey BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE one_time_prekeys (
    user_id    TEXT NOT NULL,
    device_id  BIGINT NOT NULL,
    prekey_id  BIGINT NOT NULL,
    public_key BYTEA NOT NULL,
    PRIMARY KEY (user_id, device_id, prekey_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
);

-- Only the SHA-256 of each invite, session token and bootstrap token is stored.
CREATE TABLE invites (
    token_hash BYTEA PRIMARY KEY,
    purpose    TEXT NOT NULL,          -- 'bootstrap' | 'user' | 'device'
    role       TEXT,                   -- for 'bootstrap' and 'user'
    user_id    TEXT,                   -- for 'device': whose device
    created_by TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

CREATE TABLE http_sessions (
    token_hash   BYTEA PRIMARY KEY,
    user_id      TEXT NOT NULL,
    device_id    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT
);

CREATE TABLE challenges (
    challenge  BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- One row per accepted message: makes client message ids idempotent.
CREATE TABLE messages (
    sender_user     TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    sender_device   BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    accepted_at     BIGINT NOT NULL,
    recipient_count BIGINT NOT NULL,
    PRIMARY KEY (sender_user, message_id)
);

-- Ciphertext waiting for one device; deleted when that device acknowledges it.
CREATE TABLE queue (
    delivery_id      BIGSERIAL PRIMARY KEY,
    recipient_user   TEXT NOT NULL,
    recipient_device BIGINT NOT NULL,
    sender_user      TEXT NOT NULL,
    sender_device    BIGINT NOT NULL,
    message_id       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    ciphertext       BYTEA NOT NULL,
    sent_at          BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX queue_by_device ON queue (recipient_user, recipient_device, delivery_id);
CREATE INDEX queue_by_expiry ON queue (expires_at);
