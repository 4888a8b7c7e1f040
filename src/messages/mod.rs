//! Conversations from the command line: `send`, `inbox` (alias `sync`),
//! `history`, `contacts`, `attach`, `download`. Every message sent or
//! received is kept in the profile's sealed local state (`state.sealed`),
//! with its status: sent, delivered (server receipt), read (end-to-end
//! read receipt), failed; or received.
//!
//! # Layout
//! - `send`: `send`, [`send_content`] (every command sends through it), the
//!   outbox, connecting.
//! - `receive`: `inbox` and [`receive`], the loop every command shares.
//! - `history`: `history`, `contacts`, `timer`.
//! - `attachments`: `attach` and `download`.
//! - `role`: writing to an on-call role (its holders now; sent again after a
//!   hand-off in between).
//! - `urgent`: `ack`, `urgent`, `recall`, `policy`, and priorities,
//!   acknowledgements and recalls in the receive loop.

mod attachments;
mod history;
mod receive;
mod role;
mod send;
mod urgent;

pub(crate) use attachments::*;
pub(crate) use history::*;
pub(crate) use receive::*;
pub(crate) use role::*;
pub(crate) use send::*;
pub(crate) use urgent::*;
