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

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use curbside_client::api::Api;
use curbside_client::audit::{
    check_head, check_page, head_file_for, is_csv_header, verify_export, verify_inclusion, verify_selection,
    AuditError, ExportFormat, VerifyFailure, Witness,
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
            let size = head.tree_head.size;
            // Only entries of the checked head, each with its inclusion proof.
            let query = AuditQuery {
                limit: Some(limit),
                order: newest_first.then(|| "desc".to_owned()),
                cursor,
                tree_size: Some(size),
                ..filters.query()?
            };
            let page = api.audit_entries(&token, &query).await?;
            let failures = match check_page(&page, &head.tree_head, head.log_key.as_slice()) {
                Ok(f) => f,
                Err(e) => bail!(alarm(&format!("the entries cannot be checked: {e}"))),
            };
            if json {
                for r in &page.records {
                    out(&serde_json::to_string(r)?)?;
                }
            } else {
                let marks = failures.iter().map(|(seq, e)| (*seq, mark(e))).collect();
                out(&table(&page.records, &marks))?;
            }
            if !failures.is_empty() {
                bail!(alarm(&failed_entries(&failures, page.records.len(), size, !json)));
            }
            note(&format!(
                "{} entries shown, each proven in the signed tree head of {size} entries{}",
                page.records.len(),
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
            export_anyway,
        } => export(&profile, &filters, &path, format, export_anyway).await,
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
                    out(&table(std::slice::from_ref(&proof.record), &HashMap::new()))?;
                    out(&format!(
                        "Entry {seq} is included in the signed tree of {size} entries (root {}): {} proof hashes checked.",
                        head.tree_head.root,
                        hashes.len()
                    ))
                }
                Err(e) => bail!(alarm(&e.to_string())),
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
    if is_csv_file(export)? {
        bail!("{}: {}", export.display(), VerifyFailure::Csv);
    }
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
    // The saved head is compared only when it is of the same log.
    let saved = match &witness {
        Some(w) if w.log_key == key => Some(&w.last_head),
        Some(_) => {
            note(&format!(
                "note: the tree head saved in {} is of another log key than --log-key: not compared.",
                profile.profile.display()
            ));
            None
        }
        None => None,
    };
    let file = std::fs::File::open(export).with_context(|| format!("opening {}", export.display()))?;
    let bar = progress_bar(head.tree_head.size);
    let result = verify_export(
        BufReader::with_capacity(1 << 20, file),
        &head.tree_head,
        key.as_slice(),
        saved,
        |n| bar.set_position(n),
    );
    bar.finish_and_clear();
    let v = match result {
        Ok(v) => v,
        Err(e) if !e.is_integrity_failure() => bail!("{}: {e}", export.display()),
        Err(e @ (VerifyFailure::Shrank { .. } | VerifyFailure::SavedHeadMismatch { .. })) => bail!(alarm(
            &format!(
                "{}: {e}.\n!!! Your saved tree head proves the log held these entries when you checked it: keep {} \
                 and this export unchanged (do not delete the saved head to silence the alarm); if the server was \
                 restored from a backup, ask its administrator when the backup was taken",
                export.display(),
                witness_path(profile).display()
            )
        )),
        Err(e) => bail!(alarm(&format!("{}: {e}", export.display()))),
    };
    out(&format!(
        "OK: {} entries reproduce the signed tree head (size {}, root {}, signed {}){}.",
        v.entries,
        head.tree_head.size,
        head.tree_head.root,
        format_time_ms(head.tree_head.timestamp_ms),
        v.matched_saved_head
            .map(|s| format!("; the first {s} match the tree head saved earlier"))
            .unwrap_or_default()
    ))?;
    if let Some(newer) = v.saved_head_newer {
        note(&format!(
            "note: this export is older than the tree head you saved on {} ({} entries): it ends at entry {}, \
             and offline verification cannot show that it is a prefix of that head. To check the log as it is \
             now, export it again and verify the new export.",
            format_time_ms(newer.timestamp_ms),
            newer.size,
            v.entries
        ));
    }
    Ok(())
}

/// Whether the file starts with the header of a CSV export.
fn is_csv_file(path: &Path) -> anyhow::Result<bool> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut first = String::new();
    // Only the first line matters; a file that is not text is no CSV export.
    let _ = BufReader::new(file).take(64 * 1024).read_line(&mut first);
    Ok(is_csv_header(&first))
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} verifying [{bar:40}] {pos}/{len} entries ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// A file being written under a temporary name, removed unless kept.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Partial {
    fn new(path: PathBuf) -> Self {
        Self { path, kept: false }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the file to `to`.
    fn keep(mut self, to: &Path) -> anyhow::Result<()> {
        std::fs::rename(&self.path, to)
            .with_context(|| format!("renaming {} to {}", self.path.display(), to.display()))?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Streams an export into a new file; returns the last entry it covers and
/// the bytes written.
async fn download(api: &Api, token: &str, query: &AuditQuery, to: &Path) -> anyhow::Result<(u64, u64)> {
    let mut file = tokio::fs::File::create(to)
        .await
        .with_context(|| format!("creating {}", to.display()))?;
    let written = api.audit_export(token, query, &mut file).await?;
    file.sync_all()
        .await
        .with_context(|| format!("writing {}", to.display()))?;
    Ok(written)
}

/// `audit export`: written under a temporary name, checked against the
/// signed head, then kept (or, if it does not match, removed unless
/// `export_anyway`).
async fn export(
    profile: &ProfileArg,
    filters: &Filters,
    path: &Path,
    format: Format,
    export_anyway: bool,
) -> anyhow::Result<()> {
    let (api, token, head) = checked_session(profile).await?;
    let size = head.tree_head.size;
    let key = head.log_key.as_slice();
    let query = AuditQuery {
        through: Some(size),
        format: Some(match format {
            Format::Jsonl => "jsonl".into(),
            Format::Csv => "csv".into(),
        }),
        ..filters.query()?
    };
    let partial = Partial::new(with_suffix(path, ".partial"));
    let (through, bytes) = download(&api, &token, &query, partial.path()).await?;
    let open = |p: &Path| -> anyhow::Result<BufReader<std::fs::File>> {
        let file = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
        Ok(BufReader::with_capacity(1 << 20, file))
    };
    let bar = progress_bar(size);
    let result = match (format, filters.any()) {
        (Format::Jsonl, false) => verify_export(open(partial.path())?, &head.tree_head, key, None, |n| {
            bar.set_position(n);
        }),
        (format, _) => {
            // The whole log once more, to check the selection against.
            let full = Partial::new(with_suffix(path, ".full.partial"));
            let whole = AuditQuery {
                through: Some(size),
                ..AuditQuery::default()
            };
            download(&api, &token, &whole, full.path()).await?;
            let format = match format {
                Format::Jsonl => ExportFormat::Jsonl,
                Format::Csv => ExportFormat::Csv,
            };
            verify_selection(
                open(partial.path())?,
                format,
                open(full.path())?,
                &head.tree_head,
                key,
                |n| bar.set_position(n),
            )
        }
    };
    bar.finish_and_clear();
    let failure = match result {
        Ok(_) => None,
        Err(e) if !e.is_integrity_failure() => bail!(
            "checking the export: {e}; nothing was written to {}",
            path.display()
        ),
        Err(e) => Some(e),
    };
    if let (Some(e), false) = (&failure, export_anyway) {
        bail!(alarm(&format!(
            "{e}.\n!!! The export does not reproduce the signed tree head (size {size}): nothing was written to {}. \
             To keep a copy as evidence anyway, run the same command with --export-anyway.",
            path.display()
        )));
    }
    partial.keep(path)?;
    let head_path = head_file_for(path);
    std::fs::write(&head_path, serde_json::to_vec_pretty(&head)?)
        .with_context(|| format!("writing {}", head_path.display()))?;
    if let Some(e) = failure {
        bail!(alarm(&format!(
            "{e}.\n!!! The export was written anyway to {} (--export-anyway), with the signed tree head in {}: \
             it does NOT reproduce that head. Keep it as evidence; do not rely on it as the record.",
            path.display(),
            head_path.display()
        )));
    }
    let checked = if format == Format::Jsonl && !filters.any() {
        format!("Checked: the {size} entries reproduce the signed tree head.")
    } else {
        format!("Checked: every exported entry is the one in the verified log of {size} entries.")
    };
    out(&format!(
        "Exported entries 1..={through} ({bytes} bytes) to {}\nSigned tree head: {} (size {size}, root {})\n{checked}",
        path.display(),
        head_path.display(),
        head.tree_head.root
    ))
}

/// What a row of `audit query` is marked with when it does not check.
fn mark(failure: &VerifyFailure) -> String {
    match failure {
        VerifyFailure::Altered { .. } => "ALTERED: content does not match its recorded hash".into(),
        VerifyFailure::NotIncluded { .. } => "NOT IN THE SIGNED TREE: its inclusion proof fails".into(),
        other => format!("NOT VERIFIED: {other}"),
    }
}

/// The alarm of `audit query` when some entries shown do not check.
fn failed_entries(failures: &[(u64, VerifyFailure)], shown: usize, size: u64, marked: bool) -> String {
    const LISTED: usize = 10;
    let mut what: Vec<String> = failures.iter().take(LISTED).map(|(_, e)| e.to_string()).collect();
    if failures.len() > LISTED {
        what.push(format!("and {} more", failures.len() - LISTED));
    }
    format!(
        "{} of the {shown} entries shown do not match the signed tree head of {size} entries{}; \
         do not rely on them:\n!!! {}",
        failures.len(),
        if marked { " (the rows marked !!!)" } else { "" },
        what.join("\n!!! ")
    )
}

/// A readable table; rows in `marks` end with `!!! <mark>`.
fn table(records: &[AuditRecord], marks: &HashMap<u64, String>) -> String {
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
        let mut row = format!(
            "{:>7}  {:<24}  {:<26}  {:<8}  {:<28}  {:<22}  {}",
            e.seq,
            format_time_ms(e.time_ms),
            e.action.as_str(),
            outcome,
            actor,
            counterpart,
            subject.join(", ")
        );
        if let Some(mark) = marks.get(&e.seq) {
            row.push_str(&format!("  !!! {mark}"));
        }
        rows.push(row);
    }
    rows.join("\n")
}
