-- Curbside consults (PROTOCOL.md, "Curbside consults"): who answers
-- consults of which specialty, each consult's envelope and the clinicians
-- the server chose for it. Never a question or an answer: those are end to
-- end encrypted messages.
CREATE TABLE consult_optins (
    user_id       TEXT NOT NULL REFERENCES users (user_id),
    specialty_key TEXT NOT NULL,      -- lower-cased
    PRIMARY KEY (user_id, specialty_key)
);

CREATE TABLE consults (
    consult_id    TEXT PRIMARY KEY,
    asker         TEXT NOT NULL REFERENCES users (user_id),
    specialty     TEXT NOT NULL,
    share_answers BIGINT NOT NULL,
    fan_out       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    closed_at     BIGINT
);
CREATE INDEX consults_by_asker ON consults (asker, closed_at);

CREATE TABLE consult_recipients (
    consult_id  TEXT NOT NULL REFERENCES consults (consult_id),
    user_id     TEXT NOT NULL,
    answered_at BIGINT,
    PRIMARY KEY (consult_id, user_id)
);
CREATE INDEX consult_recipients_by_user ON consult_recipients (user_id);
