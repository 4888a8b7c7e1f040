-- Urgent and stat messages (PROTOCOL.md, "Priority, acknowledgement and
-- escalation"), recall and the retention policy. Metadata only: priorities,
-- who acknowledged, when; never content.

-- The priority (NULL: routine), the first acknowledgement, a recall.
ALTER TABLE messages ADD COLUMN priority TEXT;
ALTER TABLE messages ADD COLUMN acknowledged_at INTEGER;
ALTER TABLE messages ADD COLUMN acknowledged_by TEXT;
ALTER TABLE messages ADD COLUMN recalled_at INTEGER;

-- The priority repeated in deliver; an escalation copy is held (not
-- delivered) while held_until is set, and marked escalated.
ALTER TABLE queue ADD COLUMN priority TEXT;
ALTER TABLE queue ADD COLUMN held_until INTEGER;
ALTER TABLE queue ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;

-- Who may acknowledge an urgent or stat message: its recipient users.
CREATE TABLE message_recipients (
    sender_user    TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    recipient_user TEXT NOT NULL,
    PRIMARY KEY (sender_user, message_id, recipient_user)
);

-- An urgent or stat message's escalation: state 'held' until released at
-- release_at (nobody acknowledged) or withdrawn (acknowledged or recalled).
CREATE TABLE escalations (
    sender_user TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    backup_user TEXT NOT NULL,
    after_secs  INTEGER NOT NULL,
    release_at  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    PRIMARY KEY (sender_user, message_id)
);
CREATE INDEX escalations_due ON escalations (release_at) WHERE state = 'held';

-- A message's queued copies, for a recall and an escalation's release or
-- withdrawal.
CREATE INDEX queue_by_message ON queue (sender_user, message_id);
