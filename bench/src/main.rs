//! # curbside-bench
//!
//! The load generator. It starts the servers it measures as child processes
//! of its own (or drives a running server given with `--url`), enrolls
//! synthetic clinicians through the real API, connects them over real TLS
//! WebSockets and reports throughput, latency percentiles (p50, p90, p99,
//! p99.9), server CPU and resident memory, and the exact configuration.
//!
//! ```sh
//! cargo run --release -p curbside-bench -- pairs --clients 100
//! cargo run --release -p curbside-bench -- pairs --clients 1,10,100,1000 --db postgres
//! cargo run --release -p curbside-bench -- pairs --clients 100 --db postgres --nodes 2
//! cargo run --release -p curbside-bench -- pairs --clients 100 --rate 2000
//! cargo run --release -p curbside-bench -- team --teams 10
//! cargo run --release -p curbside-bench -- backlog --messages 100000
//! cargo run --release -p curbside-bench -- idle --connections 19000
//! cargo run --release -p curbside-bench -- baseline --clients 100
//! cargo run --release -p curbside-bench -- smoke
//! ```
//!
//! `pairs` and `team` first run the same load through the bare in-memory
//! relay (`relay.rs`) and report Curbside's throughput as a ratio of it.
//! Results and how to read them: BENCHMARKS.md.

#![forbid(unsafe_code)]
// One binary: `pub` marks what other modules of it use.
#![allow(unreachable_pub)]
// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod load;
mod node;
mod population;
mod realcrypto;
mod relay;
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::node::Kind;
use crate::scenarios::{External, Report, Setup, Timing};

#[derive(Parser)]
#[command(
    name = "curbside-bench",
    about = "Load generator for Curbside (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Args, Clone, Debug)]
struct Common {
    /// Storage of the embedded server.
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// PostgreSQL server on which a fresh database is created (and dropped) per run.
    #[arg(
        long,
        env = "CURBSIDE_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Curbside nodes sharing the database (more than one needs PostgreSQL).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Drive a running server at host:port instead of starting one (it must
    /// be fresh: the admin is enrolled with its bootstrap token).
    #[arg(long, requires_all = ["cert", "bootstrap_token"])]
    url: Option<String>,
    /// The running server's certificate (PEM), with --url.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// The running server's bootstrap token, with --url.
    #[arg(long)]
    bootstrap_token: Option<String>,
    /// The running server's process id, to report its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also append each report as one JSON line to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Clone, Copy, Debug)]
struct Traffic {
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Closed loop: sends awaiting `accepted` per sending connection.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Open loop: messages per second offered in total (latency at a given load).
    #[arg(long)]
    rate: Option<f64>,
    /// Skip the in-run baseline relay.
    #[arg(long)]
    no_baseline: bool,
}

impl Traffic {
    fn timing(&self) -> Timing {
        Timing {
            warmup: Duration::from_secs_f64(self.warmup.max(0.0)),
            duration: Duration::from_secs_f64(self.duration.max(0.1)),
            window: self.window.max(1),
            rate: self.rate,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// N sender/recipient pairs; a comma-separated list sweeps (1,10,100,1000).
    Pairs {
        /// Pairs (N senders and N recipients).
        #[arg(long, value_delimiter = ',', default_value = "100")]
        clients: Vec<usize>,
        /// Encrypt and decrypt every message with the real ratchet (one send at a time per sender).
        #[arg(long)]
        real_crypto: bool,
        #[command(flatten)]
        traffic: Traffic,
        #[command(flatten)]
        common: Common,
    },
    /// Care teams: every member sends to the other members.
    Team {
        /// Teams.
        #[arg(long, default_value_t = 10)]
        teams: usize,
        /// Members per team.
        #[arg(long, default_value_t = 10)]
        size: usize,
        #[command(flatten)]
        traffic: Traffic,
        #[command(flatten)]
        common: Common,
    },
    /// One device reconnecting to a queue of messages.
    Backlog {
        /// Messages queued.
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        /// Senders filling the queue.
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Sends awaiting `accepted` per sender while filling.
        #[arg(long, default_value_t = 64)]
        window: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Many authenticated idle connections: server memory per connection.
    Idle {
        /// Connections wanted (each needs a file descriptor here and on the server).
        #[arg(long, default_value_t = 19_000)]
        connections: usize,
        #[command(flatten)]
        common: Common,
    },
    /// `pairs` through the bare in-memory relay only.
    Baseline {
        /// Pairs.
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[command(flatten)]
        traffic: Traffic,
        /// Also append each report as one JSON line to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Every scenario, tiny, on SQLite (and PostgreSQL with two nodes when
    /// --postgres-url or CURBSIDE_TEST_POSTGRES_URL is given): checks that
    /// the harness works, in seconds. CI runs it.
    Smoke {
        /// PostgreSQL server for the PostgreSQL half.
        #[arg(long, env = "CURBSIDE_TEST_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// (internal) One server node; runs until stdin closes.
    #[command(hide = true)]
    Node {
        #[arg(long, value_enum)]
        kind: Kind,
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        database_url: Option<String>,
    },
}

fn setup(common: &Common) -> anyhow::Result<Setup> {
    let external = match &common.url {
        None => None,
        Some(url) => {
            let hostport = url
                .trim_start_matches("wss://")
                .trim_start_matches("https://")
                .trim_end_matches('/');
            let addr = std::net::ToSocketAddrs::to_socket_addrs(hostport)
                .with_context(|| format!("resolving {hostport}"))?
                .next()
                .context("no address")?;
            let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
            let cert = common.cert.as_ref().context("--url needs --cert")?;
            Some(External {
                addr,
                server_name: host.to_owned(),
                cert_pem: std::fs::read_to_string(cert)
                    .with_context(|| format!("reading {}", cert.display()))?,
                bootstrap_token: common
                    .bootstrap_token
                    .clone()
                    .context("--url needs --bootstrap-token")?,
                pid: common.server_pid,
            })
        }
    };
    Ok(Setup {
        kind: Kind::Curbside,
        postgres: (common.db == Db::Postgres).then(|| common.postgres_url.clone()),
        nodes: common.nodes,
        external,
    })
}

fn save(json: Option<&PathBuf>, reports: &[Report]) -> anyhow::Result<()> {
    if let Some(path) = json {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        for r in reports {
            writeln!(f, "{}", serde_json::to_string(r)?)?;
        }
    }
    Ok(())
}

fn print_machine() {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_default();
    println!("machine: {cpus} CPUs ({model}); load generator and server on the same machine");
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Node {
            kind,
            data_dir,
            database_url,
        } => node::run_node(kind, data_dir, database_url).await,
        Command::Pairs {
            clients,
            real_crypto,
            traffic,
            common,
        } => {
            print_machine();
            let setup = setup(&common)?;
            for n in clients {
                let reports = if real_crypto {
                    let r = realcrypto::pairs(&setup, n, traffic.timing()).await?;
                    r.print();
                    vec![r]
                } else {
                    scenarios::with_baseline(&setup, !traffic.no_baseline, |s| {
                        let timing = traffic.timing();
                        async move { scenarios::pairs(&s, n, timing).await }
                    })
                    .await?
                };
                save(common.json.as_ref(), &reports)?;
            }
            Ok(())
        }
        Command::Team {
            teams,
            size,
            traffic,
            common,
        } => {
            print_machine();
            let setup = setup(&common)?;
            let reports = scenarios::with_baseline(&setup, !traffic.no_baseline, |s| {
                let timing = traffic.timing();
                async move { scenarios::team(&s, teams, size.max(2), timing).await }
            })
            .await?;
            save(common.json.as_ref(), &reports)
        }
        Command::Backlog {
            messages,
            senders,
            window,
            common,
        } => {
            print_machine();
            let r = scenarios::backlog(&setup(&common)?, messages, senders.max(1), window.max(1)).await?;
            r.print();
            save(common.json.as_ref(), &[r])
        }
        Command::Idle { connections, common } => {
            print_machine();
            let r = scenarios::idle(&setup(&common)?, connections).await?;
            r.print();
            save(common.json.as_ref(), &[r])
        }
        Command::Baseline {
            clients,
            traffic,
            json,
        } => {
            print_machine();
            let setup = Setup {
                kind: Kind::Baseline,
                postgres: None,
                nodes: 1,
                external: None,
            };
            let r = scenarios::pairs(&setup, clients, traffic.timing()).await?;
            r.print();
            save(json.as_ref(), &[r])
        }
        Command::Smoke { postgres_url } => smoke(postgres_url).await,
    }
}

/// Checks a report of a traffic scenario: something flowed, nothing failed.
fn check(r: &Report) -> anyhow::Result<()> {
    if r.errors > 0 {
        bail!(
            "{} on {} ({}): {} errors, first: {}",
            r.scenario,
            r.server,
            r.backend,
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        );
    }
    if r.deliveries_per_sec <= 0.0 {
        bail!(
            "{} on {} ({}): nothing was delivered",
            r.scenario,
            r.server,
            r.backend
        );
    }
    Ok(())
}

async fn smoke(postgres_url: Option<String>) -> anyhow::Result<()> {
    let traffic = Timing {
        warmup: Duration::from_millis(300),
        duration: Duration::from_secs(1),
        window: 4,
        rate: None,
    };
    let mut backends = vec![(None, 1)];
    if let Some(url) = postgres_url {
        backends.push((Some(url), 2));
    } else {
        println!("smoke: PostgreSQL skipped (set CURBSIDE_TEST_POSTGRES_URL)");
    }
    for (postgres, nodes) in backends {
        let setup = Setup {
            kind: Kind::Curbside,
            postgres,
            nodes,
            external: None,
        };
        for r in scenarios::with_baseline(
            &setup,
            true,
            |s| async move { scenarios::pairs(&s, 2, traffic).await },
        )
        .await?
        {
            check(&r)?;
        }
        let open_loop = Timing {
            rate: Some(200.0),
            ..traffic
        };
        let r = scenarios::pairs(&setup, 2, open_loop).await?;
        r.print();
        check(&r)?;
        let r = scenarios::team(&setup, 1, 4, traffic).await?;
        r.print();
        check(&r)?;
        let r = realcrypto::pairs(&setup, 1, traffic).await?;
        r.print();
        check(&r)?;
        let r = scenarios::backlog(&setup, 300, 3, 16).await?;
        r.print();
        if r.errors > 0 || r.deliveries_per_sec <= 0.0 {
            bail!("backlog failed");
        }
        let r = scenarios::idle(&setup, 20).await?;
        r.print();
        if r.connections != 20 || r.errors > 0 {
            bail!("idle: {} of 20 connections ({:?})", r.connections, r.first_error);
        }
    }
    println!("smoke: every scenario ran");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Node { .. }) {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli))
}
