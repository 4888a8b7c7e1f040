-- Delivery receipts waiting for the sending device: written in the same
-- transaction that deletes the acknowledged delivery, deleted when the
-- sender acknowledges the receipt. Metadata only.
CREATE TABLE receipts (
    receipt_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    sender_user      TEXT NOT NULL,
    sender_device    INTEGER NOT NULL,
    message_id       TEXT NOT NULL,
    recipient_user   TEXT NOT NULL,
    recipient_device INTEGER NOT NULL,
    delivered_at     INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX receipts_by_sender ON receipts (sender_user, sender_device, receipt_id);
