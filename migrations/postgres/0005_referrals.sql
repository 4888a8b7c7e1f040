-- Referral envelopes: what the server must know to route, enforce the
-- lifecycle and audit. No PHI: the clinical content (FHIR ServiceRequest,
-- Patient, notes, attachments) is only inside the end-to-end-encrypted
-- message named by message_id; reasons likewise (reason_message_id).
CREATE TABLE referrals (
    referral_id        TEXT PRIMARY KEY,
    referring_user     TEXT NOT NULL,
    receiving_user     TEXT NOT NULL,
    specialty          TEXT NOT NULL,
    priority           TEXT NOT NULL CHECK (priority IN ('routine', 'urgent', 'stat')),
    status             TEXT NOT NULL CHECK (status IN ('requested', 'accepted', 'declined', 'cancelled', 'completed')),
    message_id         TEXT NOT NULL,
    reason_message_id  TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX referrals_by_referring ON referrals (referring_user, updated_at);
CREATE INDEX referrals_by_receiving ON referrals (receiving_user, updated_at);
