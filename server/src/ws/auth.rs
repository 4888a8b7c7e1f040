//! Authentication: the only frame accepted before it is an `auth` that
//! signs this connection's challenge, within the deadline.

use axum::extract::ws::{Message, WebSocket};
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ClientFrame};
use curbside_protocol::ids::Address;
use curbside_protocol::SUPPORTED_VERSIONS;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;

use super::connection::{read_error, End};
use crate::auth::verify_device_signature;
use crate::AppState;

pub(super) async fn authenticate(
    state: &AppState,
    stream: &mut SplitStream<WebSocket>,
    challenge: &[u8; 32],
    deadline: tokio::time::Instant,
    claimed: &mut Option<Address>,
) -> Result<Address, End> {
    loop {
        let message = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(End::Error(
                    ErrorCode::AuthTimeout,
                    "no authentication before the deadline".into(),
                ))
            }
            Ok(None) => return Err(End::Gone),
            Ok(Some(Err(e))) => return Err(read_error(&e)),
            Ok(Some(Ok(m))) => m,
        };
        let text = match message {
            Message::Text(t) => t,
            Message::Binary(_) => {
                return Err(End::Error(
                    ErrorCode::InvalidFrame,
                    "binary frames are not used".into(),
                ))
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return Err(End::Gone),
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
