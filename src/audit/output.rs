//! The output the audit commands share: notes on stderr, the integrity
//! alarm, the table of entries and the progress bar of a verification.

use std::collections::HashMap;

use curbside_protocol::audit::{format_time_ms, AuditRecord};

use super::WITNESS_FILE;

/// A note for the person at the terminal (stderr, so `--json` output stays clean).
pub(crate) fn note(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

pub(super) fn alarm(what: &str) -> String {
    format!(
        "\n!!! AUDIT LOG INTEGRITY FAILURE !!!\n!!! {what}\n!!! Do not rely on this server's audit log; \
         preserve the saved tree head ({WITNESS_FILE}) and any exports, and escalate.\n"
    )
}

pub(super) fn progress_bar(len: u64) -> indicatif::ProgressBar {
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

/// A readable table; rows in `marks` end with `!!! <mark>`.
pub(super) fn table(records: &[AuditRecord], marks: &HashMap<u64, String>) -> String {
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
