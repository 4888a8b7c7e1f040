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
//! ## Layout
//! - `connection`: reads and sends frames (each write bounded), and closes.
//! - `auth`: the `auth` frame answering the challenge.
//! - `session`: the loop after authentication: requests, pushes, shutdown.
//! - `rate_limit`: the per-connection token bucket.
//! - `cmd`: one file per request.

mod auth;
mod cmd;
mod connection;
mod rate_limit;
mod session;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::WebSocket;
use curbside_protocol::audit::{Action, Details};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::ServerFrame;
use curbside_protocol::SUPPORTED_VERSIONS;

use crate::audit::{Actor, Event};
use crate::auth::random32;
use crate::AppState;
use auth::authenticate;
use connection::{Connection, End};
use session::authenticated;

fn websocket() -> Details {
    Details {
        transport: Some("websocket".into()),
        ..Details::default()
    }
}

/// Runs one connection to its end.
pub(crate) async fn serve(socket: WebSocket, state: AppState, peer: SocketAddr) {
    let limits = state.config.limits.clone();
    let mut conn = Connection::new(
        state.clone(),
        socket,
        Duration::from_secs(limits.write_timeout_secs),
    );
    let challenge = random32();
    let hello = ServerFrame::Hello {
        versions: SUPPORTED_VERSIONS.to_vec(),
        challenge: challenge.to_vec().into(),
        server_name: state.config.server_name.clone(),
        max_frame_bytes: limits.max_frame_bytes as u64,
        auth_deadline_ms: limits.auth_deadline_secs.saturating_mul(1000),
    };
    if conn.send(&hello).await.is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(limits.auth_deadline_secs);
    let mut claimed = None;
    let device = match authenticate(&state, &mut conn, &challenge, deadline, &mut claimed).await {
        Ok(device) => device,
        Err(end) => {
            // A refusal for want of storage cannot be recorded either.
            if let Some((code, _)) = end.as_ref().filter(|(c, _)| *c != ErrorCode::StorageUnavailable) {
                tracing::warn!(%peer, code = code.as_str(), "authentication failed");
                let mut event = Event::new(&Actor::anonymous(Some(peer.ip())), Action::AuthFailed)
                    .failed(code)
                    .details(websocket());
                if let Some(claimed) = &claimed {
                    event = event.counterpart(&claimed.user_id, Some(claimed.device_id));
                }
                if let Err(e) = state.store.bounded(state.store.record(vec![event])).await {
                    tracing::error!(error = %e, "could not record an authentication failure");
                }
            }
            conn.close(end).await;
            return;
        }
    };
    let actor = match state.store.bounded(state.store.roles(&device.user_id)).await {
        Ok(roles) => Actor::device(&device, Actor::usual_role(&roles), Some(peer.ip())),
        Err(e) => {
            conn.close(End::from(e)).await;
            return;
        }
    };
    let event = Event::new(&actor, Action::AuthSucceeded).details(websocket());
    if let Err(e) = state.store.bounded(state.store.record(vec![event])).await {
        conn.close(End::from(e)).await;
        return;
    }
    tracing::info!(%peer, user = %device.user_id, device = %device.device_id, "device connected");
    let (hub_id, events) = state.hub.register(&device);
    crate::metrics::with(|m| m.connections.inc());
    let end = authenticated(&mut conn, &device, &actor, events).await;
    crate::metrics::with(|m| m.connections.dec());
    state.hub.unregister(&device, hub_id);
    tracing::info!(user = %device.user_id, device = %device.device_id, "device disconnected");
    conn.close(end).await;
}
