-- The audit log (see SECURITY.md, "Audit log"). Append-only: the triggers
-- below make SQLite refuse UPDATE and DELETE on the entries and on the tree
-- nodes (SQLite has no TRUNCATE; an unqualified DELETE, its "truncate
-- optimisation", fires the DELETE trigger like any other).
--
-- Each entry is a leaf of an RFC 6962 Merkle tree: leaf_hash is
-- SHA-256(0x00 || canonical bytes of the entry), recorded when it was
-- appended. audit_nodes holds every complete perfect subtree above the
-- leaves (level >= 1), so proofs cost O(log n) lookups; audit_head holds the
-- tree size and the roots of its perfect subtrees (one per set bit of the
-- size), so an append costs O(log n) and never recomputes the tree.
CREATE TABLE audit_log (
    seq                 INTEGER PRIMARY KEY,
    time_ms             INTEGER NOT NULL,
    actor_user          TEXT,
    actor_device        INTEGER,
    actor_role          TEXT,
    action              TEXT NOT NULL,
    counterpart_user    TEXT,
    counterpart_device  INTEGER,
    message_id          TEXT,
    referral_id         TEXT,
    attachment_id       TEXT,
    source              TEXT,
    outcome             TEXT NOT NULL,
    reason              TEXT,
    details             TEXT NOT NULL,
    leaf_hash           BLOB NOT NULL
);
CREATE INDEX audit_by_actor ON audit_log (actor_user, seq);
CREATE INDEX audit_by_counterpart ON audit_log (counterpart_user, seq);
CREATE INDEX audit_by_action ON audit_log (action, seq);
CREATE INDEX audit_by_message ON audit_log (message_id, seq);
CREATE INDEX audit_by_referral ON audit_log (referral_id, seq);
CREATE INDEX audit_by_time ON audit_log (time_ms, seq);

CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  INTEGER NOT NULL,
    peaks BLOB NOT NULL
);
INSERT INTO audit_head (id, size, peaks) VALUES (1, 0, x'');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only: DELETE refused'); END;
