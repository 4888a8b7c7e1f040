//! `curbside backup`: a consistent copy of a running SQLite server
//! (database, attachment blobs, audit log key, TLS certificate and key),
//! laid out as a data directory (`curbside_server::backup`).

use std::path::PathBuf;

use anyhow::Context as _;
use curbside_protocol::audit::format_time_ms;

#[derive(clap::Args)]
pub(crate) struct BackupArgs {
    /// The directory to create (it must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Where the server's data is: the same flags as given to `serve`
    /// (PostgreSQL is refused).
    #[command(flatten)]
    location: crate::server_args::ServerLocation,
}

pub(crate) async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let config = args.location.config()?;
    let report = curbside_server::backup::backup(&config, &args.out)
        .await
        .context("backup failed (nothing was written at the destination)")?;
    let head = &report.audit.tree_head;
    let mut out = format!(
        "Backup written to {}\n\
         Database: {} bytes, a consistent copy as of {} (everything acknowledged before then is in it).\n\
         Audit log: {} entries, root {} (signed tree head in {}).\n\
         Attachments: {} blobs, {} bytes.\n\
         Keys: audit log key and TLS certificate and key.\n",
        report.dir.display(),
        report.database_bytes,
        format_time_ms(report.started_at_ms),
        head.size,
        head.root,
        curbside_server::backup::WITNESS_FILE,
        report.attachments,
        report.attachment_bytes,
    );
    if report.attachments_expired > 0 {
        out.push_str(&format!(
            "{} attachments expired while the backup ran and are not in it.\n",
            report.attachments_expired
        ));
    }
    for note in &report.notes {
        out.push_str(&format!("Note: {note}\n"));
    }
    out.push_str(&format!(
        "Restore: stop the server, copy this directory into place as its data directory (or run \
         `curbside serve --data-dir {}`), and tell your compliance officers (README.md, \"Backups and restore\").\n",
        report.dir.display()
    ));
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes()).context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
    }
    if !report.attachments_missing.is_empty() {
        use std::io::Write as _;
        let warning = format!(
            "WARNING: {} attachments have a database row but no blob in {}: they were missing from \
             the server's data directory before the backup and cannot be restored from this backup \
             ({}). Look for them in an earlier backup.",
            report.attachments_missing.len(),
            config.data_dir.join("attachments").display(),
            report.attachments_missing.join(", ")
        );
        let _ = writeln!(std::io::stderr().lock(), "{warning}");
    }
    Ok(())
}
