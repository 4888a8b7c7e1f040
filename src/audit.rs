//! `curbside audit`: the compliance officer's commands. Every command that
//! talks to the server first checks the server's signed tree head against
//! the pinned log key and proves it consistent with the head seen last time
//! (kept in `<profile>/audit-witness.json`), so a rewritten or truncated
//! history is reported, loudly, before anything else is shown.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use curbside_client::api::Api;
use curbside_client::audit::{
    check_head, head_file_for, verify_export, verify_inclusion, AuditError, Witness,
};
use curbside_protocol::audit::{format_time_ms, AuditQuery, AuditRecord, TreeHeadResponse};
use curbside_protocol::bytes::Base64;
use curbside_protocol::merkle::Hash;

use crate::commands::{out, session, ProfileArg};

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

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// One JSON record per line: verifiable with `curbside audit verify`.
    Jsonl,
    /// For spreadsheets (not verifiable: use JSONL for that).
    Csv,
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Query the log: a readable table (oldest first), or --json.
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
    /// (written next to it as <FILE>.tree-head.json).
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
    },
    /// Verify a full JSONL export offline: recompute the whole tree, check it
    /// against the signed tree head and the log key, name the first entry
    /// that does not match.
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

/// A note for the person at the terminal (stderr, so `--json` output stays clean).
pub(crate) fn note(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
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

fn alarm(what: &str) -> String {
    format!(
        "\n!!! AUDIT LOG INTEGRITY FAILURE !!!\n!!! {what}\n!!! Do not rely on this server's audit log; \
         preserve the saved tree head ({WITNESS_FILE}) and any exports, and escalate.\n"
    )
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
        } => {
            let (api, token, head) = checked_session(&profile).await?;
            let query = AuditQuery {
                limit: Some(limit),
                order: newest_first.then(|| "desc".to_owned()),
                cursor,
                ..filters.query()?
            };
            let page = api.audit_entries(&token, &query).await?;
            if json {
                for r in &page.records {
                    out(&serde_json::to_string(r)?)?;
                }
                return Ok(());
            }
            out(&table(&page.records))?;
            note(&format!(
                "{} entries shown; log size {} (tree head verified){}",
                page.records.len(),
                head.tree_head.size,
                page.next_cursor
                    .map(|c| format!("; more with --cursor {c}"))
                    .unwrap_or_default()
            ));
            Ok(())
        }
        AuditCommand::Export {
            profile,
            filters,
            out: path,
            format,
        } => {
            let (api, token, head) = checked_session(&profile).await?;
            let query = AuditQuery {
                through: Some(head.tree_head.size),
                format: Some(match format {
                    Format::Jsonl => "jsonl".into(),
                    Format::Csv => "csv".into(),
                }),
                ..filters.query()?
            };
            let mut file = tokio::fs::File::create(&path)
                .await
                .with_context(|| format!("creating {}", path.display()))?;
            let (through, bytes) = api.audit_export(&token, &query, &mut file).await?;
            file.sync_all().await?;
            let head_path = head_file_for(&path);
            std::fs::write(&head_path, serde_json::to_vec_pretty(&head)?)
                .with_context(|| format!("writing {}", head_path.display()))?;
            out(&format!(
                "Exported entries 1..={through} ({bytes} bytes) to {}\nSigned tree head: {} (size {}, root {})",
                path.display(),
                head_path.display(),
                head.tree_head.size,
                head.tree_head.root
            ))
        }
        AuditCommand::Verify {
            profile,
            export,
            tree_head,
            log_key,
        } => verify(&profile, &export, tree_head, log_key),
        AuditCommand::Proof { profile, seq } => {
            let (api, token, head) = checked_session(&profile).await?;
            let size = head.tree_head.size;
            let proof = api.audit_inclusion(&token, seq, size).await?;
            let hashes: Vec<Hash> = proof.proof.iter().map(|h| h.0).collect();
            match verify_inclusion(&proof.record, &hashes, &head.tree_head, head.log_key.as_slice()) {
                Ok(()) => {
                    out(&table(std::slice::from_ref(&proof.record)))?;
                    out(&format!(
                        "Entry {seq} is included in the signed tree of {size} entries (root {}): {} proof hashes checked.",
                        head.tree_head.root,
                        hashes.len()
                    ))
                }
                Err(e) => bail!(alarm(&format!("entry {seq}: {e}"))),
            }
        }
    }
}

fn verify(
    profile: &ProfileArg,
    export: &Path,
    tree_head: Option<PathBuf>,
    log_key: Option<String>,
) -> anyhow::Result<()> {
    let head_path = tree_head.unwrap_or_else(|| head_file_for(export));
    let head: TreeHeadResponse = serde_json::from_slice(
        &std::fs::read(&head_path).with_context(|| format!("reading {}", head_path.display()))?,
    )
    .with_context(|| format!("{} is not a signed tree head", head_path.display()))?;
    let witness = Witness::load(&witness_path(profile))?;
    let key = match (&log_key, &witness) {
        (Some(k), _) => Base64::decode(k.trim()).context("--log-key is not base64")?,
        (None, Some(w)) => w.log_key.clone(),
        (None, None) => {
            note(&format!(
                "warning: no pinned log key in {} and no --log-key: using the key stored with the tree head ({}); \
                 compare it with the key `curbside serve` prints.",
                profile.profile.display(),
                head.log_key.encode()
            ));
            head.log_key.clone()
        }
    };
    let saved = witness.as_ref().map(|w| &w.last_head);
    let file = std::fs::File::open(export).with_context(|| format!("opening {}", export.display()))?;
    let bar = indicatif::ProgressBar::new(head.tree_head.size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} verifying [{bar:40}] {pos}/{len} entries ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let result = verify_export(
        BufReader::with_capacity(1 << 20, file),
        &head.tree_head,
        key.as_slice(),
        saved,
        |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    match result {
        Ok(v) => out(&format!(
            "OK: {} entries reproduce the signed tree head (size {}, root {}, signed {}){}.",
            v.entries,
            head.tree_head.size,
            head.tree_head.root,
            format_time_ms(head.tree_head.timestamp_ms),
            v.matched_saved_head
                .map(|s| format!("; the first {s} match the tree head saved earlier"))
                .unwrap_or_default()
        )),
        Err(e) => bail!(alarm(&format!("{}: {e}", export.display()))),
    }
}

fn table(records: &[AuditRecord]) -> String {
    let mut rows = vec![format!(
        "{:>7}  {:<24}  {:<26}  {:<8}  {:<28}  {:<22}  {}",
        "SEQ", "TIME (UTC)", "ACTION", "OUTCOME", "ACTOR", "COUNTERPART", "SUBJECT / SOURCE"
    )];
    for r in records {
        let e = &r.entry;
        let actor = match (&e.actor_user, e.actor_device) {
            (Some(u), Some(d)) => format!(
                "{u}/{d}{}",
                e.actor_role
                    .map(|r| format!(" ({})", r.as_str()))
                    .unwrap_or_default()
            ),
            (Some(u), None) => u.to_string(),
            _ => "-".into(),
        };
        let counterpart = match (&e.counterpart_user, e.counterpart_device) {
            (Some(u), Some(d)) => format!("{u}/{d}"),
            (Some(u), None) => u.to_string(),
            _ => "-".into(),
        };
        let outcome = match &e.reason {
            Some(reason) => format!("{} ({reason})", e.outcome.as_str()),
            None => e.outcome.as_str().to_owned(),
        };
        let mut subject = Vec::new();
        if let Some(m) = &e.message_id {
            subject.push(format!("message {m}"));
        }
        if let Some(r) = &e.referral_id {
            subject.push(format!("referral {r}"));
        }
        if let Some(a) = &e.attachment_id {
            subject.push(format!("attachment {a}"));
        }
        if let Some(s) = &e.source {
            subject.push(format!("from {s}"));
        }
        rows.push(format!(
            "{:>7}  {:<24}  {:<26}  {:<8}  {:<28}  {:<22}  {}",
            e.seq,
            format_time_ms(e.time_ms),
            e.action.as_str(),
            outcome,
            actor,
            counterpart,
            subject.join(", ")
        ));
    }
    rows.join("\n")
}
