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
//! - [`terminal`]: the terminal loop ([`run`]): draw, take keys, take
//!   messages (every 100 ms at most, so the screen stays responsive while
//!   messages arrive), reconnect with backoff when the connection drops, lock
//!   when idle.
//! - `tests`: the whole interface over a real server, on ratatui's
//!   `TestBackend`.

use clap::Args;

use crate::commands::ProfileArg;

mod app;
mod draw;
mod execute;
mod terminal;

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
