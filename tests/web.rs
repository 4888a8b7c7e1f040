//! The web client's own suites, as part of `cargo test`, in `web/`:
//! `npm run test:node` (node's test
//! runner: the crypto core reproducing every published vector byte for
//! byte, its property tests, the committed bundle being the fresh build,
//! and the protocol client against this build's real `curbside serve`,
//! conversing with the real CLI) and `npm run test:browser` (the
//! application in headless Chromium, served by this build's binary: the
//! client built into it, not the files on disk). Both are compiled once
//! (`npm run build`: TypeScript strict type checks, into `web/dist`), then
//! run side by side (`test:node:built`, `test:browser:built`).
//!
//! Without the web client's packages (`npm ci --prefix web`, which CI
//! runs), or without Chromium for the second, the test is ignored with that
//! reason, never passed; under `CI=true` both run.

#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Both suites run from `web/dist`: compiled once (`npm run build`, which
/// empties it first), then the two run side by side.
static DIST: Mutex<bool> = Mutex::new(false);

fn npm(script: &str) {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    assert!(
        web.join("node_modules").exists(),
        "the web client's packages are not installed: run `npm ci --prefix web`"
    );
    {
        let mut built = DIST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !*built {
            let out = Command::new("npm")
                .args(["run", "build"])
                .current_dir(&web)
                .output()
                .expect("npm runs (Node.js 20+ is needed for the web client's suite)");
            assert!(
                out.status.success(),
                "npm run build failed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            *built = true;
        }
    }
    let out = Command::new("npm")
        .args(["run", script])
        .current_dir(&web)
        .env("CURBSIDE_BIN", env!("CARGO_BIN_EXE_curbside"))
        .env("CURBSIDE_WEB_EMBEDDED", "1")
        .output()
        .expect("npm runs (Node.js 20+ is needed for the web client's suite)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "npm run {script} failed:\n{stdout}\n{stderr}"
    );
    // The runner's summary: tests ran, none failed, none skipped.
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

#[test]
#[cfg_attr(
    all(not(curbside_web), not(curbside_ci)),
    ignore = "needs Node.js 20+ and the web client's packages: run `npm ci --prefix web`, then cargo test again"
)]
fn the_web_clients_suite_passes() {
    npm("test:node:built");
}

#[test]
#[cfg_attr(
    all(not(all(curbside_web, curbside_chromium)), not(curbside_ci)),
    ignore = "needs the web client's packages (`npm ci --prefix web`) and Chromium at /usr/bin/chromium (Debian: `apt-get install chromium`) or at $CHROMIUM"
)]
fn the_web_client_passes_in_chromium() {
    npm("test:browser:built");
}
