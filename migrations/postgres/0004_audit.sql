-- The audit log (see SECURITY.md, "Audit log"). Append-only twice over:
-- triggers refuse UPDATE, DELETE and TRUNCATE for every role (owner and
-- superuser included), and the application role `curbside_app` is granted
-- only SELECT and INSERT on the entries and tree nodes.
--
-- Each entry is a leaf of an RFC 6962 Merkle tree: leaf_hash is
-- SHA-256(0x00 || canonical bytes of the entry), recorded when it was
-- appended. audit_nodes holds every complete perfect subtree above the
-- leaves (level >= 1), so proofs cost O(log n) lookups; audit_head holds the
-- tree size and the roots of its perfect subtrees, so an append costs
-- O(log n). Appends lock the audit_head row, which orders them: entries
-- commit in sequence order, so cursor pagination never skips one.
CREATE TABLE audit_log (
    seq                 BIGINT PRIMARY KEY,
    time_ms             BIGINT NOT NULL,
    actor_user          TEXT,
    actor_device        BIGINT,
    actor_role          TEXT,
    action              TEXT NOT NULL,
    counterpart_user    TEXT,
    counterpart_device  BIGINT,
    message_id          TEXT,
    referral_id         TEXT,
    attachment_id       TEXT,
    source              TEXT,
    outcome             TEXT NOT NULL,
    reason              TEXT,
    details             TEXT NOT NULL,
    leaf_hash           BYTEA NOT NULL
);
CREATE INDEX audit_by_actor ON audit_log (actor_user, seq);
CREATE INDEX audit_by_counterpart ON audit_log (counterpart_user, seq);
CREATE INDEX audit_by_action ON audit_log (action, seq);
CREATE INDEX audit_by_message ON audit_log (message_id, seq);
CREATE INDEX audit_by_referral ON audit_log (referral_id, seq);
CREATE INDEX audit_by_time ON audit_log (time_ms, seq);

CREATE TABLE audit_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  BIGINT NOT NULL,
    peaks BYTEA NOT NULL
);
INSERT INTO audit_head (id, size, peaks) VALUES (1, 0, '\x'::bytea);

CREATE FUNCTION curbside_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION curbside_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION curbside_audit_append_only();
CREATE TRIGGER audit_nodes_no_update_delete BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION curbside_audit_append_only();
CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION curbside_audit_append_only();

-- The application role. Deployments run migrations as the schema owner and
-- the server as a login role that is a member of curbside_app (README.md,
-- "Production on PostgreSQL"). If the migrating role may not create roles,
-- the role is left for the DBA to create and the grants are skipped (with a
-- notice); the triggers above still hold.
DO $$
BEGIN
    BEGIN
        CREATE ROLE curbside_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN
        NULL;
    END;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'curbside_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO curbside_app', current_schema());
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO curbside_app',
                       current_schema());
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO curbside_app', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO curbside_app',
                       current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO curbside_app',
                       current_schema());
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_nodes FROM curbside_app;
    ELSE
        RAISE NOTICE 'role curbside_app could not be created: grant it SELECT and INSERT (only) on audit_log and audit_nodes';
    END IF;
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_nodes FROM PUBLIC;
END
$$;
