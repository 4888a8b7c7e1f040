//! Encrypted attachments: `POST /v1/attachments` uploads an opaque blob
//! (streamed to disk, never held whole in memory, refused beyond the size
//! limit), `GET /v1/attachments/{id}` streams it back. Ids are 128-bit
//! random; the blob is ciphertext whose key only the message recipients have.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::AttachmentStored;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::Caller;
use crate::audit::Event;
use crate::auth::random32;
use crate::error::ApiError;
use crate::store::now_ms;
use crate::AppState;
use curbside_protocol::audit::{Action, Details};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/attachments", post(upload))
        .route("/v1/attachments/{id}", get(download))
}

/// The directory holding attachment blobs.
pub(crate) fn dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("attachments")
}

fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn internal(what: &str, e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, what, "attachment storage failed");
    ApiError::new(ErrorCode::Internal, "internal server error")
}

async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<AttachmentStored>, ApiError> {
    let limit = state.config.limits.max_attachment_bytes;
    let id: String = random32().iter().take(16).map(|b| format!("{b:02x}")).collect();
    let dir = dir(&state);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| internal("creating the directory", e))?;
    let partial = dir.join(format!("{id}.partial"));
    let result = write_limited(&partial, body, limit).await;
    let size = match result {
        Ok(size) => size,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    tokio::fs::rename(&partial, dir.join(&id))
        .await
        .map_err(|e| internal("storing the blob", e))?;
    let ttl = Duration::from_secs(state.config.limits.attachment_ttl_secs);
    let expires_at = state
        .store
        .add_attachment(&id, &caller.device, size, &caller.actor(None), now_ms(), ttl)
        .await?;
    tracing::info!(user = %caller.device.user_id, device = %caller.device.device_id, attachment = %id, size, "attachment stored");
    Ok(Json(AttachmentStored {
        attachment_id: id,
        size,
        expires_at,
    }))
}

async fn write_limited(path: &Path, body: Body, limit: u64) -> Result<u64, ApiError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal("creating the blob", e))?;
    let mut stream = body.into_data_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "the upload was interrupted"))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("attachments are limited to {limit} bytes"),
            ));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| internal("writing the blob", e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| internal("syncing the blob", e))?;
    if size == 0 {
        return Err(ApiError::new(ErrorCode::InvalidRequest, "empty attachment"));
    }
    Ok(size)
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such attachment (or it expired)");
    if !valid_id(&id) {
        return Err(not_found());
    }
    let size = state
        .store
        .attachment_size(&id, now_ms())
        .await?
        .ok_or_else(not_found)?;
    let file = tokio::fs::File::open(dir(&state).join(&id))
        .await
        .map_err(|_| not_found())?;
    let event = Event::new(&caller.actor(None), Action::AttachmentFetched)
        .attachment(&id)
        .details(Details {
            size: Some(size),
            ..Details::default()
        });
    state.store.record(vec![event]).await?;
    tracing::info!(user = %caller.device.user_id, device = %caller.device.device_id, attachment = %id, size, "attachment fetched");
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        body,
    )
        .into_response())
}
