//! On-call roles: "On-call dermatology" and who holds it when (PROTOCOL.md,
//! "On-call roles"). An administrator defines the roles and schedules
//! shifts; a holder (or an administrator) hands off at once. Sending to a
//! role reaches the devices of whoever holds it at send time: the server
//! resolves the role, the sender's client encrypts to those devices, and the
//! `send` names the role so that the server checks and audits the resolution.

use serde::{Deserialize, Serialize};

use crate::frames::DirectoryEntry;
use crate::ids::{OnCallRoleId, UserId};

/// A role as every clinician sees it: who holds it now and the shifts
/// scheduled (the current one and those to come).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCallRole {
    /// Its id.
    pub role_id: OnCallRoleId,
    /// Its name, unique (case-insensitive).
    pub name: String,
    /// The specialty it covers, if any.
    pub specialty: Option<String>,
    /// Who holds it now (none: uncovered).
    pub holders: Vec<DirectoryEntry>,
    /// The current and future shifts, by start.
    pub shifts: Vec<Shift>,
}

/// One clinician holding a role from `starts_at` until `ends_at` (ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Its id.
    pub shift_id: i64,
    /// Who.
    pub user_id: UserId,
    /// Their name, from the directory.
    pub display_name: String,
    /// From (ms since the epoch, inclusive).
    pub starts_at: i64,
    /// Until (exclusive).
    pub ends_at: i64,
}

/// `POST /v1/admin/oncall`: a new role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRole {
    /// Its name ("On-call dermatology"): 1 to 80 characters, unique.
    pub name: String,
    /// The specialty it covers, if any.
    #[serde(default)]
    pub specialty: Option<String>,
}

/// `POST /v1/admin/oncall/{role_id}/shifts`: a clinician holds the role
/// from `starts_at` until `ends_at` (at most [`MAX_SHIFT_MS`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleShift {
    /// A verified clinician.
    pub user_id: UserId,
    /// From (ms since the epoch).
    pub starts_at: i64,
    /// Until (ms), after `starts_at`.
    pub ends_at: i64,
}

/// `POST /v1/oncall/{role_id}/handoff`: `to` holds the role from now on,
/// in place of whoever holds it now, until `until` (default: the end of the
/// shift handed off, or 12 hours).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOff {
    /// The clinician taking over.
    pub to: UserId,
    /// Until when (ms), if not the end of the current shift.
    #[serde(default)]
    pub until: Option<i64>,
}

/// The longest shift (31 days).
pub const MAX_SHIFT_MS: i64 = 31 * 24 * 3600 * 1000;

/// The length of a hand-off with no shift to take over (12 hours).
pub const DEFAULT_HANDOFF_MS: i64 = 12 * 3600 * 1000;
