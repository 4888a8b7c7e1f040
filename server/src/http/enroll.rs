//! `POST /v1/enroll`: a new user (invite or bootstrap token) or a new device
//! (device invite) registers its identity key and prekeys.
//!
//! Before the invite is consumed, the keys are parsed with `curbside-crypto`
//! (which verifies the identity key's inner signature and the signed
//! prekey's), and the proof of possession is checked: it must sign this
//! server's configured `server_name`, this invite and the invite's purpose
//! (PROTOCOL.md, "Enrollment"), so that a copied identity key and proof are
//! useless with any other invite, on any other server or for another purpose.

use super::extract::Json;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use curbside_crypto::{IdentityKey, SignedPreKey};
use curbside_protocol::auth::{enrollment_transcript, EnrollPurpose};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::{EnrollRequest, EnrollResponse};
use curbside_protocol::ids::UserId;
use curbside_protocol::npi;

use super::{anonymous_attempt, may_attempt, Source};
use crate::audit::{Actor, Event};
use crate::auth::{new_user_id, token_hash, IDENTITY_KEY_LEN, PUBLIC_KEY_LEN, SIGNED_PREKEY_LEN};
use crate::error::ApiError;
use crate::store::{now_ms, DeviceKeys, EnrollProblem, InviteClaim, InviteProblem, UserDetails};
use crate::AppState;
use curbside_protocol::audit::Action;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/enroll", post(enroll))
}

/// Checks the keys' sizes and signatures, and the proof of possession made
/// for `purpose`.
fn check_keys(state: &AppState, req: &EnrollRequest, purpose: EnrollPurpose) -> Result<DeviceKeys, ApiError> {
    if req.identity_key.len() != IDENTITY_KEY_LEN {
        return Err(ApiError::invalid("identity_key must be 128 bytes"));
    }
    if req.signed_prekey.len() != SIGNED_PREKEY_LEN {
        return Err(ApiError::invalid("signed_prekey must be 100 bytes"));
    }
    if req.one_time_prekeys.len() > state.config.limits.max_one_time_prekeys {
        return Err(ApiError::invalid("too many one_time_prekeys"));
    }
    if req
        .one_time_prekeys
        .iter()
        .any(|k| k.public_key.len() != PUBLIC_KEY_LEN)
    {
        return Err(ApiError::invalid("every one-time prekey must be 32 bytes"));
    }
    let identity = IdentityKey::from_bytes(req.identity_key.as_slice()).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidIdentityKey,
            "identity_key's signature over its X25519 key does not verify: send the key as generated",
        )
    })?;
    SignedPreKey::from_bytes(&identity, req.signed_prekey.as_slice()).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidSignedPrekey,
            "signed_prekey's signature does not verify with identity_key: sign it with this identity",
        )
    })?;
    let transcript = enrollment_transcript(
        purpose,
        &state.config.server_name,
        &req.invite,
        req.identity_key.as_slice(),
    );
    if identity.verify(&transcript, req.signature.as_slice()).is_err() {
        return Err(ApiError::new(
            ErrorCode::AuthFailed,
            "the enrollment proof does not verify: sign this server's name, this invite and its purpose \
             with the identity key (PROTOCOL.md, Enrollment)",
        ));
    }
    Ok(DeviceKeys {
        identity_key: req.identity_key.0.clone(),
        signed_prekey: req.signed_prekey.0.clone(),
        one_time_prekeys: req
            .one_time_prekeys
            .iter()
            .map(|k| (k.id, k.public_key.0.clone()))
            .collect(),
    })
}

fn check_profile(req: &EnrollRequest) -> Result<UserDetails, ApiError> {
    let name = req.display_name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("display_name must be 1 to 200 characters"));
    }
    let npi = req.npi.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(npi) = npi {
        if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::new(
                ErrorCode::InvalidNpi,
                format!(
                    "an NPI has 10 digits (this one has {} characters)",
                    npi.chars().count()
                ),
            ));
        }
        if !npi::is_valid(npi) {
            return Err(ApiError::new(
                ErrorCode::InvalidNpi,
                "the NPI's check digit is not valid: check it for a typo",
            ));
        }
    }
    let specialty = req.specialty.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if specialty.is_some_and(|s| s.len() > 100) {
        return Err(ApiError::invalid("specialty must be at most 100 characters"));
    }
    Ok(UserDetails {
        display_name: name.to_owned(),
        npi: npi.map(str::to_owned),
        specialty: specialty.map(str::to_owned),
    })
}

async fn enroll(
    State(state): State<AppState>,
    Source(source): Source,
    Json(req): Json<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let actor = Actor::anonymous(source);
    may_attempt(&state, source)?;
    let result = enroll_checked(&state, &req, &actor).await;
    anonymous_attempt(&state, source, Event::new(&actor, Action::UserEnrolled), result).await
}

async fn enroll_checked(
    state: &AppState,
    req: &EnrollRequest,
    actor: &Actor,
) -> Result<Json<EnrollResponse>, ApiError> {
    let purpose = EnrollPurpose::of_invite(&req.invite);
    let keys = check_keys(state, req, purpose)?;
    let hash = token_hash(&req.invite);
    // A device invite ignores the profile; a new user needs one. The store
    // decides which applies when it consumes the invite, so validate leniently
    // here and strictly for clinicians below.
    let profile = check_profile(req).or_else(|e| {
        if req.display_name.trim().is_empty() {
            Ok(UserDetails {
                display_name: String::new(),
                npi: None,
                specialty: None,
            })
        } else {
            Err(e)
        }
    })?;
    let new_id =
        UserId::new(new_user_id()).map_err(|_| ApiError::new(ErrorCode::Internal, "id generation"))?;
    let outcome = state
        .store
        .enroll(
            InviteClaim { hash: &hash, purpose },
            &profile,
            &keys,
            &new_id,
            actor,
            now_ms(),
        )
        .await?;
    match outcome {
        Ok(enrolled) => {
            tracing::info!(user = %enrolled.user_id, device = %enrolled.device_id, "device enrolled");
            Ok(Json(EnrollResponse {
                user_id: enrolled.user_id,
                device_id: enrolled.device_id,
                roles: enrolled.roles,
                verified: enrolled.verified,
            }))
        }
        Err(EnrollProblem::Invite(InviteProblem::Invalid)) => Err(ApiError::new(
            ErrorCode::InvalidInvite,
            "the invite is unknown or was already used",
        )),
        Err(EnrollProblem::Invite(InviteProblem::Expired)) => {
            Err(ApiError::new(ErrorCode::InviteExpired, "the invite has expired"))
        }
        Err(EnrollProblem::ProfileRequired) => Err(ApiError::invalid(
            "a new user needs display_name; a clinician also needs a valid npi and a specialty",
        )),
        Err(EnrollProblem::NpiTaken) => Err(ApiError::new(
            ErrorCode::Conflict,
            "a user with this NPI is already enrolled",
        )),
        Err(EnrollProblem::WrongPurpose) => Err(ApiError::new(
            ErrorCode::InvalidInvite,
            "this invite was issued by an older server for another purpose than its prefix says: \
             ask for a new invite",
        )),
    }
}
