//! `publish_prekeys`: a new signed prekey and/or more one-time prekeys.

use curbside_protocol::frames::{OneTimePrekey, ServerFrame};
use curbside_protocol::ids::RequestId;

use super::{Refusal, Reply};
use crate::auth::{PUBLIC_KEY_LEN, SIGNED_PREKEY_LEN};
use crate::error::ApiError;
use crate::ws::connection::End;
use crate::ws::session::Session;

/// Answers `prekeys_published` with the one-time prekeys now on the server.
pub(super) async fn execute(
    session: &mut Session,
    id: RequestId,
    signed_prekey: Option<&[u8]>,
    one_time: &[OneTimePrekey],
) -> Result<Reply, End> {
    Ok(publish(session, signed_prekey, one_time)
        .await
        .map(|one_time_prekeys| ServerFrame::PrekeysPublished { id, one_time_prekeys })
        .into())
}

/// Checks the keys' sizes and count, and stores them.
async fn publish(
    session: &mut Session,
    signed_prekey: Option<&[u8]>,
    one_time: &[OneTimePrekey],
) -> Result<u32, Refusal> {
    let limits = &session.state.config.limits;
    if signed_prekey.is_some_and(|s| s.len() != SIGNED_PREKEY_LEN) {
        return Err(ApiError::invalid("signed_prekey must be 100 bytes").into());
    }
    if one_time.len() > limits.max_one_time_prekeys
        || one_time.iter().any(|k| k.public_key.len() != PUBLIC_KEY_LEN)
    {
        return Err(ApiError::invalid("one_time_prekeys: too many, or not 32 bytes each").into());
    }
    let keys: Vec<(u32, Vec<u8>)> = one_time.iter().map(|k| (k.id, k.public_key.0.clone())).collect();
    let d = &session.device;
    let store = &session.state.store;
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
