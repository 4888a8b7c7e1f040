//! `fetch_bundles`: the bundles of a user's current devices, each claiming
//! one one-time prekey, within the fetch limit (`store/fetch_limit.rs`):
//! past it, `rate_limited` with the wait, and nothing claimed.

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{DeviceBundle, ErrorDetails, ServerFrame};
use curbside_protocol::ids::{Address, RequestId, UserId};

use super::{Refusal, Reply};
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::UserStatus;
use crate::ws::connection::End;
use crate::ws::handler::Handler;

/// Answers `bundles`, one per current device of `user_id`.
pub(super) async fn execute(handler: &mut Handler, id: RequestId, user_id: UserId) -> Result<Reply, End> {
    Ok(fetch_bundles(handler, &user_id)
        .await
        .map(|devices| ServerFrame::Bundles { id, user_id, devices })
        .into())
}

/// Claims the bundles, and warns each owner whose one-time prekeys run low.
async fn fetch_bundles(handler: &mut Handler, user: &UserId) -> Result<Vec<DeviceBundle>, Refusal> {
    let store = &handler.state.store;
    match store.bounded(store.user_status(user)).await? {
        UserStatus::Unknown => return Err(ApiError::new(ErrorCode::NotFound, "no such user").into()),
        UserStatus::Deactivated => return Err(super::send::deactivated(user).into()),
        UserStatus::Active => {}
    }
    if let Err(wait) = store
        .bounded(store.admit_bundle_fetch(&handler.device, user, &handler.actor))
        .await?
    {
        let secs = wait.div_ceil(1000);
        return Err(Refusal::with_details(
            ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "too many fetches of this user's prekey bundles: use the sessions you have, or retry in {secs} s"
                ),
            ),
            ErrorDetails::RetryAfter { retry_after_ms: wait },
        ));
    }
    let threshold = handler.state.config.limits.prekeys_low_threshold;
    let bundles = store.bounded(store.fetch_bundles(user, &handler.actor)).await?;
    let mut out = Vec::with_capacity(bundles.len());
    for (bundle, remaining) in bundles {
        // Warn once when the count crosses the threshold, and again when it
        // runs out (the owner is also warned at every login while low).
        if remaining.saturating_add(1) == threshold || (remaining == 0 && bundle.one_time_prekey.is_some()) {
            let owner = Address {
                user_id: user.clone(),
                device_id: bundle.device_id,
            };
            handler.state.hub.notify(
                &owner,
                HubEvent::Frame(Box::new(ServerFrame::PrekeysLow { remaining })),
            );
        }
        out.push(bundle);
    }
    Ok(out)
}
