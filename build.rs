//! Tells the test suite whether PostgreSQL tests can run, so that a test
//! that cannot is reported as `ignored` (with the reason), never as `ok`:
//! `curbside_postgres` when `CURBSIDE_TEST_POSTGRES_URL` is set;
//! `curbside_ci` under `CI=true`, where a PostgreSQL test runs (and fails
//! if the URL is missing) instead of being ignored; `curbside_root` when
//! the tests are built as root (they can mount a small tmpfs);
//! `curbside_web` when the web client's packages are installed
//! (`npm ci --prefix web`), so that its suite runs (under CI it must);
//! `curbside_chromium` when Chromium is at `$CHROMIUM` or
//! `/usr/bin/chromium`, for the web client's browser tests. The
//! load generator's package uses this script too (`bench/Cargo.toml`).

fn main() {
    println!("cargo::rerun-if-env-changed=CURBSIDE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(curbside_postgres)");
    println!("cargo::rustc-check-cfg=cfg(curbside_ci)");
    println!("cargo::rustc-check-cfg=cfg(curbside_root)");
    println!("cargo::rustc-check-cfg=cfg(curbside_web)");
    println!("cargo::rustc-check-cfg=cfg(curbside_chromium)");
    println!("cargo::rerun-if-env-changed=CHROMIUM");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    println!("cargo::rerun-if-changed={chromium}");
    if std::path::Path::new(&chromium).exists() {
        println!("cargo::rustc-cfg=curbside_chromium");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let installed = root.join("../web/node_modules/.package-lock.json");
    let installed = if installed.exists() {
        installed
    } else {
        root.join("web/node_modules/.package-lock.json")
    };
    if installed.exists() {
        println!("cargo::rerun-if-changed={}", installed.display());
        println!("cargo::rustc-cfg=curbside_web");
    } else {
        // Installing the packages changes web/ (a new node_modules): look again.
        for web in [root.join("web"), root.join("../web")] {
            if web.exists() {
                println!("cargo::rerun-if-changed={}", web.display());
            }
        }
    }
    if std::env::var("CURBSIDE_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=curbside_postgres");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        println!("cargo::rustc-cfg=curbside_ci");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if status
        .lines()
        .any(|l| l.split_whitespace().take(2).eq(["Uid:", "0"]))
    {
        println!("cargo::rustc-cfg=curbside_root");
    }
}
