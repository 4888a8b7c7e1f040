//! Curbside consults: `PUT /v1/consults/opt-in` (answer consults of one's
//! own specialty) and `GET` (whether one does, set from any device), `POST /v1/consults` (ask a specialty; the server chooses
//! who receives it), `GET /v1/consults` (one's own, asked or received),
//! `POST /v1/consults/{id}/close` (the asker).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::Router;
use curbside_protocol::consult::{Consult, OptIn, PostConsult};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::ids::ConsultId;

use super::extract::{Json, Path};
use super::Caller;
use crate::error::ApiError;
use crate::store::{now_ms, ConsultProblem, DirectoryFilter};
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/consults/opt-in", put(opt_in).get(opted_in))
        .route("/v1/consults", post(post_consult).get(list))
        .route("/v1/consults/{consult_id}/close", post(close))
}

fn refusal(problem: ConsultProblem) -> ApiError {
    match problem {
        ConsultProblem::TooManyOpen(max) => ApiError::new(
            ErrorCode::TooManyConsults,
            format!("you have {max} consults open, the most allowed: close one first (`curbside consult close`)"),
        ),
        ConsultProblem::NobodyAnswers => ApiError::new(
            ErrorCode::NotFound,
            "no verified clinician of this specialty answers consults yet: write to a colleague by name, or try \
             an on-call role",
        ),
        ConsultProblem::NotFound => ApiError::new(ErrorCode::NotFound, "no such consult of yours"),
        ConsultProblem::Closed => ApiError::invalid("this consult is closed"),
        ConsultProblem::NotYourSpecialty => ApiError::invalid(
            "specialties: you answer consults of your own specialty only (as the directory lists it)",
        ),
    }
}

async fn opt_in(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<OptIn>,
) -> Result<Json<OptIn>, ApiError> {
    let me = &caller.device.user_id;
    let listed = state
        .store
        .directory_search(&DirectoryFilter {
            user_id: Some(me.as_str()),
            ..DirectoryFilter::default()
        })
        .await?;
    let Some(entry) = listed.first() else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only verified clinicians answer consults: an administrator verifies you first",
        ));
    };
    state
        .store
        .set_consult_optins(me, Some(&entry.specialty), &req.specialties)
        .await?
        .map_err(refusal)?;
    tracing::info!(user = %me, specialties = req.specialties.len(), "consult opt-in set");
    Ok(Json(req))
}

/// The caller's opt-in as stored (the user's, whichever device set it).
async fn opted_in(State(state): State<AppState>, caller: Caller) -> Result<Json<OptIn>, ApiError> {
    let specialties = state.store.consult_optins_of(&caller.device.user_id).await?;
    Ok(Json(OptIn { specialties }))
}

async fn post_consult(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PostConsult>,
) -> Result<Json<Consult>, ApiError> {
    let specialty = req.specialty.trim();
    if specialty.is_empty() {
        return Err(ApiError::invalid(
            "specialty: name the specialty asked (Dermatology)",
        ));
    }
    let me = &caller.device.user_id;
    let id = ConsultId::new(format!("c{}", &crate::auth::new_user_id()[1..]))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let limits = &state.config.limits;
    state
        .store
        .post_consult(
            &id,
            me,
            (specialty, req.share_answers),
            (limits.max_consult_recipients, limits.max_open_consults),
            &caller.actor(None),
            now_ms(),
        )
        .await?
        .map_err(refusal)?;
    tracing::info!(user = %me, consult = %id, "consult posted");
    let mine = state.store.consults_of(me).await?;
    let consult = mine
        .into_iter()
        .find(|c| c.consult_id == id)
        .ok_or_else(|| refusal(ConsultProblem::NotFound))?;
    Ok(Json(consult))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Consult>>, ApiError> {
    Ok(Json(state.store.consults_of(&caller.device.user_id).await?))
}

async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = ConsultId::new(id).map_err(|e| ApiError::invalid(format!("in the path: {e}")))?;
    let actor = caller.actor(None);
    state
        .store
        .close_consult(&id, &caller.device.user_id, &actor, now_ms())
        .await?
        .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}
