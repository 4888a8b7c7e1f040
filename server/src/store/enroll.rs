//! Joining the server: the bootstrap token that lets the first admin in,
//! invites (for a new user or a new device of an existing one), and
//! enrollment, which consumes an invite and registers the user and device in
//! one transaction. Tokens are stored only as SHA-256 hashes.

use std::time::Duration;

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::auth::EnrollPurpose;
use curbside_protocol::http::Role;
use curbside_protocol::ids::{DeviceId, UserId};
use sqlx::Row;

use super::prekeys::insert_prekeys;
use super::rows::{corrupt, device_id, user_id};
use super::users::roles_in;
use super::{ms, Store};
use crate::audit::{sha256_hex, Actor, Event};
use crate::error::ServerError;

/// What an invite, once consumed, grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// A new user with this role (bootstrap invites grant admin).
    NewUser(Role),
    /// A new device of this user.
    NewDevice(UserId),
}

/// Why an invite could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteProblem {
    /// Unknown or already used.
    Invalid,
    /// Past its expiry.
    Expired,
}

/// Why an enrollment was refused (nothing was stored, the invite stays usable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollProblem {
    /// The invite cannot be used.
    Invite(InviteProblem),
    /// A new user needs a display name; a clinician also an NPI and a specialty.
    ProfileRequired,
    /// Another user already enrolled with this NPI.
    NpiTaken,
    /// The invite grants something else than the purpose the enrollment
    /// proof was made for (only an invite issued before device invites had
    /// their own prefix).
    WrongPurpose,
}

/// A new user's professional details.
#[derive(Clone, Debug)]
pub struct UserDetails {
    /// Display name.
    pub display_name: String,
    /// NPI (validated by the caller).
    pub npi: Option<String>,
    /// Specialty.
    pub specialty: Option<String>,
}

/// The invite an enrollment redeems: its hash, and the purpose the
/// enrollment proof was made for, which the invite must grant.
#[derive(Clone, Copy, Debug)]
pub struct InviteClaim<'a> {
    /// SHA-256 of the invite.
    pub hash: &'a [u8],
    /// What the device's proof of possession says it enrolls for.
    pub purpose: EnrollPurpose,
}

/// The keys a device registers when it enrolls.
#[derive(Clone, Debug)]
pub struct DeviceKeys {
    /// 128-byte identity key.
    pub identity_key: Vec<u8>,
    /// 100-byte signed prekey.
    pub signed_prekey: Vec<u8>,
    /// One-time prekeys.
    pub one_time_prekeys: Vec<(u32, Vec<u8>)>,
}

/// The outcome of an enrollment.
#[derive(Clone, Debug)]
pub struct Enrolled {
    /// The user.
    pub user_id: UserId,
    /// The new device.
    pub device_id: DeviceId,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// Whether the user is verified.
    pub verified: bool,
}

/// The key of the advisory lock that serialises issuing the bootstrap
/// token between nodes ("cbs_boot").
const BOOTSTRAP_LOCK: i64 = 0x6362_735f_626f_6f74;

/// The database's bootstrap token, at a node's start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// An administrator exists: no bootstrap token is needed.
    AdminExists,
    /// This start issued the token (the caller holds it; only its hash is
    /// stored), valid until `expires_at`.
    Issued {
        /// Its expiry (ms since the epoch).
        expires_at: i64,
    },
    /// An unused token that has not expired was issued before, by the
    /// start of `node` (or an earlier start of this one): it stays valid,
    /// and only that start could print it.
    AlreadyIssued {
        /// The node id of the start that issued it (`None`: issued by a
        /// version that did not record it).
        node: Option<String>,
        /// When (ms since the epoch).
        created_at: i64,
        /// Its expiry (ms since the epoch).
        expires_at: i64,
    },
}

/// Whether an administrator exists, read in the transaction.
async fn has_active_admin(tx: &mut super::tx::Tx) -> Result<bool, ServerError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM user_roles r JOIN users u ON u.user_id = r.user_id \
         WHERE r.role = 'admin' AND u.deactivated_at IS NULL",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

impl Store {
    /// True once an admin exists (one whose account is not deactivated).
    pub async fn has_admin(&self) -> Result<bool, ServerError> {
        let q = sqlx::query(
            "SELECT COUNT(*) AS n FROM user_roles r JOIN users u ON u.user_id = r.user_id \
             WHERE r.role = 'admin' AND u.deactivated_at IS NULL",
        );
        let row = self.writer.fetch_one(q).await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Replaces any unused bootstrap token with a new one (only its hash
    /// is stored), unless an admin exists: `serve --new-bootstrap-token`,
    /// for a token that was lost. The old one stops working.
    pub async fn replace_bootstrap(
        &self,
        token_hash: &[u8],
        node: &str,
        now: i64,
        ttl: Duration,
    ) -> Result<Bootstrap, ServerError> {
        self.bootstrap(token_hash, node, now, ttl, true).await
    }

    /// One bootstrap token per database: issues one (only its hash is
    /// stored) unless an admin exists or an unused one that has not
    /// expired was already issued (by another node, or an earlier start),
    /// which is then left as it is. Race-free between nodes starting
    /// together: the check and the insert run in one transaction under a
    /// transaction-scoped advisory lock on PostgreSQL (SQLite has a single
    /// writer), so exactly one of them issues it.
    pub async fn issue_bootstrap(
        &self,
        token_hash: &[u8],
        node: &str,
        now: i64,
        ttl: Duration,
    ) -> Result<Bootstrap, ServerError> {
        self.bootstrap(token_hash, node, now, ttl, false).await
    }

    async fn bootstrap(
        &self,
        token_hash: &[u8],
        node: &str,
        now: i64,
        ttl: Duration,
        replace: bool,
    ) -> Result<Bootstrap, ServerError> {
        let mut tx = self.begin().await?;
        if tx.backend() == super::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(BOOTSTRAP_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        if has_active_admin(&mut tx).await? {
            return Ok(Bootstrap::AdminExists);
        }
        // An expired token lets nobody in: it is replaced.
        let until = if replace { i64::MAX } else { now };
        sqlx::query(
            "DELETE FROM invites WHERE purpose = 'bootstrap' AND used_at IS NULL AND expires_at <= $1",
        )
        .bind(until)
        .execute(&mut *tx)
        .await?;
        let issued = sqlx::query(
            "SELECT created_by, created_at, expires_at FROM invites \
             WHERE purpose = 'bootstrap' AND used_at IS NULL ORDER BY created_at LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = issued {
            let by: Option<String> = row.try_get("created_by")?;
            return Ok(Bootstrap::AlreadyIssued {
                node: by.and_then(|b| b.strip_prefix("node:").map(str::to_owned)),
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            });
        }
        let expires_at = now.saturating_add(ms(ttl));
        // created_by names the node that issued it (a bootstrap token has
        // no user behind it), for the nodes that start later.
        sqlx::query(
            "INSERT INTO invites (token_hash, purpose, role, user_id, created_by, created_at, expires_at) \
             VALUES ($1, 'bootstrap', 'admin', NULL, $2, $3, $4)",
        )
        .bind(token_hash.to_vec())
        .bind(format!("node:{node}"))
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Bootstrap::Issued { expires_at })
    }

    /// Stores a new invite.
    pub async fn create_invite(
        &self,
        token_hash: &[u8],
        grant: &Grant,
        actor: &Actor,
        now: i64,
        ttl: Duration,
    ) -> Result<i64, ServerError> {
        let created_by = actor.user.as_ref().map(|u| u.as_str().to_owned());
        let mut event = Event::new(actor, Action::InviteCreated);
        event = match grant {
            Grant::NewUser(role) => event.details(Details {
                role: Some(*role),
                ..Details::default()
            }),
            Grant::NewDevice(user) => event.counterpart(user, None),
        };
        let (purpose, role, user) = match grant {
            Grant::NewUser(role) => ("user", Some(role.as_str()), None),
            Grant::NewDevice(user) => ("device", None, Some(user.as_str().to_owned())),
        };
        let expires_at = now.saturating_add(ms(ttl));
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO invites (token_hash, purpose, role, user_id, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token_hash.to_vec())
        .bind(purpose)
        .bind(role)
        .bind(user)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.audit(vec![event], now).await?;
        tx.commit().await?;
        Ok(expires_at)
    }

    /// Consumes an invite and registers the user and/or device, all in one
    /// transaction: either everything is stored or nothing is.
    pub async fn enroll(
        &self,
        claim: InviteClaim<'_>,
        profile: &UserDetails,
        keys: &DeviceKeys,
        new_user_id: &UserId,
        source: &Actor,
        now: i64,
    ) -> Result<Result<Enrolled, EnrollProblem>, ServerError> {
        let mut tx = self.begin().await?;
        let Some(invite) = sqlx::query(
            "UPDATE invites SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING purpose, role, user_id",
        )
        .bind(claim.hash.to_vec())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            let expired = sqlx::query("SELECT 1 AS x FROM invites WHERE token_hash = $1 AND used_at IS NULL")
                .bind(claim.hash.to_vec())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            let problem = if expired {
                InviteProblem::Expired
            } else {
                InviteProblem::Invalid
            };
            return Ok(Err(EnrollProblem::Invite(problem)));
        };
        let purpose: String = invite.try_get("purpose")?;
        let grant = if purpose == "device" {
            Grant::NewDevice(user_id(&invite, "user_id")?)
        } else {
            let role: Option<String> = invite.try_get("role")?;
            Grant::NewUser(
                role.as_deref()
                    .and_then(Role::parse)
                    .ok_or_else(|| corrupt("invite role"))?,
            )
        };
        let granted = match grant {
            Grant::NewUser(_) => EnrollPurpose::NewUser,
            Grant::NewDevice(_) => EnrollPurpose::NewDevice,
        };
        if granted != claim.purpose {
            return Ok(Err(EnrollProblem::WrongPurpose));
        }
        if let Grant::NewDevice(user) = &grant {
            // A deactivated account takes no new device (its device
            // invites were deleted with it; this one raced it).
            let deactivated =
                sqlx::query("SELECT 1 AS x FROM users WHERE user_id = $1 AND deactivated_at IS NOT NULL")
                    .bind(user.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            if deactivated {
                return Ok(Err(EnrollProblem::Invite(InviteProblem::Invalid)));
            }
        }
        let user = match &grant {
            Grant::NewUser(role) => {
                let clinician_ok = profile.npi.is_some() && profile.specialty.is_some();
                if profile.display_name.is_empty() || (*role == Role::Clinician && !clinician_ok) {
                    return Ok(Err(EnrollProblem::ProfileRequired));
                }
                if let Some(npi) = &profile.npi {
                    let taken =
                        sqlx::query("SELECT 1 AS x FROM users WHERE npi = $1 AND deactivated_at IS NULL")
                            .bind(npi.as_str())
                            .fetch_optional(&mut *tx)
                            .await?
                            .is_some();
                    if taken {
                        return Ok(Err(EnrollProblem::NpiTaken));
                    }
                }
                sqlx::query(
                    "INSERT INTO users (user_id, display_name, npi, specialty, verified, created_at) \
                     VALUES ($1, $2, $3, $4, 0, $5)",
                )
                .bind(new_user_id.as_str())
                .bind(&profile.display_name)
                .bind(profile.npi.as_deref())
                .bind(profile.specialty.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO user_roles (user_id, role, granted_at) VALUES ($1, $2, $3)")
                    .bind(new_user_id.as_str())
                    .bind(role.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                new_user_id.clone()
            }
            Grant::NewDevice(user) => user.clone(),
        };
        let row = sqlx::query(
            "UPDATE users SET next_device_id = next_device_id + 1 WHERE user_id = $1 RETURNING next_device_id - 1 AS d",
        )
        .bind(user.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let device = device_id(&row, "d")?;
        let devices_before = device.0.saturating_sub(1);
        sqlx::query(
            "INSERT INTO devices (user_id, device_id, identity_key, signed_prekey, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.as_str())
        .bind(i64::from(device.0))
        .bind(keys.identity_key.clone())
        .bind(keys.signed_prekey.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_prekeys(&mut tx, &user, device, &keys.one_time_prekeys).await?;
        let roles = roles_in(&mut *tx, &user).await?;
        let verified: i64 = sqlx::query("SELECT verified FROM users WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("verified")?;
        let actor = Actor {
            user: Some(user.clone()),
            device: Some(device),
            role: Actor::usual_role(&roles),
            source: source.source.clone(),
        };
        let mut events = Vec::with_capacity(3);
        if let Grant::NewUser(role) = &grant {
            events.push(Event::new(&actor, Action::UserEnrolled).details(Details {
                role: Some(*role),
                ..Details::default()
            }));
        }
        events.push(Event::new(&actor, Action::DeviceAdded));
        let key_action = if devices_before == 0 {
            Action::IdentityKeyPublished
        } else {
            Action::IdentityKeyChanged
        };
        events.push(Event::new(&actor, key_action).details(Details {
            key_fingerprint: Some(sha256_hex(&keys.identity_key)),
            ..Details::default()
        }));
        tx.audit(events, now).await?;
        tx.commit().await?;
        Ok(Ok(Enrolled {
            user_id: user,
            device_id: device,
            roles,
            verified: verified != 0,
        }))
    }
}
