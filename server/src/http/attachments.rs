//! Encrypted attachments: `POST /v1/attachments` uploads an opaque blob
//! (streamed to disk, never held whole in memory, refused beyond the size
//! limit), `GET /v1/attachments/{id}` streams it back. Ids are 128-bit
//! random; the blob is ciphertext whose key only the message recipients have.
//! A blob stays on disk under its id only if its database row committed:
//! see [`upload`] for the order of writes and [`sweep_orphans`] for what
//! start-up removes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::extract::Json;
use super::extract::Path as UrlPath;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::AttachmentStored;
use curbside_protocol::ids::AttachmentId;
use futures_util::StreamExt;

use super::Caller;
use crate::audit::Event;
use crate::auth::random32;
use crate::durable;
use crate::error::{ApiError, ServerError};
use crate::store::{now_ms, Store};
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
    AttachmentId::new(id).is_ok()
}

/// A failure of the blob store (the disk): logged, answered as a storage
/// refusal, never with the detail.
fn disk(what: &'static str, e: std::io::Error) -> ApiError {
    ServerError::io(what, e).into()
}

/// `POST /v1/attachments`. The order is what makes an acknowledged blob
/// survive and a refused one vanish:
///
/// 1. the body streams into a temporary file (removed if the upload fails,
///    is too large, or the client goes away);
/// 2. the blob is made durable under its final name (fsync, rename,
///    directory fsync), so a row never refers to a blob that a power loss
///    could take back;
/// 3. the row and its audit entry commit;
/// 4. only then the answer is 200.
///
/// If the commit fails the blob is deleted again, so a refused upload leaves
/// nothing. Steps 2 to 4 run in their own task, which a client hanging up
/// cannot interrupt half-way. A crash between 2 and 3 leaves a blob without
/// a row, which start-up removes ([`sweep_orphans`]). (A commit that fails
/// after actually committing, as a lost connection to PostgreSQL can make
/// it look, leaves a row without a blob: its id was never given to anyone
/// and the row expires.)
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<AttachmentStored>, ApiError> {
    let (limit, quota_full) = upload_limit(&state, &caller).await?;
    let mut random = [0u8; 16];
    random.copy_from_slice(&random32()[..16]);
    let id = AttachmentId::from_bytes(random);
    let dir = dir(&state);
    let mkdir = dir.clone();
    tokio::task::spawn_blocking(move || durable::create_dir_all(&mkdir))
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(|e| disk("creating the attachment directory", e))?;
    let path = dir.join(id.as_str());
    let staged = durable::Staged::create(&path)
        .await
        .map_err(|e| disk("creating the blob", e))?;
    let (staged, size) = match write_limited(staged, body, limit).await {
        Err(e) if e.code == ErrorCode::PayloadTooLarge => return Err(quota_full.unwrap_or(e)),
        written => written?,
    };
    let finish = tokio::spawn(async move {
        if let Err(e) = staged.persist().await {
            // The rename may have happened before the directory fsync failed.
            let _ = tokio::fs::remove_file(&path).await;
            return Err(disk("making the blob durable", e));
        }
        let ttl = Duration::from_secs(state.config.limits.attachment_ttl_secs);
        let actor = caller.actor(None);
        let store = &state.store;
        match store
            .bounded(store.add_attachment(&id, &caller.device, size, &actor, now_ms(), ttl))
            .await
        {
            Ok(expires_at) => {
                tracing::info!(user = %caller.device.user_id, device = %caller.device.device_id, attachment = %id, size, "attachment stored");
                Ok(AttachmentStored {
                    attachment_id: id,
                    size,
                    expires_at,
                })
            }
            Err(e) => {
                if let Err(removal) = tokio::fs::remove_file(&path).await {
                    tracing::warn!(error = %removal, attachment = %id, "could not remove the blob of a failed upload; the next start removes it");
                }
                Err(ApiError::from(e))
            }
        }
    });
    match finish.await {
        Ok(result) => result.map(Json),
        Err(e) => {
            tracing::error!(error = %e, "the upload's commit task failed");
            Err(ApiError::new(ErrorCode::Internal, "internal server error"))
        }
    }
}

/// The most bytes this upload may have: `max_attachment_bytes`, or less if
/// the caller's user has less room left under
/// `max_attachment_bytes_per_user`, with the refusal to give past it (none
/// when the per-upload limit is the smaller). Refused at once if no room is
/// left.
async fn upload_limit(state: &AppState, caller: &Caller) -> Result<(u64, Option<ApiError>), ApiError> {
    let limits = &state.config.limits;
    let quota = limits.max_attachment_bytes_per_user;
    if quota == 0 {
        return Ok((limits.max_attachment_bytes, None));
    }
    let store = &state.store;
    let now = now_ms();
    let (used, oldest) = store
        .bounded(store.attachment_usage(&caller.device.user_id, now))
        .await?;
    let room = quota.saturating_sub(used);
    let refusal = || {
        let when = oldest.map_or_else(String::new, |at| {
            format!(
                "; the oldest expires in {} s",
                at.saturating_sub(now).saturating_add(999) / 1000
            )
        });
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "this upload would take your attachments past your quota of {quota} bytes ({used} stored{when}); \
                 upload it later or ask an administrator to raise max_attachment_bytes_per_user"
            ),
        )
    };
    if room == 0 {
        return Err(refusal());
    }
    if room < limits.max_attachment_bytes {
        return Ok((room, Some(refusal())));
    }
    Ok((limits.max_attachment_bytes, None))
}

/// Streams `body` into `staged`, refusing it beyond `limit` bytes or empty.
async fn write_limited(
    mut staged: durable::Staged,
    body: Body,
    limit: u64,
) -> Result<(durable::Staged, u64), ApiError> {
    let mut stream = body.into_data_stream();
    let mut size = UploadSize::new(limit);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("the upload was interrupted"))?;
        size.add(chunk.len())?;
        staged
            .write_all(&chunk)
            .await
            .map_err(|e| disk("writing the blob", e))?;
    }
    Ok((staged, size.finish()?))
}

/// The size accounting of an upload, apart from its I/O (the fuzz target
/// `upload_size` drives it): a chunk that takes the total past the limit is
/// refused before it is written, and an empty upload is refused at its end.
#[derive(Debug)]
pub(crate) struct UploadSize {
    limit: u64,
    size: u64,
}

impl UploadSize {
    /// Nothing received yet, at most `limit` bytes accepted.
    pub(crate) fn new(limit: u64) -> Self {
        Self { limit, size: 0 }
    }

    /// Counts a chunk of `len` bytes: `payload_too_large` once the total is
    /// past the limit (a total past `u64::MAX` too: it is not counted as
    /// `u64::MAX`, which a limit of `u64::MAX` would let through).
    pub(crate) fn add(&mut self, len: usize) -> Result<(), ApiError> {
        match u64::try_from(len).ok().and_then(|len| self.size.checked_add(len)) {
            Some(size) if size <= self.limit => {
                self.size = size;
                Ok(())
            }
            _ => Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("attachments are limited to {} bytes", self.limit),
            )),
        }
    }

    /// The upload's size once its body ended: `invalid_request` if empty.
    pub(crate) fn finish(&self) -> Result<u64, ApiError> {
        if self.size == 0 {
            return Err(ApiError::invalid("empty attachment"));
        }
        Ok(self.size)
    }
}

/// Start-up: makes the attachment directory agree with the database before
/// the server serves. Removes every temporary file (an upload cut off by a
/// crash; `<id>.partial` is the name earlier versions used) and every blob
/// whose row does not exist (a crash between making a blob durable and
/// committing its row, or between expiring a row and deleting its file).
/// Files with other names are not the server's and are left alone. The
/// directory belongs to this server: nodes of a cluster each have their own.
pub(crate) async fn sweep_orphans(store: &Store, dir: &Path) -> Result<(), ServerError> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ServerError::io("listing the attachment directory", e)),
    };
    let (mut temporaries, mut orphans, mut blobs) = (0usize, 0usize, Vec::new());
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| ServerError::io("listing the attachment directory", e))?
    {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if durable::is_temporary(&name) || name.strip_suffix(".partial").is_some_and(valid_id) {
            temporaries += usize::from(remove(&entry.path()).await);
        } else if let Ok(id) = AttachmentId::new(name) {
            blobs.push(id);
        }
    }
    let present = store.attachments_present(&blobs).await?;
    for id in blobs.iter().filter(|id| !present.contains(*id)) {
        orphans += usize::from(remove(&dir.join(id.as_str())).await);
    }
    if temporaries + orphans > 0 {
        tracing::warn!(
            temporaries,
            orphans,
            dir = %dir.display(),
            "removed attachment files left by an interrupted upload or expiry (no database row refers to them)"
        );
    }
    Ok(())
}

/// Removes a file, logging (not failing) if it cannot: the next start retries.
async fn remove(path: &Path) -> bool {
    match tokio::fs::remove_file(path).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, file = %path.display(), "could not remove a leftover attachment file");
            false
        }
    }
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such attachment (or it expired)");
    let id = AttachmentId::new(id).map_err(|_| not_found())?;
    let size = state
        .store
        .bounded(state.store.attachment_size(&id, now_ms()))
        .await?
        .ok_or_else(not_found)?;
    let file = tokio::fs::File::open(dir(&state).join(id.as_str()))
        .await
        .map_err(|_| not_found())?;
    let event = Event::new(&caller.actor(None), Action::AttachmentFetched)
        .attachment(&id)
        .details(Details {
            size: Some(size),
            ..Details::default()
        });
    state.store.bounded(state.store.record(vec![event])).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_refused_at_the_chunk_past_the_limit_and_when_empty() {
        let mut size = UploadSize::new(10);
        size.add(4).unwrap();
        size.add(0).unwrap();
        size.add(6).unwrap();
        assert_eq!(size.finish().unwrap(), 10);
        assert_eq!(size.add(1).unwrap_err().code, ErrorCode::PayloadTooLarge);

        // Found by the fuzz target `upload_size`: a total past u64::MAX was
        // counted as u64::MAX, and accepted under a limit of u64::MAX.
        let mut huge = UploadSize::new(u64::MAX);
        huge.add(usize::MAX).unwrap();
        assert_eq!(huge.add(1).unwrap_err().code, ErrorCode::PayloadTooLarge);
        let mut edge = UploadSize::new(u64::MAX);
        edge.add(usize::MAX - 1).unwrap();
        edge.add(1).unwrap();
        assert_eq!(edge.finish().unwrap(), u64::MAX);

        let mut empty = UploadSize::new(10);
        empty.add(0).unwrap();
        assert_eq!(empty.finish().unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(
            UploadSize::new(0).add(1).unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
    }
}
