//! `publish_prekeys`: a new signed prekey and/or more one-time prekeys.
//!
//! A new signed prekey is verified with the device's identity key before it
//! is stored (`curbside-crypto` parses both): a broken client must not
//! publish a bundle that every peer would refuse.

use curbside_crypto::{IdentityKey, SignedPreKey};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{OneTimePrekey, ServerFrame};
use curbside_protocol::ids::{Address, RequestId};

use super::{Refusal, Reply};
use crate::auth::{PUBLIC_KEY_LEN, SIGNED_PREKEY_LEN};
use crate::error::ApiError;
use crate::ws::connection::End;
use crate::ws::handler::Handler;
use crate::AppState;

/// Answers `prekeys_published` with the one-time prekeys now on the server.
pub(super) async fn execute(
    handler: &mut Handler,
    id: RequestId,
    signed_prekey: Option<&[u8]>,
    one_time: &[OneTimePrekey],
) -> Result<Reply, End> {
    Ok(publish(handler, signed_prekey, one_time)
        .await
        .map(|one_time_prekeys| ServerFrame::PrekeysPublished { id, one_time_prekeys })
        .into())
}

/// Checks the keys' sizes and count and the signed prekey's signature, and stores them.
async fn publish(
    handler: &mut Handler,
    signed_prekey: Option<&[u8]>,
    one_time: &[OneTimePrekey],
) -> Result<u32, Refusal> {
    let limits = &handler.state.config.limits;
    if signed_prekey.is_some_and(|s| s.len() != SIGNED_PREKEY_LEN) {
        return Err(ApiError::invalid("signed_prekey must be 100 bytes").into());
    }
    if one_time.len() > limits.max_one_time_prekeys
        || one_time.iter().any(|k| k.public_key.len() != PUBLIC_KEY_LEN)
    {
        return Err(ApiError::invalid("one_time_prekeys: too many, or not 32 bytes each").into());
    }
    if let Some(spk) = signed_prekey {
        check_signed_prekey(&handler.state, &handler.device, spk).await?;
    }
    let keys: Vec<(u32, Vec<u8>)> = one_time.iter().map(|k| (k.id, k.public_key.0.clone())).collect();
    let d = &handler.device;
    let store = &handler.state.store;
    Ok(store
        .bounded(store.publish_prekeys(
            &d.user_id,
            d.device_id,
            signed_prekey,
            &keys,
            limits.max_one_time_prekeys,
        ))
        .await?)
}

/// Verifies `spk`'s signature with the identity key the device enrolled with.
async fn check_signed_prekey(state: &AppState, d: &Address, spk: &[u8]) -> Result<(), Refusal> {
    let store = &state.store;
    let Some(device) = store.bounded(store.device(&d.user_id, d.device_id)).await? else {
        // Revoked and deleted under the connection: it ends at the next event.
        return Err(ApiError::new(ErrorCode::DeviceRevoked, "this device is no longer registered").into());
    };
    let Ok(identity) = IdentityKey::from_bytes(&device.identity_key) else {
        // Enrolled before identity keys were verified: nothing it publishes can be used.
        tracing::warn!(user = %d.user_id, device = %d.device_id, "stored identity key does not verify");
        return Err(ApiError::new(
            ErrorCode::InvalidIdentityKey,
            "this device's identity key does not verify: enroll the device again",
        )
        .into());
    };
    if SignedPreKey::from_bytes(&identity, spk).is_err() {
        return Err(ApiError::new(
            ErrorCode::InvalidSignedPrekey,
            "signed_prekey's signature does not verify with this device's identity key: sign it with the identity key",
        )
        .into());
    }
    Ok(())
}
