//! `curbside chat`: the interactive terminal chat (ratatui).
//!
//! # Layout
//! - [`app`]: the application state, a state machine: keys in, `Action`s out
//!   (`App::handle_key`), and what the interface keeps beyond the sealed
//!   local state.
//! - [`draw`]: a pure rendering of that state and the local state
//!   (`App::render`).
//! - [`execute`]: carries out actions with the same functions as the
//!   scriptable commands, and sends read receipts for what is shown.
//! - `urgent`: `/urgent`, `/stat`, `/ack`, `/recall`, and the pinned
//!   urgent messages.
//! - `oncall`: `/oncall` (the roles; writing to whoever holds one) and
//!   `/handoff`.
//! - `consults`: `/consult` (list, ask), `/answer`, `/close`.
//! - [`terminal`]: the loop ([`run`]): keys on a thread of their own, so
//!   typing never waits on the network; messages as the server pushes them;
//!   `reconnecting…` and a retry with backoff when the connection drops
//!   (what is typed meanwhile is queued in the sealed outbox); catching up
//!   on referrals and names after each connection; locking when idle.
//! - `tests`: the whole interface over a real server, on ratatui's
//!   `TestBackend`, the loop included (a server restart, names, panels).

use clap::Args;

use crate::commands::ProfileArg;

mod app;
mod consults;
mod draw;
mod execute;
mod oncall;
mod terminal;
mod urgent;

pub(crate) use terminal::run;

#[derive(Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Lock the screen after this many seconds without a key press.
    #[arg(long, default_value_t = 300)]
    lock_after_secs: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod loop_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod urgent_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod workflow_tests;
