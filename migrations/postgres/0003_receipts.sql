-- Delivery receipts waiting for the sending device: written in the same
-- transaction that deletes the acknowledged delivery, deleted when the
-- sender acknowledges the receipt. Metadata only.
CREATE TABLE receipts (
    receipt_id       BIGSERIAL PRIMARY KEY,
    sender_user      TEXT NOT NULL,
    sender_device    BIGINT NOT NULL,
    message_id       TEXT NOT NULL,
    recipient_user   TEXT NOT NULL,
    recipient_device BIGINT NOT NULL,
    delivered_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX receipts_by_sender ON receipts (sender_user, sender_device, receipt_id);
