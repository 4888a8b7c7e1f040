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

#[test]
fn every_scenario_runs_in_smoke_mode() {
    let postgres = std::env::var("CURBSIDE_TEST_POSTGRES_URL").ok();
    if postgres.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but CURBSIDE_TEST_POSTGRES_URL is not set: the PostgreSQL half of the smoke run would be skipped"
        );
        // Written to the stderr handle, not with eprintln!: libtest captures
        // the macro and the skip would not show.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED on PostgreSQL: set CURBSIDE_TEST_POSTGRES_URL to run the two-node half of the smoke run"
        );
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_curbside-bench"));
    cmd.arg("smoke").env_remove("CURBSIDE_TEST_POSTGRES_URL");
    if let Some(url) = &postgres {
        cmd.arg("--postgres-url").arg(url);
    }
    let out = cmd.output().expect("running curbside-bench smoke");
    let stdout = String::from_utf8_lossy(&out.stdout);
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
    if postgres.is_some() {
        assert!(
            stdout.contains("pairs on curbside (postgres backend, 2 node(s)"),
            "two-node PostgreSQL run missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("smoke: every scenario ran"), "{stdout}");
}
