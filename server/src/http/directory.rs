//! `GET /v1/directory?name=…&specialty=…&npi=…&user_id=…`: verified clinicians, for authenticated users only.

use super::extract::Json;
use super::extract::Query;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use curbside_protocol::frames::DirectoryEntry;
use serde::Deserialize;

use super::Caller;
use crate::error::ApiError;
use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/directory", get(search))
}

#[derive(Deserialize)]
struct SearchQuery {
    name: Option<String>,
    specialty: Option<String>,
    npi: Option<String>,
    user_id: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<DirectoryEntry>>, ApiError> {
    Ok(Json(
        state
            .store
            .directory_search(&crate::store::DirectoryFilter {
                name: q.name.as_deref(),
                specialty: q.specialty.as_deref(),
                npi: q.npi.as_deref(),
                user_id: q.user_id.as_deref(),
            })
            .await?,
    ))
}
