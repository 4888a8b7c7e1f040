-- The readiness probe's scratch row: while the last write failed for want
-- of storage, /readyz writes 64 KiB here and commits, so that a full disk
-- keeps the server not ready until a real request could commit again.
CREATE TABLE readiness_probe (
    checked_at BIGINT NOT NULL,
    pad BYTEA NOT NULL
);
