//! On-call roles: administrators create them and schedule shifts
//! (`/v1/admin/oncall…`); every clinician lists them with their holders
//! (`GET /v1/oncall`); a holder or an administrator hands one off at once.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use curbside_protocol::audit::Action;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::ServerFrame;
use curbside_protocol::http::Role;
use curbside_protocol::ids::{OnCallRoleId, UserId};
use curbside_protocol::oncall::{CreateRole, HandOff, OnCallRole, ScheduleShift, MAX_SHIFT_MS};
use serde::Serialize;

use super::extract::{Json, Path};
use super::Caller;
use crate::error::ApiError;
use crate::store::{now_ms, OnCallProblem};
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/oncall", post(create))
        .route("/v1/admin/oncall/{role_id}/shifts", post(schedule))
        .route("/v1/oncall", get(list))
        .route("/v1/oncall/{role_id}/handoff", post(hand_off))
}

fn parse_role(raw: &str) -> Result<OnCallRoleId, ApiError> {
    OnCallRoleId::new(raw).map_err(|e| ApiError::invalid(format!("in the path: {e}")))
}

fn refusal(problem: OnCallProblem) -> ApiError {
    match problem {
        OnCallProblem::NoSuchRole => ApiError::new(
            ErrorCode::NotFound,
            "no such on-call role: `curbside oncall list` shows them",
        ),
        OnCallProblem::NotAClinician(user) => ApiError::invalid(format!(
            "user_id: {user} is not a verified clinician: only verified clinicians hold on-call roles \
             (an administrator verifies them first)"
        )),
        OnCallProblem::NameTaken => ApiError::new(
            ErrorCode::Conflict,
            "name: an on-call role with this name exists; choose another name",
        ),
        OnCallProblem::NotAHolder => ApiError::new(
            ErrorCode::Forbidden,
            "only the clinician holding this role now, or an administrator, may hand it off",
        ),
    }
}

/// Tells every current device of the role's holders before and after a
/// change (`oncall_changed`, best effort: a device not connected learns it
/// from `GET /v1/oncall` when it comes back).
async fn notify(state: &AppState, before: &[UserId], role: &OnCallRole) {
    let mut users: Vec<&UserId> = before
        .iter()
        .chain(role.holders.iter().map(|h| &h.user_id))
        .collect();
    users.sort();
    users.dedup();
    let frame = ServerFrame::OncallChanged { role: role.clone() };
    super::notify_users(state, users, &frame).await;
}

fn holder_ids(role: &OnCallRole) -> Vec<UserId> {
    role.holders.iter().map(|h| h.user_id.clone()).collect()
}

/// One role as `GET /v1/oncall` lists it.
async fn role_now(state: &AppState, id: &OnCallRoleId) -> Result<OnCallRole, ApiError> {
    state
        .store
        .oncall_roles(now_ms())
        .await?
        .into_iter()
        .find(|r| r.role_id == *id)
        .ok_or_else(|| refusal(OnCallProblem::NoSuchRole))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateRole>,
) -> Result<Json<OnCallRole>, ApiError> {
    let actor = caller
        .require(&state, Role::Admin, Action::OnCallRoleCreated)
        .await?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::invalid(
            "name: give 1 to 80 characters (\"On-call dermatology\")",
        ));
    }
    let specialty = req.specialty.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let id = OnCallRoleId::new(format!("o{}", &crate::auth::new_user_id()[1..]))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    state
        .store
        .create_oncall_role(&id, name, specialty, &actor, now_ms())
        .await?
        .map_err(refusal)?;
    tracing::info!(by = %caller.device.user_id, role = %id, "on-call role created");
    Ok(Json(role_now(&state, &id).await?))
}

#[derive(Serialize)]
struct Scheduled {
    shift_id: i64,
}

async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    Json(req): Json<ScheduleShift>,
) -> Result<Json<Scheduled>, ApiError> {
    let actor = caller
        .require(&state, Role::Admin, Action::OnCallShiftScheduled)
        .await?;
    let role = parse_role(&role)?;
    if req.ends_at <= req.starts_at || req.ends_at - req.starts_at > MAX_SHIFT_MS {
        return Err(ApiError::invalid(
            "ends_at: a shift ends after it starts, and lasts at most 31 days",
        ));
    }
    let before = role_now(&state, &role)
        .await
        .map(|r| holder_ids(&r))
        .unwrap_or_default();
    let shift_id = state
        .store
        .schedule_shift(
            &role,
            &req.user_id,
            (req.starts_at, req.ends_at),
            &actor,
            now_ms(),
        )
        .await?
        .map_err(refusal)?;
    tracing::info!(by = %caller.device.user_id, role = %role, user = %req.user_id, "on-call shift scheduled");
    if let Ok(now) = role_now(&state, &role).await {
        if holder_ids(&now) != before {
            notify(&state, &before, &now).await;
        }
    }
    Ok(Json(Scheduled { shift_id }))
}

async fn list(State(state): State<AppState>, _caller: Caller) -> Result<Json<Vec<OnCallRole>>, ApiError> {
    Ok(Json(state.store.oncall_roles(now_ms()).await?))
}

async fn hand_off(
    State(state): State<AppState>,
    caller: Caller,
    Path(role): Path<String>,
    Json(req): Json<HandOff>,
) -> Result<Json<OnCallRole>, ApiError> {
    let role = parse_role(&role)?;
    let now = now_ms();
    if req.until.is_some_and(|u| u <= now || u - now > MAX_SHIFT_MS) {
        return Err(ApiError::invalid("until: give a time in the next 31 days"));
    }
    let admin = caller.roles.contains(&Role::Admin);
    let actor = caller.actor(admin.then_some(Role::Admin));
    let by: &UserId = &caller.device.user_id;
    let before = role_now(&state, &role)
        .await
        .map(|r| holder_ids(&r))
        .unwrap_or_default();
    state
        .store
        .hand_off(&role, (by, admin), &req.to, req.until, &actor, now)
        .await?
        .map_err(refusal)?;
    tracing::info!(by = %by, role = %role, to = %req.to, "on-call role handed off");
    let now = role_now(&state, &role).await?;
    notify(&state, &before, &now).await;
    Ok(Json(now))
}
