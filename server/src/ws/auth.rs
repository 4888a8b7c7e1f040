//! Authentication: the only frame accepted before it is an `auth` that
//! signs this connection's challenge, within the deadline.

use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ClientFrame};
use curbside_protocol::ids::Address;
use curbside_protocol::SUPPORTED_VERSIONS;

use super::connection::{Connection, End, Incoming};
use crate::auth::verify_device_signature;
use crate::AppState;

pub(super) async fn authenticate(
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
