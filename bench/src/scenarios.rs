//! The scenarios: who connects where, who sends to whom, what is measured.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use curbside_protocol::ids::Address;
use futures_util::{StreamExt as _, TryStreamExt as _};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;

use crate::load::{self, Latencies, Sending, Shared, Ws};
use crate::node::{self, Database, Kind, Node, ProcSample, Target};
use crate::population::{self, Admin, Clinician};

/// Where the load goes.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Curbside or the baseline relay.
    pub kind: Kind,
    /// `sqlite` or `postgres` (Curbside only).
    pub postgres: Option<String>,
    /// How many Curbside nodes (2 needs PostgreSQL).
    pub nodes: usize,
    /// An already running server instead of an embedded one.
    pub external: Option<External>,
}

/// A server started by someone else (`--url`).
#[derive(Clone, Debug)]
pub struct External {
    /// `host:port`.
    pub addr: std::net::SocketAddr,
    /// Its TLS name.
    pub server_name: String,
    /// Its certificate (PEM).
    pub cert_pem: String,
    /// Its bootstrap token (a fresh server).
    pub bootstrap_token: String,
    /// Its process id, to read CPU and memory.
    pub pid: Option<u32>,
}

/// The servers of one run, their targets, and the admin.
pub struct Cluster {
    nodes: Vec<Node>,
    /// One per node.
    pub targets: Vec<Target>,
    pids: Vec<Option<u32>>,
    admin: Option<Admin>,
    db: Option<Database>,
    /// The backend, for the report.
    pub backend: String,
    /// The server configuration, for the report.
    pub config: String,
    _dir: tempfile::TempDir,
    next_clinician: usize,
}

impl Cluster {
    /// Starts the nodes (or connects to the external server) and enrolls the admin.
    pub async fn start(setup: &Setup) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("curbside-bench-").tempdir()?;
        if let Some(ext) = &setup.external {
            let mut target = Target::new(ext.addr, &ext.cert_pem)?;
            target.server_name.clone_from(&ext.server_name);
            let admin = Admin::bootstrap(&target, &ext.bootstrap_token).await?;
            return Ok(Self {
                nodes: Vec::new(),
                targets: vec![target],
                pids: vec![ext.pid],
                admin: Some(admin),
                db: None,
                backend: "external".into(),
                config: "as configured by its operator".into(),
                _dir: dir,
                next_clinician: 0,
            });
        }
        let (db, config) = match setup.kind {
            Kind::Baseline => (
                None,
                "in-memory relay: no storage, no audit, no authentication".to_owned(),
            ),
            Kind::Curbside => {
                let db = match &setup.postgres {
                    Some(url) => Database::postgres(url).await?,
                    None => Database::sqlite(dir.path()),
                };
                let config = node::describe(&node::bench_config(dir.path(), &db.url));
                (Some(db), config)
            }
        };
        if setup.nodes > 1 && db.as_ref().is_none_or(|d| d.backend() != "postgres") {
            bail!("several nodes need PostgreSQL (--db postgres)");
        }
        let mut nodes = Vec::new();
        for _ in 0..setup.nodes.max(1) {
            // Nodes share the data directory: the TLS certificate and the audit log key.
            nodes.push(Node::spawn(setup.kind, dir.path(), db.as_ref().map(|d| d.url.as_str())).await?);
        }
        let targets = nodes
            .iter()
            .map(|n| Target::new(n.info.addr, &n.info.cert_pem))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // One bootstrap token per database: the node that issued it (the
        // first started) holds it; the others do not print it.
        let issued = nodes.iter().find_map(|n| n.info.bootstrap_token.clone());
        let admin = match (setup.kind, targets.first()) {
            (Kind::Curbside, Some(target)) => {
                let token = issued.context("a fresh database's first node prints a bootstrap token")?;
                Some(Admin::bootstrap(target, &token).await?)
            }
            _ => None,
        };
        Ok(Self {
            pids: nodes.iter().map(Node::pid).collect(),
            nodes,
            targets,
            admin,
            backend: db.as_ref().map_or("none", Database::backend).to_owned(),
            db,
            config,
            _dir: dir,
            next_clinician: 0,
        })
    }

    /// `n` more clinicians (enrolled and verified on Curbside).
    pub async fn clinicians(&mut self, n: usize) -> anyhow::Result<Vec<Clinician>> {
        let first = self.next_clinician;
        self.next_clinician += n;
        match (&self.admin, self.targets.first()) {
            (Some(admin), Some(target)) => admin.clinicians(target, n, first).await,
            _ => population::unenrolled(n, first),
        }
    }

    /// `n` more real accounts (keys, prekeys, ratchet sessions), enrolled and verified.
    pub async fn accounts(&mut self, n: usize) -> anyhow::Result<Vec<curbside_client::Account>> {
        let first = self.next_clinician;
        self.next_clinician += n;
        match (&self.admin, self.targets.first()) {
            (Some(admin), Some(target)) => admin.accounts(target, n, first).await,
            _ => bail!("--real-crypto needs a Curbside server"),
        }
    }

    /// CPU and memory of every node, summed.
    pub fn sample(&self) -> Option<ProcSample> {
        let mut total = ProcSample::default();
        for pid in &self.pids {
            let s = node::sample(*pid)?;
            total.cpu_secs += s.cpu_secs;
            total.rss_bytes += s.rss_bytes;
            total.peak_rss_bytes += s.peak_rss_bytes;
        }
        Some(total)
    }

    /// Stops the nodes and drops a PostgreSQL database.
    pub async fn stop(self) -> anyhow::Result<()> {
        for node in self.nodes {
            node.stop().await?;
        }
        if let Some(db) = &self.db {
            db.drop_database().await?;
        }
        Ok(())
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th.
    pub p90: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

#[allow(clippy::cast_precision_loss)]
fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Percentiles {
        count: h.len(),
        p50: ms(0.5),
        p90: ms(0.9),
        p99: ms(0.99),
        p999: ms(0.999),
        max: h.max() as f64 / 1000.0,
    }
}

/// One scenario's figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// `curbside` or `baseline`.
    pub server: String,
    /// `sqlite`, `postgres`, `none` (baseline) or `external`.
    pub backend: String,
    /// Server nodes.
    pub nodes: usize,
    /// WebSocket connections.
    pub connections: usize,
    /// What the load was.
    pub load: String,
    /// Measured seconds.
    pub seconds: f64,
    /// Messages accepted per second (each durable before `accepted`).
    pub messages_per_sec: f64,
    /// Deliveries per second (one per recipient device).
    pub deliveries_per_sec: f64,
    /// Send → delivered at the recipient.
    pub delivery_latency_ms: Percentiles,
    /// Send → `accepted` at the sender.
    pub accept_latency_ms: Percentiles,
    /// Server CPU, in cores, over the measured window.
    pub server_cpu_cores: Option<f64>,
    /// Server resident memory at the end, MiB.
    pub server_rss_mib: Option<f64>,
    /// The load generator's CPU, in cores.
    pub loadgen_cpu_cores: Option<f64>,
    /// Error frames or failed connections.
    pub errors: u64,
    /// The first of them.
    pub first_error: Option<String>,
    /// Throughput as a fraction of the baseline relay in the same run.
    pub ratio_to_baseline: Option<f64>,
    /// Scenario-specific figures.
    pub extra: serde_json::Value,
    /// The server configuration.
    pub config: String,
}

impl Report {
    /// One line per figure, for people.
    pub fn print(&self) {
        let mut out = format!(
            "{} on {} ({} backend, {} node(s), {} connections; {})\n",
            self.scenario, self.server, self.backend, self.nodes, self.connections, self.load
        );
        if self.seconds > 0.0 {
            let d = &self.delivery_latency_ms;
            let a = &self.accept_latency_ms;
            out.push_str(&format!(
                "  throughput: {:.0} messages/s accepted, {:.0} deliveries/s over {:.1} s\n\
                 \x20 delivery latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})\n\
                 \x20 accept latency ms:   p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})\n",
                self.messages_per_sec,
                self.deliveries_per_sec,
                self.seconds,
                d.p50,
                d.p90,
                d.p99,
                d.p999,
                d.max,
                d.count,
                a.p50,
                a.p90,
                a.p99,
                a.p999,
                a.max,
                a.count
            ));
        }
        if let Some(c) = self.server_cpu_cores {
            out.push_str(&format!("  server CPU: {c:.2} cores"));
        }
        if let Some(r) = self.server_rss_mib {
            out.push_str(&format!("  server RSS: {r:.1} MiB"));
        }
        if let Some(c) = self.loadgen_cpu_cores {
            out.push_str(&format!("  load generator CPU: {c:.2} cores"));
        }
        out.push('\n');
        if let Some(r) = self.ratio_to_baseline {
            out.push_str(&format!("  ratio to the in-run baseline: {r:.3}\n"));
        }
        if !self.extra.is_null() {
            out.push_str(&format!("  {}\n", self.extra));
        }
        if self.errors > 0 {
            out.push_str(&format!(
                "  errors: {} (first: {})\n",
                self.errors,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        out.push_str(&format!("  config: {}\n", self.config));
        let mut stdout = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut stdout, out.as_bytes());
    }
}

/// How long and how hard.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Seconds before measuring.
    pub warmup: Duration,
    /// Seconds measured.
    pub duration: Duration,
    /// Closed loop: unacknowledged sends per sending connection.
    pub window: usize,
    /// Open loop: messages per second offered in total.
    pub rate: Option<f64>,
}

/// Connects every clinician to its node, `concurrency` at a time.
async fn connect_all(cluster: &Cluster, who: &[(&Clinician, usize)]) -> anyhow::Result<Vec<Ws>> {
    futures_util::stream::iter(who)
        .map(|(c, node)| async move {
            let target = cluster.targets.get(*node).context("no such node")?;
            load::connect(target, c, None).await
        })
        .buffered(64)
        .try_collect()
        .await
}

/// What [`run_traffic`] measured.
pub(crate) struct Measured {
    pub(crate) seconds: f64,
    pub(crate) accepted: u64,
    pub(crate) delivered: u64,
    pub(crate) latencies: Latencies,
    pub(crate) server_cpu: Option<f64>,
    pub(crate) server_rss: Option<u64>,
    pub(crate) loadgen_cpu: Option<f64>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

/// Warms up, then measures one window of the running load (counters, CPU,
/// memory; latencies are recorded by the connections while it lasts), then
/// tells the senders to stop. Latencies and errors are left for the caller.
pub(crate) async fn measure_window(
    cluster: &Cluster,
    shared: &Shared,
    timing: Timing,
) -> anyhow::Result<Measured> {
    tokio::time::sleep(timing.warmup).await;
    let start = Instant::now();
    let (a0, d0) = (
        shared.accepted.load(Ordering::Relaxed),
        shared.delivered.load(Ordering::Relaxed),
    );
    let (s0, l0) = (cluster.sample(), node::sample(None));
    shared.recording.store(true, Ordering::Relaxed);
    tokio::time::sleep(timing.duration).await;
    shared.recording.store(false, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    let (a1, d1) = (
        shared.accepted.load(Ordering::Relaxed),
        shared.delivered.load(Ordering::Relaxed),
    );
    let (s1, l1) = (cluster.sample(), node::sample(None));
    shared.stop_sending.store(true, Ordering::Relaxed);
    Ok(Measured {
        seconds,
        accepted: a1 - a0,
        delivered: d1 - d0,
        latencies: Latencies::new()?,
        server_cpu: s0.zip(s1).map(|(a, b)| (b.cpu_secs - a.cpu_secs) / seconds),
        server_rss: s1.map(|s| s.rss_bytes),
        loadgen_cpu: l0.zip(l1).map(|(a, b)| (b.cpu_secs - a.cpu_secs) / seconds),
        errors: 0,
        first_error: None,
    })
}

/// Runs connections with their sending roles: warm up, measure, stop
/// sending, wait until everything accepted is delivered, close.
async fn run_traffic(
    cluster: &Cluster,
    conns: Vec<Ws>,
    roles: Vec<Sending>,
    timing: Timing,
) -> anyhow::Result<Measured> {
    let shared = Shared::new(1024);
    let (done_tx, done) = watch::channel(false);
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(roles)
        .enumerate()
        .map(|(i, (ws, role))| tokio::spawn(load::drive(ws, i, role, shared.clone(), done.clone())))
        .collect();
    let mut m = measure_window(cluster, &shared, timing).await?;
    // Drain: everything sent is accepted and everything accepted delivered.
    let drained = wait_until(Duration::from_secs(60), || {
        let sent = shared.sent.load(Ordering::Relaxed);
        let answered = shared.accepted.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed);
        answered >= sent
            && shared.delivered.load(Ordering::Relaxed) >= shared.expected.load(Ordering::Relaxed)
    })
    .await;
    let _ = done_tx.send(true);
    let mut failures = 0u64;
    for task in tasks {
        match task.await? {
            Ok(l) => m.latencies.merge(&l)?,
            Err(e) => {
                failures += 1;
                if let Ok(mut first) = shared.first_error.lock() {
                    first.get_or_insert(format!("connection failed: {e:#}"));
                }
            }
        }
    }
    let mut errors = shared.errors.load(Ordering::Relaxed) + failures;
    if !drained {
        errors += 1;
        if let Ok(mut first) = shared.first_error.lock() {
            first.get_or_insert(format!(
                "not everything was delivered within 60 s: {} of {} deliveries",
                shared.delivered.load(Ordering::Relaxed),
                shared.expected.load(Ordering::Relaxed)
            ));
        }
    }
    m.errors = errors;
    m.first_error = shared.first_error.lock().ok().and_then(|f| f.clone());
    Ok(m)
}

pub(crate) async fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[allow(clippy::cast_precision_loss)]
pub(crate) fn report(
    scenario: &str,
    setup: &Setup,
    cluster: &Cluster,
    connections: usize,
    load: String,
    m: Measured,
) -> Report {
    Report {
        scenario: scenario.into(),
        server: match setup.kind {
            Kind::Curbside => "curbside".into(),
            Kind::Baseline => "baseline".into(),
        },
        backend: cluster.backend.clone(),
        nodes: cluster.targets.len(),
        connections,
        load,
        seconds: m.seconds,
        messages_per_sec: m.accepted as f64 / m.seconds,
        deliveries_per_sec: m.delivered as f64 / m.seconds,
        delivery_latency_ms: percentiles(&m.latencies.delivery),
        accept_latency_ms: percentiles(&m.latencies.accept),
        server_cpu_cores: m.server_cpu,
        server_rss_mib: m.server_rss.map(mib),
        loadgen_cpu_cores: m.loadgen_cpu,
        errors: m.errors,
        first_error: m.first_error,
        ratio_to_baseline: None,
        extra: serde_json::Value::Null,
        config: cluster.config.clone(),
    }
}

pub(crate) fn load_text(timing: &Timing, what: &str) -> String {
    match timing.rate {
        Some(r) => format!("{what}; open loop at {r:.0} messages/s offered, 1 KiB ciphertexts"),
        None => format!(
            "{what}; closed loop, window {} per sender, 1 KiB ciphertexts",
            timing.window
        ),
    }
}

fn role(targets: Vec<Address>, timing: &Timing, senders: usize) -> Sending {
    #[allow(clippy::cast_precision_loss)]
    let period = timing
        .rate
        .map(|r| Duration::from_secs_f64(senders.max(1) as f64 / r.max(0.001)));
    Sending {
        targets,
        window: if period.is_some() { 100_000 } else { timing.window },
        period,
        limit: None,
    }
}

/// `pairs`: `n` senders each sending to its own recipient. With two nodes,
/// senders connect to the first and recipients to the second.
pub async fn pairs(setup: &Setup, n: usize, timing: Timing) -> anyhow::Result<Report> {
    let mut cluster = Cluster::start(setup).await?;
    let people = cluster.clinicians(2 * n).await?;
    let last = cluster.targets.len().saturating_sub(1);
    let (senders, recipients) = people.split_at(n);
    let mut who: Vec<(&Clinician, usize)> = senders.iter().map(|c| (c, 0)).collect();
    who.extend(recipients.iter().map(|c| (c, last)));
    let conns = connect_all(&cluster, &who).await?;
    let mut roles: Vec<Sending> = recipients
        .iter()
        .map(|r| role(vec![r.address.clone()], &timing, n))
        .collect();
    roles.extend(std::iter::repeat_with(|| role(Vec::new(), &timing, n)).take(n));
    let m = run_traffic(&cluster, conns, roles, timing).await?;
    let load = load_text(&timing, &format!("{n} sender/recipient pairs"));
    let r = report("pairs", setup, &cluster, 2 * n, load, m);
    cluster.stop().await?;
    Ok(r)
}

/// `team`: `teams` care teams of `size`; every member sends each message to
/// the other members (one envelope per member device).
pub async fn team(setup: &Setup, teams: usize, size: usize, timing: Timing) -> anyhow::Result<Report> {
    let mut cluster = Cluster::start(setup).await?;
    let people = cluster.clinicians(teams * size).await?;
    let last = cluster.targets.len().saturating_sub(1);
    let who: Vec<(&Clinician, usize)> = people
        .iter()
        .enumerate()
        .map(|(i, c)| (c, i % (last + 1)))
        .collect();
    let conns = connect_all(&cluster, &who).await?;
    let roles = people
        .chunks(size)
        .flat_map(|members| {
            members.iter().map(|me| {
                let others = members
                    .iter()
                    .filter(|o| o.address != me.address)
                    .map(|o| o.address.clone())
                    .collect();
                role(others, &timing, teams * size)
            })
        })
        .collect();
    let m = run_traffic(&cluster, conns, roles, timing).await?;
    let load = load_text(
        &timing,
        &format!(
            "{teams} teams of {size}, every member sending to the other {}",
            size - 1
        ),
    );
    let r = report("team", setup, &cluster, teams * size, load, m);
    cluster.stop().await?;
    Ok(r)
}

/// `backlog`: `total` messages queued for one offline device by `senders`
/// senders; then the device connects and receives (and acknowledges) them all.
pub async fn backlog(setup: &Setup, total: u64, senders: usize, window: usize) -> anyhow::Result<Report> {
    let mut cluster = Cluster::start(setup).await?;
    let people = cluster.clinicians(senders + 1).await?;
    let (recipient, senders_c) = people.split_first().context("no clinicians")?;
    let who: Vec<(&Clinician, usize)> = senders_c.iter().map(|c| (c, 0)).collect();
    let conns = connect_all(&cluster, &who).await?;
    let shared = Shared::new(1024);
    let (done_tx, done) = watch::channel(false);
    let per = total.div_ceil(senders.max(1) as u64);
    let fill_start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, ws)| {
            let role = Sending {
                targets: vec![recipient.address.clone()],
                window,
                period: None,
                limit: Some(per),
            };
            tokio::spawn(load::drive(ws, i, role, shared.clone(), done.clone()))
        })
        .collect();
    let queued = per * senders as u64;
    let filled = wait_until(Duration::from_secs(3600), || {
        shared.accepted.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed) >= queued
    })
    .await;
    let fill_secs = fill_start.elapsed().as_secs_f64();
    let _ = done_tx.send(true);
    for task in tasks {
        task.await??;
    }
    if !filled || shared.errors.load(Ordering::Relaxed) > 0 {
        bail!(
            "filling the backlog failed: {:?}",
            shared.first_error.lock().ok().and_then(|f| f.clone())
        );
    }
    // The device comes back: connect, authenticate, receive and acknowledge everything.
    let s0 = cluster.sample();
    let (done_tx, done) = watch::channel(false);
    let start = Instant::now();
    let target = cluster.targets.first().context("no node")?;
    let ws = load::connect(target, recipient, None).await?;
    let receive = Sending {
        targets: Vec::new(),
        window: 1,
        period: None,
        limit: None,
    };
    shared.recording.store(true, Ordering::Relaxed);
    let task = tokio::spawn(load::drive(ws, senders, receive, shared.clone(), done));
    let delivered = wait_until(Duration::from_secs(600), || {
        shared.delivered.load(Ordering::Relaxed) >= queued
    })
    .await;
    let seconds = start.elapsed().as_secs_f64();
    let s1 = cluster.sample();
    let _ = done_tx.send(true);
    task.await??;
    if !delivered {
        bail!(
            "only {} of {queued} queued messages arrived within 600 s",
            shared.delivered.load(Ordering::Relaxed)
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let r = Report {
        scenario: "backlog".into(),
        server: "curbside".into(),
        backend: cluster.backend.clone(),
        nodes: cluster.targets.len(),
        connections: 1,
        load: format!("{queued} messages of 1 KiB queued by {senders} senders for one offline device, which then connects"),
        seconds,
        messages_per_sec: 0.0,
        deliveries_per_sec: queued as f64 / seconds,
        server_cpu_cores: s0.zip(s1).map(|(a, b)| (b.cpu_secs - a.cpu_secs) / seconds),
        server_rss_mib: s1.map(|s| mib(s.rss_bytes)),
        extra: serde_json::json!({
            "queued": queued,
            "drain_seconds": seconds,
            "fill_seconds": fill_secs,
            "fill_messages_per_sec": queued as f64 / fill_secs,
        }),
        config: cluster.config.clone(),
        ..Report::default()
    };
    cluster.stop().await?;
    Ok(r)
}

/// `idle`: as many authenticated idle connections as the machine allows (up
/// to `wanted`), from several 127.0.0.x source addresses; server memory per
/// connection is the growth of its resident memory divided by the count.
pub async fn idle(setup: &Setup, wanted: usize) -> anyhow::Result<Report> {
    let mut cluster = Cluster::start(setup).await?;
    let people = cluster.clinicians(wanted).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cluster.sample();
    let target = cluster.targets.first().context("no node")?.clone();
    let start = Instant::now();
    let results: Vec<anyhow::Result<Ws>> = futures_util::stream::iter(people.iter().enumerate())
        .map(|(i, c)| {
            let target = target.clone();
            async move {
                let source = std::net::IpAddr::from([127, 0, 0, u8::try_from(1 + i % 8).unwrap_or(1)]);
                load::connect(&target, c, Some(source)).await
            }
        })
        .buffer_unordered(128)
        .collect()
        .await;
    let connect_secs = start.elapsed().as_secs_f64();
    let mut conns = Vec::new();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(ws) => conns.push(ws),
            Err(e) => {
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = cluster.sample();
    // Every connection is alive and authenticated: each answers a ping.
    let alive = futures_util::stream::iter(conns.iter_mut())
        .map(|ws| async move {
            use futures_util::SinkExt as _;
            if ws
                .send(tokio_tungstenite::tungstenite::Message::text(
                    "{\"type\":\"ping\",\"id\":\"p\"}",
                ))
                .await
                .is_err()
            {
                return false;
            }
            loop {
                match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                    Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))))
                        if t.as_str().contains("\"pong\"") =>
                    {
                        return true
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => return false,
                }
            }
        })
        .buffer_unordered(256)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let n = conns.len();
    let growth = before
        .zip(after)
        .map(|(b, a)| a.rss_bytes.saturating_sub(b.rss_bytes));
    #[allow(clippy::cast_precision_loss)]
    let per_conn = growth.map(|g| g as f64 / n.max(1) as f64);
    let errors = (wanted - n) as u64 + (n - alive) as u64;
    let r = Report {
        scenario: "idle".into(),
        server: "curbside".into(),
        backend: cluster.backend.clone(),
        nodes: 1,
        connections: n,
        load: format!("{wanted} authenticated idle TLS WebSocket connections wanted, from 127.0.0.1-8"),
        server_rss_mib: after.map(|s| mib(s.rss_bytes)),
        errors,
        first_error,
        extra: serde_json::json!({
            "connected": n,
            "answered_ping": alive,
            "connect_seconds": connect_secs,
            "server_rss_growth_mib": growth.map(mib),
            "server_bytes_per_connection": per_conn.map(f64::round),
            "open_files_limit": open_files_limit(),
        }),
        config: cluster.config.clone(),
        ..Report::default()
    };
    drop(conns);
    cluster.stop().await?;
    Ok(r)
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Runs `f` on the baseline relay and on `setup`, and sets the ratio.
pub async fn with_baseline<F, Fut>(setup: &Setup, baseline: bool, f: F) -> anyhow::Result<Vec<Report>>
where
    F: Fn(Setup) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Report>>,
{
    let mut out = Vec::new();
    let base = if baseline && setup.kind == Kind::Curbside {
        let b = f(Setup {
            kind: Kind::Baseline,
            postgres: None,
            nodes: 1,
            external: None,
        })
        .await?;
        b.print();
        Some(b)
    } else {
        None
    };
    let mut r = f(setup.clone()).await?;
    if let Some(b) = &base {
        if b.deliveries_per_sec > 0.0 {
            r.ratio_to_baseline = Some(r.deliveries_per_sec / b.deliveries_per_sec);
        }
    }
    r.print();
    out.extend(base);
    out.push(r);
    Ok(out)
}
