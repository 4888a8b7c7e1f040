//! `curbside chat`: the interactive terminal chat (ratatui).
//!
//! [`App`] is the whole interface as a state machine: keys in, [`Action`]s
//! out, and a pure rendering of the sealed local state. [`execute`] carries
//! out actions with the same functions as the scriptable commands, and
//! [`run`] is the terminal loop: draw, take keys, take messages (every
//! 100 ms at most, so the screen stays responsive while messages arrive),
//! reconnect with backoff when the connection drops, lock when idle.

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
