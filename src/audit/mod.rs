//! `curbside audit`: the compliance officer's commands. Every command that
//! talks to the server first checks the server's signed tree head against
//! the pinned log key and proves it consistent with the head seen last time
//! (kept in `<profile>/audit-witness.json`), so a rewritten or truncated
//! history is reported, loudly, before anything else is shown. Then nothing
//! is shown or kept unchecked against that head: `query` proves every entry
//! it lists (recorded hash and inclusion proof) and marks any that fails;
//! `export` checks the file before keeping it and refuses one that does not
//! reproduce the head unless told `--export-anyway`; offline `verify`
//! refuses an export shorter than, or not extending, the saved head.
//! Every integrity failure is an alarm and a non-zero exit.
//!
//! Layout: this module holds the commands' arguments ([`AuditCommand`],
//! the shared [`Filters`]) and what every online command begins with (the
//! checked session); `query`, `export`, `verify` and `proof` are one file
//! per subcommand, and `output` the shared output: notes, the alarm, the
//! table of entries and the progress bar.

mod export;
mod output;
mod proof;
mod query;
mod verify;

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use curbside_client::api::Api;
use curbside_client::audit::{check_head, AuditError};
use curbside_protocol::audit::{AuditQuery, TreeHeadResponse};
use curbside_protocol::bytes::Base64;

use crate::commands::{session, ProfileArg};

use output::alarm;
pub(crate) use output::note;

const WITNESS_FILE: &str = "audit-witness.json";

/// Filters shared by `query` and `export` (they combine with AND).
#[derive(Args, Clone, Default)]
pub(crate) struct Filters {
    /// Entries whose actor is this user id.
    #[arg(long)]
    actor: Option<String>,
    /// Entries whose counterpart (recipient, target…) is this user id.
    #[arg(long)]
    counterpart: Option<String>,
    /// Entries of this action (e.g. message.accepted, auth.failed, audit.exported).
    #[arg(long)]
    action: Option<String>,
    /// Entries about this message id.
    #[arg(long)]
    message: Option<String>,
    /// Entries about this referral id.
    #[arg(long)]
    referral: Option<String>,
    /// success or failure.
    #[arg(long)]
    outcome: Option<String>,
    /// At or after this time (RFC 3339, or a UTC date YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    /// Before this time (RFC 3339, or a UTC date YYYY-MM-DD).
    #[arg(long)]
    until: Option<String>,
}

impl Filters {
    /// Whether any filter is set (the export is then a selection of the log).
    fn any(&self) -> bool {
        let Self {
            actor,
            counterpart,
            action,
            message,
            referral,
            outcome,
            since,
            until,
        } = self;
        [
            actor,
            counterpart,
            action,
            message,
            referral,
            outcome,
            since,
            until,
        ]
        .iter()
        .any(|f| f.is_some())
    }

    fn query(&self) -> anyhow::Result<AuditQuery> {
        Ok(AuditQuery {
            actor: self.actor.clone(),
            counterpart: self.counterpart.clone(),
            action: self.action.clone(),
            message_id: self.message.clone(),
            referral_id: self.referral.clone(),
            outcome: self.outcome.clone(),
            since_ms: self.since.as_deref().map(parse_time).transpose()?,
            until_ms: self.until.as_deref().map(parse_time).transpose()?,
            ..AuditQuery::default()
        })
    }
}

fn parse_time(s: &str) -> anyhow::Result<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).or_else(|_| {
        let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))?;
        Ok::<_, time::error::Parse>(date.midnight().assume_utc())
    });
    let t = t.with_context(|| format!("{s:?} is neither RFC 3339 nor YYYY-MM-DD"))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).context("time out of range")
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON record per line: verifiable with `curbside audit verify`.
    Jsonl,
    /// For spreadsheets (not verifiable: use JSONL for that).
    Csv,
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Query the log: a readable table (oldest first), or --json. Every
    /// entry shown is checked against its recorded hash and proven in the
    /// signed tree head; any that fails is marked and the command fails.
    Query {
        #[command(flatten)]
        profile: ProfileArg,
        #[command(flatten)]
        filters: Filters,
        /// At most this many entries (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Newest first.
        #[arg(long)]
        newest_first: bool,
        /// Continue after this sequence number (printed as the next cursor).
        #[arg(long)]
        cursor: Option<u64>,
        /// One JSON record per line.
        #[arg(long)]
        json: bool,
    },
    /// Export the log to a file, with the signed tree head it matches
    /// (written next to it as <FILE>.tree-head.json). The file is checked
    /// against that head before it is kept: a full JSONL export must
    /// reproduce it; a filtered or CSV one must hold exactly the entries of
    /// the verified log (read once more, in full, for that). A file that
    /// does not match is not written, unless --export-anyway.
    Export {
        #[command(flatten)]
        profile: ProfileArg,
        #[command(flatten)]
        filters: Filters,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// jsonl (verifiable) or csv.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Write the file even if it does not match the signed tree head (to
        /// keep it as evidence). The command still fails with the alarm.
        #[arg(long)]
        export_anyway: bool,
    },
    /// Verify a full JSONL export offline: recompute the whole tree, check it
    /// against the signed tree head and the log key, name the first entry
    /// that does not match, and check it against the tree head saved in the
    /// profile (an export shorter than it, signed later, means entries were
    /// deleted; one whose first entries do not reproduce it, a rewrite).
    Verify {
        #[command(flatten)]
        profile: ProfileArg,
        /// The JSONL export.
        export: PathBuf,
        /// The signed tree head [default: <EXPORT>.tree-head.json].
        #[arg(long)]
        tree_head: Option<PathBuf>,
        /// The log's public key, base64 [default: the key pinned in the profile].
        #[arg(long)]
        log_key: Option<String>,
    },
    /// Prove that one entry is in the log: fetch it with its inclusion proof
    /// and check the proof against the current signed tree head.
    Proof {
        #[command(flatten)]
        profile: ProfileArg,
        /// The entry's sequence number.
        seq: u64,
    },
}

fn witness_path(profile: &ProfileArg) -> PathBuf {
    profile.profile.join(WITNESS_FILE)
}

/// Logs in and checks the server's head; a failed check is an alarm.
async fn checked_session(profile: &ProfileArg) -> anyhow::Result<(Api, String, TreeHeadResponse)> {
    let (api, token) = session(profile).await?;
    match check_head(&api, &token, &witness_path(profile)).await {
        Ok(checked) => {
            if checked.previous.is_none() {
                note(&format!(
                    "First use: pinned the audit log key {} (compare it with the key `curbside serve` prints).",
                    Base64(checked.log_key.clone()).encode()
                ));
            }
            Ok((
                api,
                token,
                TreeHeadResponse {
                    tree_head: checked.head,
                    log_key: checked.log_key.into(),
                },
            ))
        }
        Err(e @ (AuditError::Client(_) | AuditError::State(_))) => Err(e.into()),
        Err(e) => bail!(alarm(&e.to_string())),
    }
}

pub(crate) async fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::Query {
            profile,
            filters,
            limit,
            newest_first,
            cursor,
            json,
        } => query::query(&profile, &filters, limit, newest_first, cursor, json).await,
        AuditCommand::Export {
            profile,
            filters,
            out: path,
            format,
            export_anyway,
        } => export::export(&profile, &filters, &path, format, export_anyway).await,
        AuditCommand::Verify {
            profile,
            export,
            tree_head,
            log_key,
        } => verify::verify(&profile, &export, tree_head, log_key),
        AuditCommand::Proof { profile, seq } => proof::proof(&profile, seq).await,
    }
}
