//! HTTP sessions: `GET /v1/auth/challenge`, then `POST /v1/auth/session`
//! with the device's signature over the transcript (purpose HTTP session).
//! The token ends after the configured idle time (automatic logoff) or
//! maximum lifetime, and when the device is revoked.

use std::time::Duration;

use super::extract::Json;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use curbside_protocol::auth::{transcript, Purpose, CHALLENGE_LEN};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::{ChallengeResponse, SessionRequest, SessionResponse};
use curbside_protocol::ids::Address;

use super::{anonymous_attempt, may_attempt, Source};
use crate::audit::{Actor, Event};
use crate::auth::{new_token, random32, verify_device_signature};
use crate::error::ApiError;
use crate::store::{now_ms, ChallengeUse};
use crate::AppState;
use curbside_protocol::audit::{Action, Details};

/// How long an HTTP challenge stays valid.
pub(crate) const CHALLENGE_TTL_MS: i64 = 60_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/challenge", get(challenge))
        .route("/v1/auth/session", post(session))
}

async fn challenge(
    State(state): State<AppState>,
    Source(source): Source,
) -> Result<Json<ChallengeResponse>, ApiError> {
    state.challenges.take(source, now_ms())?;
    let challenge = random32();
    state
        .store
        .create_challenge(&challenge, now_ms().saturating_add(CHALLENGE_TTL_MS))
        .await?;
    Ok(Json(ChallengeResponse {
        challenge: challenge.to_vec().into(),
        server_name: state.config.server_name.clone(),
    }))
}

async fn session(
    State(state): State<AppState>,
    Source(source): Source,
    Json(req): Json<SessionRequest>,
) -> Result<Json<SessionResponse>, ApiError> {
    may_attempt(&state, source)?;
    let result = start_session(&state, &req, source).await;
    // The claimed account is the counterpart: nobody was authenticated.
    let event = Event::new(&Actor::anonymous(source), Action::AuthFailed)
        .counterpart(&req.user_id, Some(req.device_id))
        .details(Details {
            transport: Some("https".into()),
            ..Details::default()
        });
    anonymous_attempt(&state, source, event, result).await
}

async fn start_session(
    state: &AppState,
    req: &SessionRequest,
    source: Option<std::net::IpAddr>,
) -> Result<Json<SessionResponse>, ApiError> {
    let failed = || ApiError::new(ErrorCode::AuthFailed, "authentication failed");
    let challenge: [u8; CHALLENGE_LEN] = req.challenge.as_slice().try_into().map_err(|_| failed())?;
    let now = now_ms();
    let refused = match state.store.consume_challenge(&challenge, now).await? {
        ChallengeUse::Consumed => None,
        ChallengeUse::AlreadyUsed => Some((
            ErrorCode::ChallengeReplayed,
            "this challenge was already used: fetch a new one (GET /v1/auth/challenge) and sign it",
        )),
        ChallengeUse::Expired => Some((
            ErrorCode::UnknownChallenge,
            "this challenge has expired: fetch a new one (GET /v1/auth/challenge) and sign it",
        )),
        ChallengeUse::Unknown => Some((
            ErrorCode::UnknownChallenge,
            "this server did not issue this challenge (or it expired): fetch one (GET /v1/auth/challenge) and sign it",
        )),
    };
    if let Some((code, message)) = refused {
        tracing::warn!(user = %req.user_id, device = %req.device_id, code = code.as_str(), "session refused: challenge not current");
        return Err(ApiError::new(code, message));
    }
    let device = state
        .store
        .device(&req.user_id, req.device_id)
        .await?
        .ok_or_else(failed)?;
    if device.revoked_at.is_some() {
        return Err(ApiError::new(ErrorCode::DeviceRevoked, "this device was revoked"));
    }
    let message = transcript(
        Purpose::HttpSession,
        &state.config.server_name,
        &req.user_id,
        req.device_id,
        &challenge,
    );
    if !verify_device_signature(&device.identity_key, &message, req.signature.as_slice()) {
        tracing::warn!(user = %req.user_id, device = %req.device_id, "session refused: bad signature");
        return Err(failed());
    }
    let limits = &state.config.limits;
    let (token, hash) = new_token("cbs_sess_");
    let address = Address {
        user_id: req.user_id.clone(),
        device_id: req.device_id,
    };
    let roles = state.store.roles(&address.user_id).await?;
    let actor = Actor::device(&address, Actor::usual_role(&roles), source);
    state
        .store
        .create_session(
            &hash,
            &address,
            &actor,
            now,
            Duration::from_secs(limits.session_max_secs),
        )
        .await?;
    tracing::info!(user = %address.user_id, device = %address.device_id, "http session started");
    Ok(Json(SessionResponse {
        token,
        idle_timeout_secs: limits.session_idle_secs,
        max_lifetime_secs: limits.session_max_secs,
    }))
}
