//! `curbside audit verify`: a full JSONL export verified offline against
//! its signed tree head, the log key and the tree head saved in the profile.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use curbside_client::audit::{head_file_for, is_csv_header, verify_export, VerifyFailure, Witness};
use curbside_protocol::audit::{format_time_ms, TreeHeadResponse};
use curbside_protocol::bytes::Base64;

use super::output::{alarm, note, progress_bar};
use super::witness_path;
use crate::commands::{out, ProfileArg};

/// `audit verify`.
pub(super) fn verify(
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
