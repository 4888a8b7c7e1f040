-- What each device's queue holds, kept in the transaction that changes the
-- queue (accepted: added; acknowledged, expired: subtracted; revoked:
-- deleted), so that the per-device and per-sender quotas are checked
-- without counting the queue. Mirrors migrations/sqlite/0007_queue_usage.sql.
CREATE TABLE queue_usage (
    recipient_user   TEXT NOT NULL,
    recipient_device BIGINT NOT NULL,
    messages         BIGINT NOT NULL,
    bytes            BIGINT NOT NULL,
    PRIMARY KEY (recipient_user, recipient_device)
);

-- The same per sending user and recipient device.
CREATE TABLE queue_pair_usage (
    recipient_user   TEXT NOT NULL,
    recipient_device BIGINT NOT NULL,
    sender_user      TEXT NOT NULL,
    messages         BIGINT NOT NULL,
    bytes            BIGINT NOT NULL,
    PRIMARY KEY (recipient_user, recipient_device, sender_user)
);

INSERT INTO queue_usage (recipient_user, recipient_device, messages, bytes)
    SELECT recipient_user, recipient_device, COUNT(*), SUM(length(ciphertext))
    FROM queue GROUP BY recipient_user, recipient_device;

INSERT INTO queue_pair_usage (recipient_user, recipient_device, sender_user, messages, bytes)
    SELECT recipient_user, recipient_device, sender_user, COUNT(*), SUM(length(ciphertext))
    FROM queue GROUP BY recipient_user, recipient_device, sender_user;
