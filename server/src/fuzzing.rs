//! Entry points for the fuzz targets in `server/fuzz/` (SECURITY.md,
//! "Fuzzing"): the server's input checks that need no storage and no
//! connection, each exactly the code an endpoint runs. Hidden from the
//! documentation and not a supported interface: nothing but the fuzz
//! targets calls it.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, HeaderValue, Request, Uri};
use curbside_protocol::frames::{Envelope, ErrorDetails};
use curbside_protocol::ids::{Address, DeviceId, UserId};
use futures_util::FutureExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// An HTTP request body, parsed as every JSON endpoint parses it
/// (`http::extract::Json`, after its `Content-Type` check).
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::http::extract::parse(body)
}

/// Whether a `Content-Type` header value is taken as JSON; `None` if the
/// bytes are not a header value at all (hyper refuses those before us).
#[must_use]
pub fn is_json_content_type(value: &[u8]) -> Option<bool> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, value);
    Some(crate::http::extract::is_json(&headers))
}

/// The query string of `GET /v1/audit/entries` (and `/export`), read as
/// the endpoint reads it: the query extractor into parameters, then the
/// audit parameter check. `None` if `query` cannot be part of a URI at all
/// (hyper refuses those before us).
#[must_use]
pub fn audit_query(query: &str) -> Option<Result<(), ApiError>> {
    let uri: Uri = format!("/v1/audit/entries?{query}").parse().ok()?;
    let (mut parts, ()) = Request::builder().uri(uri).body(()).ok()?.into_parts();
    let extracted =
        crate::http::extract::Query::<HashMap<String, String>>::from_request_parts(&mut parts, &())
            .now_or_never()?;
    Some(
        extracted
            .and_then(|crate::http::extract::Query(params)| crate::http::audit::parse(&params).map(|_| ())),
    )
}

/// An attachment upload's size accounting (`POST /v1/attachments`) over
/// chunks of these lengths, at most `limit` bytes: the size, or the refusal
/// at the first chunk past the limit, or of an empty upload.
pub fn upload_size(limit: u64, chunks: impl IntoIterator<Item = usize>) -> Result<u64, ApiError> {
    let mut size = crate::http::attachments::UploadSize::new(limit);
    for len in chunks {
        size.add(len)?;
    }
    size.finish()
}

/// A `send` frame's validation before its commit, `current` standing for
/// the current devices of the users that exist (what the store answers):
/// refused as the connection would refuse it, with its details.
pub fn check_send(
    sender: &Address,
    recipients: &[Envelope],
    max_recipients: usize,
    current: HashMap<UserId, Vec<DeviceId>>,
) -> Result<(), (ApiError, Option<ErrorDetails>)> {
    crate::ws::cmd::send::check_without_storage(sender, recipients, max_recipients, current)
}
