-- On-call roles (PROTOCOL.md, "On-call roles"): a role, and who holds it
-- when. A hand-off ends the current shifts at once and starts one for the
-- clinician taking over.
CREATE TABLE oncall_roles (
    role_id    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,          -- lower-cased name: names are unique, case-insensitive
    specialty  TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX oncall_roles_by_name ON oncall_roles (name_key);

CREATE TABLE oncall_shifts (
    shift_id  BIGSERIAL PRIMARY KEY,
    role_id   TEXT NOT NULL REFERENCES oncall_roles (role_id),
    user_id   TEXT NOT NULL REFERENCES users (user_id),
    starts_at BIGINT NOT NULL,
    ends_at   BIGINT NOT NULL
);
CREATE INDEX oncall_shifts_by_role ON oncall_shifts (role_id, ends_at);
