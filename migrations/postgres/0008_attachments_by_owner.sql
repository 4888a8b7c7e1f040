-- The per-user attachment quota sums a user's unexpired attachments at each
-- upload: this index makes that a range scan of the user's own rows.
CREATE INDEX attachments_by_owner ON attachments (owner_user, expires_at);
