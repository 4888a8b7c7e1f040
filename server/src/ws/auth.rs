//! Authentication: `hello` carries a fresh challenge, and the only frame
//! accepted before authentication is an `auth` that signs it, within the
//! deadline. Both outcomes are recorded in the audit log (a failure with the
//! device it claimed, unless storage is what failed).

use std::net::SocketAddr;
use std::time::Duration;

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ClientFrame, ServerFrame};
use curbside_protocol::ids::Address;
use curbside_protocol::SUPPORTED_VERSIONS;

use super::connection::{Connection, End, Incoming};
use crate::audit::{Actor, Event};
use crate::auth::verify_device_signature;
use crate::failures::Verdict;
use crate::store::now_ms;
use crate::AppState;

/// The first frame of a connection: the versions, its challenge and the limits.
pub(super) fn hello(state: &AppState, challenge: &[u8; 32]) -> ServerFrame {
    let limits = &state.config.limits;
    ServerFrame::Hello {
        versions: SUPPORTED_VERSIONS.to_vec(),
        challenge: challenge.to_vec().into(),
        server_name: state.config.server_name.clone(),
        max_frame_bytes: limits.max_frame_bytes as u64,
        auth_deadline_ms: limits.auth_deadline_ms,
    }
}

/// Waits for the `auth` answering `challenge` (sent in `hello`), checks it
/// and records the outcome: the device and who it acts as, or why the
/// connection ends.
pub(super) async fn login(
    state: &AppState,
    conn: &mut Connection,
    challenge: &[u8; 32],
    peer: SocketAddr,
) -> Result<(Address, Actor), End> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(state.config.limits.auth_deadline_ms);
    // A source past its limit of failures is refused before it may try
    // (the attempt is counted for the window's aggregated entry).
    state
        .failures
        .check(Some(peer.ip()), now_ms())
        .map_err(|e| End::Error(e.code, e.message))?;
    let mut claimed = None;
    let device = match authenticate(state, conn, challenge, deadline, &mut claimed).await {
        Ok(device) => device,
        Err(end) => {
            record_failure(state, &end, claimed.as_ref(), peer).await;
            return Err(end);
        }
    };
    let roles = state.store.bounded(state.store.roles(&device.user_id)).await?;
    let actor = Actor::device(&device, Actor::usual_role(&roles), Some(peer.ip()));
    let event = Event::new(&actor, Action::AuthSucceeded).details(websocket());
    state.store.bounded(state.store.record(vec![event])).await?;
    tracing::info!(%peer, user = %device.user_id, device = %device.device_id, "device connected");
    Ok((device, actor))
}

/// Records a failed authentication, with the device it claimed if any.
async fn record_failure(state: &AppState, end: &End, claimed: Option<&Address>, peer: SocketAddr) {
    // A refusal for want of storage cannot be recorded either.
    let Some((code, _)) = end.as_ref().filter(|(c, _)| *c != ErrorCode::StorageUnavailable) else {
        return;
    };
    tracing::warn!(%peer, code = code.as_str(), "authentication failed");
    if state.failures.failed(Some(peer.ip()), now_ms()) == Verdict::Counted {
        return;
    }
    let mut event = Event::new(&Actor::anonymous(Some(peer.ip())), Action::AuthFailed)
        .failed(code)
        .details(websocket());
    if let Some(claimed) = claimed {
        event = event.counterpart(&claimed.user_id, Some(claimed.device_id));
    }
    if let Err(e) = state.store.bounded(state.store.record(vec![event])).await {
        tracing::error!(error = %e, "could not record an authentication failure");
    }
}

/// The audit details of a WebSocket authentication.
fn websocket() -> Details {
    Details {
        transport: Some("websocket".into()),
        ..Details::default()
    }
}

/// Reads frames until the `auth`, and checks it; `claimed` is the device it
/// names, once one arrived.
async fn authenticate(
    state: &AppState,
    conn: &mut Connection,
    challenge: &[u8; 32],
    deadline: tokio::time::Instant,
    claimed: &mut Option<Address>,
) -> Result<Address, End> {
    loop {
        let text = match tokio::time::timeout_at(deadline, conn.read()).await {
            Err(_) => {
                return Err(End::Error(
                    ErrorCode::AuthTimeout,
                    "no authentication before the deadline".into(),
                ))
            }
            Ok(Err(end)) => return Err(end),
            Ok(Ok(Incoming::Text(text))) => text,
            Ok(Ok(Incoming::Binary)) => {
                return Err(End::Error(
                    ErrorCode::InvalidFrame,
                    "binary frames are not used".into(),
                ))
            }
            Ok(Ok(Incoming::Control)) => continue,
        };
        let frame = parse_client_frame(text.as_str()).map_err(|e| End::Error(e.code, e.message))?;
        let ClientFrame::Auth {
            version,
            user_id,
            device_id,
            signature,
        } = frame
        else {
            return Err(End::Error(ErrorCode::AuthRequired, "authenticate first".into()));
        };
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(End::Error(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks versions {SUPPORTED_VERSIONS:?}"),
            ));
        }
        *claimed = Some(Address {
            user_id: user_id.clone(),
            device_id,
        });
        let failed = || End::Error(ErrorCode::AuthFailed, "authentication failed".into());
        let record = state
            .store
            .bounded(state.store.device(&user_id, device_id))
            .await?
            .ok_or_else(failed)?;
        let signed = transcript(
            Purpose::WebSocket,
            &state.config.server_name,
            &user_id,
            device_id,
            challenge,
        );
        if !verify_device_signature(&record.identity_key, &signed, signature.as_slice()) {
            return Err(failed());
        }
        if record.revoked_at.is_some() {
            return Err(End::Error(
                ErrorCode::DeviceRevoked,
                "this device was revoked".into(),
            ));
        }
        return Ok(Address { user_id, device_id });
    }
}
