//! The web client's own suite, as part of `cargo test`: `npm test` in
//! `web/` (TypeScript strict type checks, then node's test runner: the
//! crypto core reproducing every published vector byte for byte, its
//! property tests, and the protocol client against this build's real
//! `curbside serve`, conversing with the real CLI). Without the web
//! client's packages (`npm ci --prefix web`, which CI runs) the test is
//! ignored with that reason, never passed.

use std::path::Path;
use std::process::Command;

#[test]
#[cfg_attr(
    all(not(curbside_web), not(curbside_ci)),
    ignore = "needs Node.js 20+ and the web client's packages: run `npm ci --prefix web`, then cargo test again"
)]
fn the_web_clients_suite_passes() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    assert!(
        web.join("node_modules").exists(),
        "the web client's packages are not installed: run `npm ci --prefix web`"
    );
    let out = Command::new("npm")
        .arg("test")
        .current_dir(&web)
        .env("CURBSIDE_BIN", env!("CARGO_BIN_EXE_curbside"))
        .output()
        .expect("npm runs (Node.js 20+ is needed for the web client's suite)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "npm test failed:\n{stdout}\n{stderr}");
    // The runner's summary: tests ran, none failed.
    let count = |what: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim_start_matches(['ℹ', ' ']).strip_prefix(what))
            .and_then(|n| n.trim().parse::<u32>().ok())
    };
    assert!(count("tests").is_some_and(|n| n > 0), "no test ran:\n{stdout}");
    assert_eq!(count("fail"), Some(0), "{stdout}");
    assert_eq!(
        count("skipped"),
        Some(0),
        "a skipped web test is no pass:\n{stdout}"
    );
}
