//! The servers under load, each in a child process of its own (this binary
//! re-executed with the hidden `node` command), so that their CPU time and
//! resident memory are read from `/proc` apart from the load generator's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use curbside_server::config::Limits;
use curbside_server::Config;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// What kind of server a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `curbside serve`: storage, audit log, authentication.
    Curbside,
    /// The bare in-memory relay (see `relay.rs`).
    Baseline,
}

/// What a started node prints on its first stdout line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The admin bootstrap token (Curbside on a fresh database).
    pub bootstrap_token: Option<String>,
    /// The TLS certificate to pin.
    pub cert_pem: String,
}

/// How the bench configures a Curbside node (printed in every report).
pub fn bench_config(data_dir: &Path, database_url: &str) -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(database_url.to_owned()),
        limits: Limits {
            // Synthetic clients send as fast as the window allows: the
            // per-connection abuse limit would otherwise be what is measured.
            rate_per_sec: 1_000_000,
            rate_burst: 1_000_000,
            max_connections: 1_000_000,
            // Every synthetic client connects from 127.0.0.1.
            max_connections_per_address: 0,
            // The backlog scenario queues 100,000 messages for one device
            // from one sender: no queue quota (the quota check still runs
            // its usage bookkeeping, so its cost is measured).
            max_queued_messages_per_device: 0,
            max_queued_bytes_per_device: 0,
            max_queued_messages_per_sender: 0,
            max_queued_bytes_per_sender: 0,
            ..Limits::default()
        },
        ..Config::default()
    }
}

/// The configuration lines a report carries.
pub fn describe(config: &Config) -> String {
    let l = &config.limits;
    format!(
        "rate_per_sec={} rate_burst={} max_unacked_deliveries={} max_frame_bytes={} log=warn",
        l.rate_per_sec, l.rate_burst, l.max_unacked_deliveries, l.max_frame_bytes
    )
}

/// The hidden `node` command: runs one server until stdin closes.
pub async fn run_node(kind: Kind, data_dir: PathBuf, database_url: Option<String>) -> anyhow::Result<()> {
    let info;
    let stop: Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()>>;
    match kind {
        Kind::Curbside => {
            let url = database_url.context("a Curbside node needs --database-url")?;
            let server = curbside_server::start(bench_config(&data_dir, &url)).await?;
            info = NodeInfo {
                addr: server.addr,
                bootstrap_token: server.bootstrap_token.clone(),
                cert_pem: server.cert_pem.clone(),
            };
            stop = Box::new(move || Box::pin(server.shutdown()));
        }
        Kind::Baseline => {
            let relay = crate::relay::start(&data_dir).await?;
            info = NodeInfo {
                addr: relay.addr,
                bootstrap_token: None,
                cert_pem: relay.cert_pem.clone(),
            };
            stop = Box::new(move || Box::pin(relay.stop()));
        }
    }
    let line = serde_json::to_string(&info)?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    // Run until the parent closes our stdin (or dies).
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while stdin.read(&mut buf).await.unwrap_or(0) > 0 {}
    stop().await;
    Ok(())
}

/// A node running in a child process.
pub struct Node {
    child: Child,
    /// What it printed.
    pub info: NodeInfo,
}

impl Node {
    /// Starts a node and waits until it listens.
    pub async fn spawn(kind: Kind, data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let exe = std::env::current_exe().context("finding this executable")?;
        let log = std::fs::File::create(data_dir.join(format!(
            "node-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        )))?;
        let mut cmd = Command::new(exe);
        cmd.arg("node")
            .arg("--kind")
            .arg(match kind {
                Kind::Curbside => "curbside",
                Kind::Baseline => "baseline",
            })
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting a server node")?;
        let stdout = child.stdout.take().context("node stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("the node did not start within 120 s")??
            .context("the node exited before listening (see its log in the data directory)")?;
        let info: NodeInfo = serde_json::from_str(&line).context("reading the node's address")?;
        Ok(Self { child, info })
    }

    /// The node's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the node gracefully (closes its stdin and waits).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("the node exited with {status}");
                }
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("the node did not stop within 30 s");
            }
        }
        Ok(())
    }
}

/// CPU time and memory of a process, read from `/proc`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ProcSample {
    /// User + system CPU time, seconds.
    pub cpu_secs: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Peak resident memory, bytes.
    pub peak_rss_bytes: u64,
}

/// Reads a process's CPU time and memory (`None` for a process we cannot see).
pub fn sample(pid: Option<u32>) -> Option<ProcSample> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at state (3).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    // USER_HZ is 100 on every Linux ABI /proc reports in.
    #[allow(clippy::cast_precision_loss)]
    let cpu_secs = (utime + stime) as f64 / 100.0;
    Some(ProcSample {
        cpu_secs,
        rss_bytes: kib("VmRSS:")?,
        peak_rss_bytes: kib("VmHWM:")?,
    })
}

/// A fresh database for one run: a SQLite file, or a new PostgreSQL database
/// (dropped by [`Database::drop_database`]).
pub struct Database {
    /// The URL nodes connect to.
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
}

impl Database {
    /// A SQLite file in `dir`.
    pub fn sqlite(dir: &Path) -> Self {
        Self {
            url: format!("sqlite://{}?mode=rwc", dir.join("curbside.db").display()),
            admin_url: None,
            name: None,
        }
    }

    /// A new database on the PostgreSQL server of `admin_url`.
    pub async fn postgres(admin_url: &str) -> anyhow::Result<Self> {
        use sqlx::Connection as _;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!(
            "curbside_bench_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let (base, _) = admin_url
            .rsplit_once('/')
            .context("the PostgreSQL URL must name a database")?;
        Ok(Self {
            url: format!("{base}/{name}"),
            admin_url: Some(admin_url.to_owned()),
            name: Some(name),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        if self.name.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Drops a PostgreSQL database (nodes must be stopped).
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        if let (Some(admin_url), Some(name)) = (&self.admin_url, &self.name) {
            let mut admin = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
            admin.close().await?;
        }
        Ok(())
    }
}

/// Shared TLS settings for every connection to one node.
#[derive(Clone)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// TLS name (and the name in the authentication transcript).
    pub server_name: String,
    /// Trusts only the node's certificate.
    pub tls: Arc<tokio_rustls::rustls::ClientConfig>,
    /// For the HTTPS API.
    pub cert_pem: String,
}

impl Target {
    /// The target for a node.
    pub fn new(addr: SocketAddr, cert_pem: &str) -> anyhow::Result<Self> {
        Ok(Self {
            addr,
            server_name: "localhost".into(),
            tls: curbside_client::tls::client_config(cert_pem)?,
            cert_pem: cert_pem.to_owned(),
        })
    }

    /// As the client library wants it.
    pub fn server_info(&self) -> curbside_client::ServerInfo {
        curbside_client::ServerInfo {
            address: self.addr.to_string(),
            server_name: self.server_name.clone(),
            cert_pem: self.cert_pem.clone(),
        }
    }
}
