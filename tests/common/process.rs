//! Processes of the real binary: `curbside serve` spawned on a database and
//! data directory ([`Process`], with the address, bootstrap token and audit
//! log key it printed), and `curbside` commands run against it (`cli`,
//! `cli_ok`, `enroll_clinicians`).

use std::io::BufRead as _;
use std::path::Path;

use curbside_client::ServerInfo;

use super::db::Db;
use super::NPIS;

/// A `curbside serve` child process and what it printed on start-up.
pub struct Process {
    pub child: std::process::Child,
    pub addr: String,
    pub token: Option<String>,
    /// The audit log key `serve` printed.
    pub log_key: Option<String>,
}

/// A server the test no longer holds is stopped: without this, every CLI
/// test left its `curbside serve` running after the test binary exited.
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `curbside ARGS` in `dir` (enroll is pointed at `server`).
pub fn cli(dir: &Path, server: &Process, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"));
    command
        .current_dir(dir)
        .args(args)
        .env("CURBSIDE_PASSPHRASE", "correct horse battery staple");
    if args[0] == "enroll" {
        command.args(["--server", &server.addr]);
    }
    command.output().unwrap()
}

/// Runs a command that must succeed; returns its stdout, trimmed.
pub fn cli_ok(dir: &Path, server: &Process, args: &[&str]) -> String {
    let out = cli(dir, server, args);
    assert!(
        out.status.success(),
        "curbside {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn spawn(db: &Db, log: &Path) -> Process {
    spawn_at(db, log, "127.0.0.1:0")
}

/// The real binary serving from the test's directory, with its certificate
/// also at `curbside-data/tls/cert.pem` where the CLI looks by default (the
/// README layout), on `listen`.
pub fn spawn_for_cli(db: &Db, listen: &str) -> Process {
    let dir = db.dir.path();
    let server = spawn_at(db, &dir.join("server.log"), listen);
    std::fs::create_dir_all(dir.join("curbside-data/tls")).unwrap();
    std::fs::copy(dir.join("tls/cert.pem"), dir.join("curbside-data/tls/cert.pem")).unwrap();
    server
}

/// A free local port (for a server that must come back on the same address).
pub fn free_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The real binary, serving on `listen`.
pub fn spawn_at(db: &Db, log: &Path, listen: &str) -> Process {
    spawn_with_env(db, log, listen, &[])
}

/// The real binary, serving on `listen`, with extra environment variables.
pub fn spawn_with_env(db: &Db, log: &Path, listen: &str, env: &[(&str, &str)]) -> Process {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_curbside"))
        .args(["serve", "--listen", listen, "--database-url", &db.url])
        .arg("--data-dir")
        .arg(db.dir.path())
        .env("CURBSIDE_LOG", "debug")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::from(stderr))
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut addr, mut token, mut log_key) = (None, None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Curbside is listening on https://") {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(t) = line.trim().strip_prefix("cbs_boot_") {
            token = Some(format!("cbs_boot_{t}"));
        }
        if let Some((_, key)) = line.split_once("Audit log key") {
            log_key = key.rsplit(' ').next().map(str::to_owned);
        }
        if line.starts_with("Press Ctrl+C") {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process {
        child,
        addr: addr.expect("the server printed its address"),
        token,
        log_key,
    }
}

pub fn process_info(db: &Db, p: &Process) -> ServerInfo {
    ServerInfo {
        address: p.addr.clone(),
        server_name: "localhost".into(),
        cert_pem: std::fs::read_to_string(db.dir.path().join("tls/cert.pem")).unwrap(),
    }
}

/// With the real binary: enrolls the site admin in profile `admin` with the
/// bootstrap token; returns what `enroll` printed.
pub fn enroll_admin(dir: &Path, server: &Process) -> String {
    let token = server.token.clone().unwrap();
    let out = cli_ok(
        dir,
        server,
        &[
            "enroll",
            "--profile",
            "admin",
            "--invite",
            &token,
            "--name",
            "Site Admin",
        ],
    );
    assert!(out.starts_with("Enrolled: user "), "{out}");
    out
}

/// With the real binary: enrolls the admin (bootstrap token), then one
/// verified clinician per `(profile, specialty)`; returns their user ids.
/// A SQLite server for CLI tests, with the administrator and these
/// clinicians (profile, specialty) enrolled and verified; the profiles live
/// in `db.dir`.
pub async fn cli_world(who: &[(&str, &str)]) -> (Db, Process) {
    let db = Db::new(curbside_server::store::Backend::Sqlite).await.unwrap();
    let server = spawn_for_cli(&db, "127.0.0.1:0");
    enroll_clinicians(db.dir.path(), &server, who);
    (db, server)
}

pub fn enroll_clinicians(dir: &Path, server: &Process, who: &[(&str, &str)]) -> Vec<String> {
    let run = |args: &[&str]| cli_ok(dir, server, args);
    enroll_admin(dir, server);
    let mut ids = Vec::new();
    for ((profile, specialty), npi) in who.iter().zip(NPIS) {
        let invite = run(&["admin", "invite", "--profile", "admin"]);
        let name = format!("Dr. {profile}");
        let enrolled = run(&[
            "enroll",
            "--profile",
            profile,
            "--invite",
            &invite,
            "--name",
            &name,
            "--npi",
            npi,
            "--specialty",
            specialty,
        ]);
        let id = enrolled.split_whitespace().nth(2).unwrap().to_owned();
        run(&["admin", "verify", "--profile", "admin", &id]);
        ids.push(id);
    }
    ids
}
