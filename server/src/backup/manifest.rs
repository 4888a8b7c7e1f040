//! What is written about a backup into it: the [`BackupReport`] (the
//! manifest, `backup.json`) and the witness, the copied audit log's signed
//! tree head in the form of a compliance officer's saved head.

use std::path::PathBuf;

use curbside_protocol::audit::{SignedTreeHead, TreeHeadResponse};
use curbside_protocol::bytes::Base64;
use serde::Serialize;

/// What a backup holds (also written into it as [`MANIFEST_FILE`](super::MANIFEST_FILE)).
#[derive(Clone, Debug, Serialize)]
pub struct BackupReport {
    /// The backup directory.
    pub dir: PathBuf,
    /// When the backup began (ms since the epoch): everything the server
    /// acknowledged before this is in it.
    pub started_at_ms: i64,
    /// When the database copy was complete.
    pub finished_at_ms: i64,
    /// The database copied from.
    pub source_database: PathBuf,
    /// Size of the copied database, in bytes.
    pub database_bytes: u64,
    /// The copied audit log: its size and root, signed with the log key
    /// when the backup was made.
    pub audit: TreeHeadResponse,
    /// Attachment blobs copied.
    pub attachments: u64,
    /// Their bytes.
    pub attachment_bytes: u64,
    /// Attachments that expired while the backup ran (their blob was
    /// already deleted): left out, rows and all.
    pub attachments_expired: u64,
    /// Attachments whose row is in the database but whose blob is not on
    /// the server's disk (the server's data directory is damaged): the rows
    /// are kept, the blobs cannot be. Empty on a healthy server.
    pub attachments_missing: Vec<String>,
    /// What the operator must know to restore it (configured paths).
    pub notes: Vec<String>,
}

/// The compliance officer's saved head (`curbside_client::audit::Witness`).
#[derive(Serialize)]
pub(super) struct Witness<'a> {
    pub(super) log_key: &'a Base64,
    pub(super) last_head: &'a SignedTreeHead,
}
