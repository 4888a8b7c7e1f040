//! `curbside audit export`: the log (or a selection) streamed to a file
//! under a temporary name, checked against the signed tree head, and kept
//! with that head beside it only if it matches (or `--export-anyway`).

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use curbside_client::api::Api;
use curbside_client::audit::{head_file_for, verify_export, verify_selection, ExportFormat};
use curbside_protocol::audit::AuditQuery;

use super::output::{alarm, progress_bar};
use super::{checked_session, Filters, Format};
use crate::commands::{out, ProfileArg};

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
pub(super) async fn export(
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
