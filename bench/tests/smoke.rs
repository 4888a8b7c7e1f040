//! The load generator's smoke mode, run by `cargo test --workspace` (and so
//! by CI) so the harness never rots: every scenario, tiny, against real
//! server processes over real TLS WebSockets, on SQLite, and on PostgreSQL
//! with two nodes when `CURBSIDE_TEST_POSTGRES_URL` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

use std::process::Command;

/// Runs `curbside-bench smoke` (on PostgreSQL too, with two nodes, given
/// a URL) and returns its output.
fn smoke(postgres: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_curbside-bench"));
    cmd.arg("smoke").env_remove("CURBSIDE_TEST_POSTGRES_URL");
    if let Some(url) = postgres {
        cmd.arg("--postgres-url").arg(url);
    }
    let out = cmd.output().expect("running curbside-bench smoke");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "smoke failed:\n{stdout}\n{stderr}");
    for scenario in [
        "pairs on baseline",
        "pairs on curbside (sqlite",
        "team on curbside (sqlite",
        "pairs --real-crypto on curbside (sqlite",
        "backlog on curbside (sqlite",
        "idle on curbside (sqlite",
    ] {
        assert!(stdout.contains(scenario), "{scenario} missing:\n{stdout}");
    }
    assert!(stdout.contains("smoke: every scenario ran"), "{stdout}");
    stdout
}

#[test]
fn every_scenario_runs_in_smoke_mode() {
    smoke(None);
}

#[test]
#[cfg_attr(
    all(not(curbside_postgres), not(curbside_ci)),
    ignore = "on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run it"
)]
fn every_scenario_runs_in_smoke_mode_on_two_postgres_nodes() {
    let url = std::env::var("CURBSIDE_TEST_POSTGRES_URL")
        .expect("CURBSIDE_TEST_POSTGRES_URL is not set: this PostgreSQL test cannot run");
    let stdout = smoke(Some(&url));
    assert!(
        stdout.contains("pairs on curbside (postgres backend, 2 node(s)"),
        "two-node PostgreSQL run missing:\n{stdout}"
    );
}
