//! Referral envelopes and their lifecycle (clinicians only). The clinical
//! content never reaches these endpoints: it travels end to end encrypted in
//! the message the envelope names. Every change, and every refusal, is
//! audited; both parties' devices are told in real time (`referral_updated`).

use std::collections::HashMap;

use super::extract::Json;
use super::extract::{Path, Query};
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use curbside_protocol::audit::Action;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::ServerFrame;
use curbside_protocol::http::Role;
use curbside_protocol::ids::ReferralId;
use curbside_protocol::referral::{CreateReferral, Party, Referral, Status, Transition, TransitionRequest};

use super::Caller;
use crate::audit::{Actor, Event};
use crate::error::ApiError;
use crate::store::{now_ms, ReferralProblem};
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/referrals", post(create).get(list))
        .route("/v1/referrals/{id}", get(show))
        .route("/v1/referrals/{id}/{transition}", post(transition))
}

/// Tells every current device of both parties.
async fn notify(state: &AppState, referral: &Referral) {
    let frame = ServerFrame::ReferralUpdated {
        referral: referral.clone(),
    };
    super::notify_users(state, [&referral.referring, &referral.receiving], &frame).await;
}

/// Records a refused referral action (on the referral, if known), then
/// returns the error.
async fn refused(
    state: &AppState,
    actor: &Actor,
    action: Action,
    id: Option<&ReferralId>,
    e: ApiError,
) -> ApiError {
    let mut event = Event::new(actor, action);
    if let Some(id) = id {
        event = event.referral(id);
    }
    super::refused(state, event, e).await
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateReferral>,
) -> Result<Json<Referral>, ApiError> {
    let action = Action::ReferralCreated;
    let actor = caller.require(&state, Role::Clinician, action).await?;
    let parsed = ReferralId::new(req.referral_id.as_str()).ok();
    let id = parsed.as_ref();
    let checked = async {
        let Some(id) = id else {
            return Err(ApiError::invalid("referral_id: 1 to 64 of A-Z a-z 0-9 - _"));
        };
        let specialty = req.specialty.trim();
        if specialty.is_empty() || specialty.len() > 100 {
            return Err(ApiError::invalid("specialty must be 1 to 100 characters"));
        }
        if req.to == caller.device.user_id {
            return Err(ApiError::invalid("a referral goes to another clinician"));
        }
        if !state.store.is_verified_clinician(&req.to).await? {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "no verified clinician with this id",
            ));
        }
        Ok(id)
    }
    .await;
    let referral_id = match checked {
        Ok(referral_id) => referral_id,
        Err(e) => return Err(refused(&state, &actor, action, id, e).await),
    };
    let referral = match state
        .store
        .create_referral(referral_id, &req, &caller.device.user_id, &actor, now_ms())
        .await?
    {
        Ok(r) => r,
        Err(_) => {
            let e = ApiError::new(ErrorCode::Conflict, "a referral with this id exists");
            return Err(refused(&state, &actor, action, id, e).await);
        }
    };
    tracing::info!(referral = %referral.referral_id, from = %referral.referring, to = %referral.receiving, "referral created");
    notify(&state, &referral).await;
    Ok(Json(referral))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Referral>>, ApiError> {
    let status = params
        .get("status")
        .map(|s| Status::parse(s).ok_or_else(|| ApiError::invalid("unknown status")))
        .transpose()?;
    let party = match params.get("direction").map(String::as_str) {
        None => None,
        Some("out") => Some(Party::Referring),
        Some("in") => Some(Party::Receiving),
        Some(_) => return Err(ApiError::invalid("direction must be in or out")),
    };
    Ok(Json(
        state
            .store
            .referrals_of(&caller.device.user_id, status, party)
            .await?,
    ))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Referral>, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such referral");
    let id = ReferralId::new(id).map_err(|_| not_found())?;
    state
        .store
        .referral_for(&id, &caller.device.user_id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    Json(req): Json<TransitionRequest>,
) -> Result<Json<Referral>, ApiError> {
    let action = Action::ReferralStatusChanged;
    let actor = caller.require(&state, Role::Clinician, action).await?;
    let id = ReferralId::new(id).ok();
    let Some(transition) = Transition::parse(&name) else {
        let e = ApiError::new(
            ErrorCode::NotFound,
            "transitions: accept, decline, cancel, complete",
        );
        return Err(refused(&state, &actor, action, id.as_ref(), e).await);
    };
    if transition.needs_reason() && req.reason_message_id.is_none() {
        let e = ApiError::invalid(format!(
            "{} needs reason_message_id: the id of the encrypted message that gives the reason",
            transition.as_str()
        ));
        return Err(refused(&state, &actor, action, id.as_ref(), e).await);
    }
    let no_such = || ApiError::new(ErrorCode::NotFound, "no such referral");
    // An id that cannot exist is refused as one that does not.
    let Some(id) = id else {
        return Err(refused(&state, &actor, action, None, no_such()).await);
    };
    let outcome = state
        .store
        .transition_referral(
            &id,
            &caller.device.user_id,
            transition,
            req.reason_message_id.as_ref(),
            &actor,
            now_ms(),
        )
        .await?;
    let referral = match outcome {
        Ok(r) => r,
        Err(problem) => {
            let e = match problem {
                ReferralProblem::NotFound | ReferralProblem::Duplicate => no_such(),
                ReferralProblem::WrongParty => ApiError::new(
                    ErrorCode::Forbidden,
                    match transition.party() {
                        Party::Receiving => "only the receiving clinician may do this",
                        Party::Referring => "only the referring clinician may do this",
                    },
                ),
                ReferralProblem::InvalidTransition(status) => ApiError::new(
                    ErrorCode::InvalidTransition,
                    format!(
                        "cannot {} a referral that is {}",
                        transition.as_str(),
                        status.as_str()
                    ),
                ),
            };
            return Err(refused(&state, &actor, action, Some(&id), e).await);
        }
    };
    tracing::info!(referral = %referral.referral_id, status = referral.status.as_str(), "referral changed");
    notify(&state, &referral).await;
    Ok(Json(referral))
}
