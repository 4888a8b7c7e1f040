//! Tells the test suite whether PostgreSQL tests can run, so that a test
//! that cannot is reported as `ignored` (with the reason), never as `ok`:
//! `curbside_postgres` when `CURBSIDE_TEST_POSTGRES_URL` is set;
//! `curbside_ci` under `CI=true`, where a PostgreSQL test runs (and fails
//! if the URL is missing) instead of being ignored; `curbside_root` when
//! the tests are built as root (they can mount a small tmpfs). The load
//! generator's package uses this script too (`bench/Cargo.toml`).

fn main() {
    println!("cargo::rerun-if-env-changed=CURBSIDE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(curbside_postgres)");
    println!("cargo::rustc-check-cfg=cfg(curbside_ci)");
    println!("cargo::rustc-check-cfg=cfg(curbside_root)");
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
