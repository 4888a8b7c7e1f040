//! The organisation's policy: `GET /v1/policy` for every session, and the
//! retention an administrator sets (`PUT /v1/admin/retention`).

use axum::extract::State;
use axum::routing::{get, put};
use axum::Router;
use curbside_protocol::audit::Action;
use curbside_protocol::frames::ServerFrame;
use curbside_protocol::http::{Policy, Role, SetRetention, MAX_RETENTION_SECS, MIN_RETENTION_SECS};

use super::extract::Json;
use super::Caller;
use crate::error::ApiError;
use crate::store::now_ms;
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/policy", get(policy))
        .route("/v1/admin/retention", put(set_retention))
}

async fn policy(State(state): State<AppState>, _caller: Caller) -> Result<Json<Policy>, ApiError> {
    Ok(Json(
        state.store.policy(state.config.limits.recall_window_secs).await?,
    ))
}

async fn set_retention(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<SetRetention>,
) -> Result<Json<Policy>, ApiError> {
    let actor = caller
        .require(&state, Role::Admin, Action::RetentionChanged)
        .await?;
    if let Some(secs) = req.retention_secs {
        if secs > MAX_RETENTION_SECS {
            return Err(ApiError::invalid(format!(
                "retention_secs: {secs} is longer than the maximum of {MAX_RETENTION_SECS} seconds (ten years); \
                 give null for no limit"
            )));
        }
        if secs < MIN_RETENTION_SECS {
            return Err(ApiError::invalid(format!(
                "retention_secs: {secs} is shorter than the minimum of {MIN_RETENTION_SECS} seconds; give \
                 at least {MIN_RETENTION_SECS}, or null for no limit"
            )));
        }
    }
    state
        .store
        .set_retention(req.retention_secs, &actor, now_ms())
        .await?;
    let policy = state.store.policy(state.config.limits.recall_window_secs).await?;
    tracing::info!(by = %caller.device.user_id, retention_secs = ?policy.retention_secs, "retention policy changed");
    state.hub.broadcast_local(&ServerFrame::PolicyChanged {
        policy: policy.clone(),
    });
    Ok(Json(policy))
}
