//! `/healthz` (the process is up) and `/readyz` (writes can commit now).
//!
//! `/readyz` answers within one second whatever the database does: 200
//! `ready`, or 503 `storage_unavailable` (in the error format) while the database does not answer
//! or, after a write failed for want of storage (a full disk, a database
//! outage), until a probe write commits again. A load balancer should stop
//! routing to a node while it answers 503; the node recovers by itself.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// The longest `/readyz` takes to answer.
const READY_DEADLINE: std::time::Duration = std::time::Duration::from_millis(900);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn ready(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if state.store.ready(READY_DEADLINE).await {
        (StatusCode::OK, "ready").into_response()
    } else {
        // In the error format with its own code (a bare 503 would be
        // rewritten as `shutting_down`).
        crate::error::ApiError::storage_unavailable().into_response()
    }
}
