-- An administrator deactivates an account (`curbside admin deactivate`):
-- deactivated_at is set, its devices are revoked, and it leaves the
-- directory. Its NPI may then enroll again (a new account, with a new
-- invite): the NPI stays unique among the accounts that are not deactivated.
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
DROP INDEX users_npi;
CREATE UNIQUE INDEX users_npi ON users (npi) WHERE npi IS NOT NULL AND deactivated_at IS NULL;
