//! `curbside`: one binary for every user of Curbside.
//!
//! - `curbside serve`: run the server (embedded default: SQLite in
//!   `./curbside-data/`, a self-signed certificate for localhost, 127.0.0.1:8443).
//! - `curbside migrate`: apply the database migrations (as the schema's owner).
//! - `curbside enroll | whoami | send | inbox | directory`: a clinician's device.
//! - `curbside admin invite | verify | users | grant | revoke`: administrators.
//! - `curbside audit query | export | verify | proof`: compliance officers.
//! - `curbside backup`: an online copy of an SQLite server, restorable as a data directory.

#![forbid(unsafe_code)]

mod audit;
mod backup;
mod chat;
mod commands;
mod consults;
mod messages;
mod oncall;
mod people;
mod profile;
mod refer;
mod server_args;
mod teams;
mod trust;

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "curbside",
    version,
    about = "End-to-end-encrypted messaging for clinicians"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply the database migrations, then exit (run it as the role that owns the schema).
    Migrate(MigrateArgs),
    /// Enroll this device with an invite (or, for the first admin, the bootstrap token).
    Enroll(commands::EnrollArgs),
    /// Show this profile's user and device.
    Whoami(commands::ProfileArg),
    /// The interactive chat (terminal UI).
    Chat(chat::ChatArgs),
    /// Send an end-to-end-encrypted message.
    Send(messages::SendArgs),
    /// Receive, decrypt and show new messages.
    #[command(visible_alias = "sync")]
    Inbox(messages::InboxArgs),
    /// Acknowledge urgent or stat messages (they alert until acknowledged).
    Ack(messages::AckArgs),
    /// List the urgent and stat messages still waiting for an acknowledgement.
    Urgent(messages::UrgentArgs),
    /// Recall a message you sent: undelivered copies are deleted, recipients delete theirs.
    Recall(messages::RecallArgs),
    /// Show your organisation's retention policy and recall window.
    Policy(messages::PolicyArgs),
    /// On-call roles: who holds each now; create, schedule, hand off.
    #[command(subcommand)]
    Oncall(oncall::OnCallCommand),
    /// Curbside consults: ask a specialty; opt in to answer; answer; close.
    #[command(subcommand)]
    Consult(consults::ConsultCommand),
    /// Show the conversation with a colleague (from the sealed local history).
    History(messages::HistoryArgs),
    /// List the colleagues this profile has conversations with.
    Contacts(messages::ContactsArgs),
    /// Send a file, end-to-end encrypted (only the recipients can decrypt it).
    Attach(messages::AttachArgs),
    /// Download, verify and decrypt a received attachment.
    Download(messages::DownloadArgs),
    /// Set or turn off a conversation's disappearing-message timer.
    Timer(messages::TimerArgs),
    /// Show the safety number with a colleague, or confirm it.
    Verify(trust::VerifyArgs),
    /// Referrals: create, list, show, accept, decline, cancel, complete, export.
    #[command(subcommand)]
    Refer(refer::ReferCommand),
    /// Care teams: create, add, remove, list, send, history.
    #[command(subcommand)]
    Team(teams::TeamCommand),
    /// This user's devices: list, add (approve a new one), revoke.
    #[command(subcommand)]
    Devices(trust::DevicesCommand),
    /// Search verified clinicians by name or specialty.
    Directory(commands::DirectoryArgs),
    /// Administration (admin role).
    #[command(subcommand)]
    Admin(commands::AdminCommand),
    /// The audit log (compliance officer role): query, export, verify, proof.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Back up a running SQLite server (database, attachments, keys) into a new directory.
    Backup(backup::BackupArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    location: server_args::ServerLocation,
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Server name clients connect to and sign [default: localhost].
    #[arg(long)]
    server_name: Option<String>,
    /// This node's id in logs and between nodes [default: random per start].
    #[arg(long)]
    node_id: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Never change the schema: refuse to start if the database lacks a
    /// migration (apply them with `curbside migrate` as the schema's owner).
    #[arg(long)]
    no_migrate: bool,
    /// While no administrator exists: replace the unused admin bootstrap
    /// token (issued by an earlier start or another node) with a new one,
    /// printed here; the old one stops working. For a token that was lost.
    #[arg(long)]
    new_bootstrap_token: bool,
    /// Serve the web client from this directory, read on each request
    /// (for developing it: `--web-dir web/public`) [default: the client
    /// built into this binary].
    #[arg(long)]
    web_dir: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// TOML configuration file (overridden by CURBSIDE_* variables and by flags).
    #[arg(long, env = "CURBSIDE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Data directory (for SQLite) [default: ./curbside-data].
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Database URL, with the role that owns the schema: sqlite://… or postgres://… [default: SQLite in the data directory].
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Json,
    Pretty,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CURBSIDE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn wait_for_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => { r.context("waiting for SIGINT")?; Ok("SIGINT") }
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl+C")?;
        Ok("Ctrl+C")
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let mut config = args.location.config()?;
    if let Some(v) = args.listen {
        config.listen = v;
    }
    if let Some(v) = args.server_name {
        config.server_name = v;
    }
    if let Some(v) = args.node_id {
        config.node_id = Some(v);
    }
    if args.no_migrate {
        config.migrate = false;
    }
    config.new_bootstrap_token = args.new_bootstrap_token;
    if let Some(v) = args.web_dir {
        config.web_dir = Some(v);
    }
    let data_dir = config.data_dir.clone();
    let server_name = config.server_name.clone();
    let server = curbside_server::start(config)
        .await
        .context("starting the server")?;
    let cert_path = data_dir.join("tls").join("cert.pem");
    let mut out = String::new();
    for warning in &server.warnings {
        out.push_str(&format!("\nWARNING: {warning}\n\n"));
    }
    out.push_str(&format!(
        "Curbside is listening on https://{} (WebSocket: wss://{}/v1/ws)\n",
        server.addr, server.addr
    ));
    out.push_str(&format!(
        "Web client for clinicians: https://{server_name}:{}/ (open it in a browser)\n",
        server.addr.port()
    ));
    out.push_str(&format!(
        "Database: {:?}. Data directory: {}\n",
        server.backend,
        data_dir.display()
    ));
    if cert_path.exists() {
        out.push_str(&format!(
            "TLS certificate: {} (SHA-256 of PEM {})\n",
            cert_path.display(),
            curbside_server::audit::sha256_hex(server.cert_pem.as_bytes())
        ));
    }
    out.push_str(&format!(
        "Audit log key (Ed25519, compliance officers compare it on first use): {}\n",
        server.log_key
    ));
    out.push_str(&bootstrap_notice(&server));
    out.push_str("Press Ctrl+C to stop.\n");
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes()).context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
    }
    let signal = wait_for_signal().await?;
    tracing::info!(signal, "shutting down");
    server.shutdown().await;
    Ok(())
}

/// A time (ms since the epoch) in UTC, to the second.
fn utc(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.format(&format).unwrap_or_else(|_| ms.to_string())
}

/// What `serve` says about the admin bootstrap token: one per database,
/// printed only by the start that issued it (only its hash is stored).
fn bootstrap_notice(server: &curbside_server::Server) -> String {
    use curbside_server::store::Bootstrap;
    match (&server.bootstrap, &server.bootstrap_token) {
        (Bootstrap::Issued { expires_at }, Some(token)) => format!(
            "\nNo administrator yet. One-time admin bootstrap token for this database (valid until {}; \
             other nodes and later starts keep it, they do not print it):\n\n    {token}\n\n\
             Enroll the first administrator with it (see README.md).\n",
            utc(*expires_at)
        ),
        (
            Bootstrap::AlreadyIssued {
                node,
                created_at,
                expires_at,
            },
            _,
        ) => {
            let by = match node {
                Some(node) if *node == server.node => "an earlier start of this node".to_owned(),
                Some(node) => format!("node {node}"),
                None => "an earlier start".to_owned(),
            };
            format!(
                "\nNo administrator yet. The admin bootstrap token for this database was issued at {} by {by} \
                 and printed in that start's output; it is valid until {} (only its hash is stored, so it cannot \
                 be shown again). Lost it? Start one node with --new-bootstrap-token: it prints a new one and the \
                 old one stops working.\n",
                utc(*created_at),
                utc(*expires_at)
            )
        }
        _ => String::new(),
    }
}

/// `curbside migrate`: applies what the database lacks and says what.
async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let mut config =
        curbside_server::Config::load(args.config.as_deref()).context("reading the configuration")?;
    if let Some(v) = args.data_dir {
        config.data_dir = v;
    }
    if let Some(v) = args.database_url {
        config.database_url = Some(v);
    }
    let applied = curbside_server::migrate(&config)
        .await
        .context("applying the migrations")?;
    let mut out = String::new();
    if applied.is_empty() {
        out.push_str("The database is up to date: no migration to apply.\n");
    } else {
        for migration in &applied {
            out.push_str(&format!("Applied migration {migration}\n"));
        }
        out.push_str(&format!(
            "{} migration(s) applied. Start the server (as the least-privilege role, with --no-migrate if you like).\n",
            applied.len()
        ));
    }
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("writing to stdout")?;
    Ok(())
}

/// Runs the command; an error is printed as one line per cause (`error:
/// what failed: why`), never with a backtrace, whatever `RUST_BACKTRACE`
/// says: a user's error is not a crash.
fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return report(&anyhow::Error::new(e).context("starting the runtime")),
    };
    match runtime.block_on(run(Cli::parse().command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

fn report(e: &anyhow::Error) -> std::process::ExitCode {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
    std::process::ExitCode::FAILURE
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Enroll(args) => commands::enroll(args).await,
        Command::Whoami(args) => commands::whoami(&args),
        Command::Chat(args) => chat::run(args).await,
        Command::Send(args) => messages::send(args).await,
        Command::Inbox(args) => messages::inbox(args).await,
        Command::Ack(args) => messages::ack(args).await,
        Command::Urgent(args) => messages::urgent(args).await,
        Command::Recall(args) => messages::recall(args).await,
        Command::Policy(args) => messages::policy(args).await,
        Command::Oncall(cmd) => oncall::run(cmd).await,
        Command::Consult(cmd) => consults::run(cmd).await,
        Command::History(args) => messages::history(args),
        Command::Contacts(args) => messages::contacts(args),
        Command::Attach(args) => messages::attach(args).await,
        Command::Download(args) => messages::download(args).await,
        Command::Timer(args) => messages::timer(args).await,
        Command::Verify(args) => trust::verify(args).await,
        Command::Devices(cmd) => trust::devices(cmd).await,
        Command::Team(cmd) => teams::run(cmd).await,
        Command::Refer(cmd) => refer::run(cmd).await,
        Command::Directory(args) => commands::directory(args).await,
        Command::Admin(cmd) => commands::admin(cmd).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::Backup(args) => backup::run(args).await,
    }
}
