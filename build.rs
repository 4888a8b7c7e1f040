//! Tells the test suite whether PostgreSQL tests can run, so that a test
//! that cannot is reported as `ignored` (with the reason), never as `ok`:
//! `curbside_postgres` when `CURBSIDE_TEST_POSTGRES_URL` is set;
//! `curbside_ci` under `CI=true`, where a PostgreSQL test runs (and fails
//! if the URL is missing) instead of being ignored.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CURBSIDE_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(curbside_postgres)");
    println!("cargo::rustc-check-cfg=cfg(curbside_ci)");
    if std::env::var("CURBSIDE_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=curbside_postgres");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        println!("cargo::rustc-cfg=curbside_ci");
    }
}
