//! HTTP routes. One module per resource, merged in [`router`].

mod admin;
pub(crate) mod attachments;
mod directory;
mod enroll;
mod health;
mod session;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::Role;
use curbside_protocol::ids::Address;

use crate::auth::token_hash;
use crate::error::ApiError;
use crate::store::now_ms;
use crate::AppState;

/// Every HTTP route of the server (the WebSocket route is added in [`crate::app`]).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(enroll::router())
        .merge(session::router())
        .merge(admin::router())
        .merge(directory::router())
        .merge(attachments::router())
}

/// The caller of an HTTP API, authenticated by `Authorization: Bearer <session token>`.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) device: Address,
    pub(crate) roles: Vec<Role>,
}

impl Caller {
    pub(crate) fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.roles.contains(&role) {
            Ok(())
        } else {
            tracing::warn!(user = %self.device.user_id, role = role.as_str(), "forbidden: role missing");
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this requires the {} role", role.as_str()),
            ))
        }
    }
}

/// Authenticates a request by its bearer session token.
pub(crate) async fn caller_from_headers(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Caller, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(ErrorCode::TokenExpired, "missing bearer session token"))?;
    let idle = std::time::Duration::from_secs(state.config.limits.session_idle_secs);
    let device = state
        .store
        .use_session(&token_hash(token), now_ms(), idle)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::TokenExpired, "session token unknown or expired"))?;
    let roles = state.store.roles(&device.user_id).await?;
    Ok(Caller { device, roles })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        caller_from_headers(state, &parts.headers).await
    }
}
