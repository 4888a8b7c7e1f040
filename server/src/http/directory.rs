//! `GET /v1/directory?name=…&specialty=…`: verified clinicians, for authenticated users only.

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
}

async fn search(
    State(state): State<AppState>,
    _caller: Caller,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<DirectoryEntry>>, ApiError> {
    Ok(Json(
        state
            .store
            .directory(q.name.as_deref(), q.specialty.as_deref())
            .await?,
    ))
}
