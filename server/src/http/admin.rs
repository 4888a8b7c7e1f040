//! Admin APIs (admin role), and a user's own device management.

use std::time::Duration;

use super::extract::Json;
use super::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use curbside_protocol::auth::DEVICE_INVITE_PREFIX;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::{
    CreateInviteRequest, DeactivatedUser, DeviceSummary, GrantRoleRequest, InviteResponse, InviteTarget,
    Role, UserSummary,
};
use curbside_protocol::ids::{Address, DeviceId, UserId};

use super::Caller;
use crate::audit::{Actor, Event};
use crate::auth::new_token;
use crate::error::ApiError;
use crate::hub::HubEvent;
use crate::store::{now_ms, Deactivation, Grant, UserStatus};
use crate::AppState;
use curbside_protocol::audit::Action;

/// Longest invite lifetime: 30 days.
const MAX_INVITE_SECS: u64 = 30 * 24 * 3600;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/invites", post(admin_invite))
        .route("/v1/admin/users", get(list_users))
        .route("/v1/admin/users/{user_id}/verify", post(verify))
        .route("/v1/admin/users/{user_id}/roles", post(grant_role))
        .route("/v1/admin/users/{user_id}/deactivate", post(deactivate))
        .route(
            "/v1/admin/users/{user_id}/devices/{device_id}/revoke",
            post(admin_revoke),
        )
        .route("/v1/devices", get(own_devices))
        .route("/v1/devices/invites", post(device_invite))
        .route("/v1/devices/{device_id}/revoke", post(own_revoke))
}

fn parse_user(raw: &str) -> Result<UserId, ApiError> {
    UserId::new(raw).map_err(|e| ApiError::invalid(e.to_string()))
}

async fn issue(
    state: &AppState,
    grant: Grant,
    by: &Actor,
    secs: Option<u64>,
) -> Result<InviteResponse, ApiError> {
    let secs = secs
        .unwrap_or(state.config.limits.invite_ttl_secs)
        .clamp(60, MAX_INVITE_SECS);
    // The prefix tells the enrolling client the purpose its proof signs.
    let prefix = match grant {
        Grant::NewUser(_) => "cbs_inv_",
        Grant::NewDevice(_) => DEVICE_INVITE_PREFIX,
    };
    let (invite, hash) = new_token(prefix);
    let expires_at = state
        .store
        .create_invite(&hash, &grant, by, now_ms(), Duration::from_secs(secs))
        .await?;
    tracing::info!(by = ?by.user, grant = ?grant, "invite issued");
    Ok(InviteResponse { invite, expires_at })
}

async fn admin_invite(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateInviteRequest>,
) -> Result<Json<InviteResponse>, ApiError> {
    let actor = caller.require(&state, Role::Admin, Action::InviteCreated).await?;
    let grant =
        match req.target {
            InviteTarget::NewUser { role } => Grant::NewUser(role),
            InviteTarget::NewDevice { user_id } => {
                match state.store.user_status(&user_id).await? {
                    UserStatus::Unknown => return Err(ApiError::new(ErrorCode::NotFound, "no such user")),
                    UserStatus::Deactivated => return Err(ApiError::new(
                        ErrorCode::UserDeactivated,
                        "this account was deactivated: it takes no new device. Invite the clinician as a \
                         new user (their NPI may enroll again)",
                    )),
                    UserStatus::Active => {}
                }
                Grant::NewDevice(user_id)
            }
        };
    Ok(Json(issue(&state, grant, &actor, req.expires_in_secs).await?))
}

/// An invite for another device of the caller's own account. Any other
/// target (another user's device, a new user) is an admin's to issue:
/// it is handled as `POST /v1/admin/invites`, so a caller without the
/// admin role is refused with `forbidden` (and the refusal audited), never
/// quietly given an invite for their own account instead.
async fn device_invite(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateInviteRequest>,
) -> Result<Json<InviteResponse>, ApiError> {
    match &req.target {
        InviteTarget::NewDevice { user_id } if *user_id == caller.device.user_id => {
            let grant = Grant::NewDevice(user_id.clone());
            Ok(Json(
                issue(&state, grant, &caller.actor(None), req.expires_in_secs).await?,
            ))
        }
        _ => admin_invite(State(state), caller, Json(req))
            .await
            .map_err(|mut e| {
                if e.code == ErrorCode::Forbidden {
                    e.message = "an invite for another user's device, or for a new user, requires the \
                                 admin role: ask an administrator (POST /v1/admin/invites)"
                        .into();
                }
                e
            }),
    }
}

async fn own_devices(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DeviceSummary>>, ApiError> {
    Ok(Json(state.store.devices_of(&caller.device.user_id).await?))
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserSummary>>, ApiError> {
    let actor = caller.require(&state, Role::Admin, Action::UsersListed).await?;
    let users = state.store.list_users().await?;
    state
        .store
        .record(vec![Event::new(&actor, Action::UsersListed)])
        .await?;
    Ok(Json(users))
}

async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = caller.require(&state, Role::Admin, Action::UserVerified).await?;
    let user = parse_user(&user)?;
    if !state.store.verify_user(&user, &actor).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no such user"));
    }
    tracing::info!(by = %caller.device.user_id, user = %user, "user verified");
    Ok(StatusCode::NO_CONTENT)
}

async fn grant_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
    Json(req): Json<GrantRoleRequest>,
) -> Result<StatusCode, ApiError> {
    let actor = caller.require(&state, Role::Admin, Action::RoleGranted).await?;
    let user = parse_user(&user)?;
    if !state.store.grant_role(&user, req.role, &actor, now_ms()).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no such user"));
    }
    tracing::info!(by = %caller.device.user_id, user = %user, role = req.role.as_str(), "role granted");
    Ok(StatusCode::NO_CONTENT)
}

/// Deactivates an account (`Store::deactivate_user`), then closes its
/// devices' connections. An admin's own account is refused: the last
/// admin could otherwise lock every admin out.
async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
) -> Result<Json<DeactivatedUser>, ApiError> {
    let actor = caller
        .require(&state, Role::Admin, Action::UserDeactivated)
        .await?;
    let user = parse_user(&user)?;
    if user == caller.device.user_id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "an administrator cannot deactivate their own account: ask another administrator",
        ));
    }
    let done = match state.store.deactivate_user(&user, &actor, now_ms()).await? {
        Deactivation::Done(done) => done,
        Deactivation::NotFound => return Err(ApiError::new(ErrorCode::NotFound, "no such user")),
        Deactivation::AlreadyDeactivated(_) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "this account is already deactivated",
            ))
        }
    };
    for device in &done.devices_revoked {
        let address = Address {
            user_id: user.clone(),
            device_id: *device,
        };
        state.hub.notify(&address, HubEvent::Revoked);
    }
    tracing::info!(by = %caller.device.user_id, user = %user, devices = done.devices_revoked.len(), dropped = done.messages_dropped, "user deactivated");
    Ok(Json(done))
}

async fn revoke(state: &AppState, device: Address, by: &Actor) -> Result<StatusCode, ApiError> {
    if !state
        .store
        .revoke_device(&device.user_id, device.device_id, by, now_ms())
        .await?
    {
        return Err(ApiError::new(ErrorCode::NotFound, "no such current device"));
    }
    state.hub.notify(&device, HubEvent::Revoked);
    tracing::info!(by = ?by.user, user = %device.user_id, device = %device.device_id, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn admin_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((user, device)): Path<(String, u32)>,
) -> Result<StatusCode, ApiError> {
    let actor = caller.require(&state, Role::Admin, Action::DeviceRevoked).await?;
    let device = Address {
        user_id: parse_user(&user)?,
        device_id: DeviceId(device),
    };
    revoke(&state, device, &actor).await
}

async fn own_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(device): Path<u32>,
) -> Result<StatusCode, ApiError> {
    let device = Address {
        user_id: caller.device.user_id.clone(),
        device_id: DeviceId(device),
    };
    revoke(&state, device, &caller.actor(None)).await
}
