//! One WebSocket connection: challenge, authentication, then requests and pushes.
//!
//! Before authentication the only frame accepted is `auth`, within the
//! deadline; anything else closes the connection with its error code. After
//! it, a bad frame is answered with an `error` frame and the connection stays
//! open, except for a second `auth` (`challenge_replayed`) and oversized
//! frames, which close it. No input can make the task panic, and no error
//! deletes a queued message: ciphertext is deleted only when its device
//! acknowledges it.
//!
//! Pushes are bounded: at most `max_unacked_deliveries` are outstanding per
//! connection, and a write that does not complete within `write_timeout_secs`
//! (a reader that never drains its socket) closes the connection. Undelivered
//! messages stay queued for the next connection.
//!
//! ## Flow
//! 1. [`serve`] sends `hello` with a fresh challenge (`auth::hello`).
//! 2. `auth::login` waits for the `auth` frame within the deadline, checks
//!    its signature with the device's identity key and records the outcome
//!    in the audit log. Anything else closes the connection.
//! 3. The device registers with the hub (new messages, receipts, frames for
//!    it, revocation, a newer connection) and a `handler::Handler` takes the
//!    connection over: `auth_ok`, the receipts and deliveries waiting, then
//!    one loop over shutdown, commits completing, hub events and frames.
//! 4. Each text frame is parsed once (its request id read from the result),
//!    passes the rate limit and is executed by `cmd`: every request returns
//!    a `cmd::Reply`, which the handler sends, or keeps until its commit
//!    completes (pipelined sends are answered in order).
//! 5. The connection ends (`connection::End`): the peer went away, or an
//!    `error` frame and a close frame with the code's
//!    [`ws_close_code`](curbside_protocol::error::ErrorCode::ws_close_code).
//!
//! ## Layout
//! - `connection`: one WebSocket: reads and sends frames (each write
//!   bounded), and closes.
//! - `auth`: `hello`, the `auth` frame answering its challenge, the audit.
//! - `handler`: the authenticated connection's state and loop: pushes,
//!   requests, replies, shutdown.
//! - `rate_limit`: the per-connection token bucket.
//! - `cmd`: one file per request (`ack`, `prekeys`, `bundles`, `directory`,
//!   `send`), each returning a `Reply`.

mod auth;
pub(crate) mod cmd;
mod connection;
mod handler;
mod rate_limit;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::WebSocket;

use crate::auth::random32;
use crate::AppState;
use connection::Connection;
use handler::Handler;

/// Runs one connection to its end.
pub(crate) async fn serve(socket: WebSocket, state: AppState, peer: SocketAddr) {
    let write_timeout = Duration::from_secs(state.config.limits.write_timeout_secs);
    let mut conn = Connection::new(socket, write_timeout);
    let challenge = random32();
    if conn.send(&auth::hello(&state, &challenge)).await.is_err() {
        return;
    }
    let (device, actor) = match auth::login(&state, &mut conn, &challenge, peer).await {
        Ok(authenticated) => authenticated,
        Err(end) => {
            conn.close(end).await;
            return;
        }
    };
    let (hub_id, events) = state.hub.register(&device);
    crate::metrics::with(|m| m.connections.inc());
    let mut handler = Handler::new(state.clone(), conn, device, actor);
    let end = handler.run(events).await;
    crate::metrics::with(|m| m.connections.dec());
    let device = &handler.device;
    state.hub.unregister(device, hub_id);
    tracing::info!(user = %device.user_id, device = %device.device_id, "device disconnected");
    handler.close(end).await;
}
