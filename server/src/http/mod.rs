//! HTTP routes. One module per resource, merged in [`router`].

mod admin;
pub(crate) mod attachments;
pub(crate) mod audit;
mod consults;
mod directory;
mod enroll;
pub(crate) mod extract;
mod health;
mod oncall;
mod policy;
mod referrals;
mod session;
pub(crate) mod web;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::Router;
use curbside_protocol::audit::{Action, Details};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::Role;
use curbside_protocol::ids::Address;

use crate::audit::{Actor, Event};
use crate::auth::token_hash;
use crate::error::ApiError;
use crate::failures::Verdict;
use crate::store::now_ms;
use crate::AppState;
pub(crate) use extract::{documented, no_such_endpoint};
pub(crate) use session::CHALLENGE_TTL_MS;

/// Every HTTP route of the server (the WebSocket route is added in [`crate::app`]).
///
/// Every request but an attachment's transfer (whose body may take long on
/// a slow network; its database steps are bounded one by one) is answered
/// within the store's deadline: past it, `storage_unavailable` (a database
/// that stopped answering must not hold requests until TCP gives up).
pub(crate) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(enroll::router())
        .merge(session::router())
        .merge(admin::router())
        .merge(directory::router())
        .merge(audit::router())
        .merge(referrals::router())
        .merge(policy::router())
        .merge(oncall::router())
        .merge(consults::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), bounded))
        .merge(attachments::router())
}

async fn bounded(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(state.store.deadline(), next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut error = ApiError::storage_unavailable();
            error.cause = Some(format!(
                "{path}: storage did not answer within {:?}",
                state.store.deadline()
            ));
            error.into_response()
        }
    }
}

/// The caller of an HTTP API, authenticated by `Authorization: Bearer <session token>`.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) device: Address,
    pub(crate) roles: Vec<Role>,
    pub(crate) source: Option<IpAddr>,
    pub(crate) endpoint: String,
}

impl Caller {
    /// The caller as an audit actor, acting in `role` (or their usual role).
    pub(crate) fn actor(&self, role: Option<Role>) -> Actor {
        Actor::device(
            &self.device,
            role.or_else(|| Actor::usual_role(&self.roles)),
            self.source,
        )
    }

    /// Succeeds, with the actor acting in `role`, if the caller has it.
    /// Otherwise answers 403 and records the refused `action` in the audit log.
    pub(crate) async fn require(
        &self,
        state: &AppState,
        role: Role,
        action: Action,
    ) -> Result<Actor, ApiError> {
        if self.roles.contains(&role) {
            return Ok(self.actor(Some(role)));
        }
        tracing::warn!(user = %self.device.user_id, role = role.as_str(), endpoint = %self.endpoint, "forbidden: role missing");
        let event = Event::new(&self.actor(None), action).details(Details {
            endpoint: Some(self.endpoint.clone()),
            role: Some(role),
            ..Details::default()
        });
        let e = ApiError::new(
            ErrorCode::Forbidden,
            format!("this requires the {} role", role.as_str()),
        );
        Err(refused(state, event, e).await)
    }
}

/// Records `event` in the audit log as refused with `e`'s code, then
/// returns `e` (or, if the entry could not be stored, that storage error:
/// a refusal is answered only once it is on record).
///
/// Server-side failures (a bug, or storage that would refuse the entry too)
/// are not the caller's failed attempt: they are returned unrecorded.
/// Pushes `frame` to every current device of `users` (best effort, on any
/// node: a device not connected learns the change from the API later).
pub(crate) async fn notify_users<'a>(
    state: &AppState,
    users: impl IntoIterator<Item = &'a curbside_protocol::ids::UserId>,
    frame: &curbside_protocol::frames::ServerFrame,
) {
    for user in users {
        let Ok(devices) = state.store.current_devices(user).await else {
            continue;
        };
        for device_id in devices {
            let address = Address {
                user_id: user.clone(),
                device_id,
            };
            state
                .hub
                .notify(&address, crate::hub::HubEvent::Frame(Box::new(frame.clone())));
        }
    }
}

pub(crate) async fn refused(state: &AppState, event: Event, e: ApiError) -> ApiError {
    if matches!(e.code, ErrorCode::Internal | ErrorCode::StorageUnavailable) {
        return e;
    }
    match state.store.record(vec![event.failed(e.code)]).await {
        Ok(()) => e,
        Err(err) => err.into(),
    }
}

/// Refuses an anonymous attempt (authentication, enrollment) from `source`
/// while the source is past its limit of failures (`rate_limited`, the
/// attempt counted: see `failures.rs`).
pub(crate) fn may_attempt(state: &AppState, source: Option<IpAddr>) -> Result<(), ApiError> {
    state.failures.check(source, now_ms())
}

/// `result` of an anonymous attempt from `source`: a refusal is recorded
/// as `event` (see [`refused`]), or, once the source is past its limit of
/// failures, counted for the window's one aggregated entry.
pub(crate) async fn anonymous_attempt<T>(
    state: &AppState,
    source: Option<IpAddr>,
    event: Event,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if matches!(e.code, ErrorCode::Internal | ErrorCode::StorageUnavailable) => Err(e),
        Err(e) => match state.failures.failed(source, now_ms()) {
            Verdict::Record => Err(refused(state, event, e).await),
            Verdict::Counted => Err(e),
        },
    }
}

/// The caller's IP address, from the connection.
pub(crate) fn source(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The caller's IP address as an extractor (absent if the server was not
/// started with connection info).
pub(crate) struct Source(pub(crate) Option<IpAddr>);

impl FromRequestParts<AppState> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(source(parts)))
    }
}

/// Authenticates a request by its bearer session token.
pub(crate) async fn caller_from_parts(state: &AppState, parts: &Parts) -> Result<Caller, ApiError> {
    let source = source(parts);
    let token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(ErrorCode::TokenExpired, "missing bearer session token"))?;
    let idle = std::time::Duration::from_secs(state.config.limits.session_idle_secs);
    let device = state
        .store
        .use_session(&token_hash(token), now_ms(), idle, &Actor::anonymous(source))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::TokenExpired, "session token unknown or expired"))?;
    let roles = state.store.roles(&device.user_id).await?;
    Ok(Caller {
        device,
        roles,
        source,
        endpoint: parts.uri.path().to_owned(),
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        caller_from_parts(state, parts).await
    }
}

/// A caller whose authentication may have failed: for endpoints that record
/// unauthenticated attempts in the audit log (the compliance API).
pub(crate) struct MaybeCaller {
    pub(crate) caller: Result<Caller, ApiError>,
    pub(crate) source: Option<IpAddr>,
    pub(crate) endpoint: String,
}

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self {
            caller: caller_from_parts(state, parts).await,
            source: source(parts),
            endpoint: parts.uri.path().to_owned(),
        })
    }
}
