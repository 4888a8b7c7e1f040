//! Test harness: a real server (in-process on port 0, or the real binary),
//! real TLS, a fresh SQLite file or PostgreSQL database per test, real clients.
//!
//! # Layout
//! One file per harness, all re-exported here, so a test writes
//! `use common::*` (or `common::X`) and never names the file:
//! - `db`: a fresh database per test (`Db`) and `on_every_backend!`.
//! - `world`: the in-process server with an admin, and the two clinicians
//!   (`World`), with `mid`, `uid` and `texts`.
//! - `websocket`: raw WebSocket access for hostile-input tests (`RawWs`).
//! - `enrollment`: raw enrollment requests with chosen keys and proofs
//!   (`RawDevice`), and the refused enrollments on record.
//! - `process`: the real binary, `curbside serve` and its commands (`Process`).
//! - `at_rest`: scans of what the server keeps for what must not be there
//!   (`assert_absent`).
//! - `compliance`: a compliance officer and the audit entries of a query.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::time::Duration;

mod at_rest;
mod compliance;
mod db;
mod enrollment;
mod process;
mod websocket;
mod world;

// Every test crate uses some of the harnesses, not all: an unused re-export
// is not a mistake.
#[allow(unused_imports)]
pub use at_rest::*;
#[allow(unused_imports)]
pub use compliance::*;
#[allow(unused_imports)]
pub use db::*;
#[allow(unused_imports)]
pub use enrollment::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use websocket::*;
#[allow(unused_imports)]
pub use world::*;

/// Valid NPIs (check digit correct) for test clinicians.
pub const NPIS: &[&str] = &[
    "1234567893",
    "1245319599",
    "1679576722",
    "1003000126",
    "1497758544",
    "1881697878",
];

/// How long a test waits for what must come.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test waits to be sure nothing more comes.
pub const QUIET: Duration = Duration::from_millis(400);
