//! The request parts an HTTP handler takes — a JSON body, path and query
//! parameters — whose refusals are in the documented error format
//! (`{"code","message"}`, PROTOCOL.md "Errors") instead of axum's plain
//! text, and [`documented`], the last line of defence for any refusal that
//! still is not.
//!
//! A body is refused with `malformed_json` (not JSON, or cut short),
//! `bad_base64` (a binary field), `invalid_request` (a missing field, a
//! wrong type, an unknown value, a duplicate key, no `Content-Type:
//! application/json`) naming the field, or `payload_too_large`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use curbside_protocol::error::ErrorCode;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

use crate::error::ApiError;

/// Most characters of a parser's message repeated to the client.
const MAX_DETAIL: usize = 200;

/// A JSON request body (refused in the error format), or a JSON response.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Json<T>(pub(crate) T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::invalid(
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(body_refused)?;
        parse(&body).map(Self)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Parses a JSON body into `T`, naming the field at fault.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // Text that is not JSON at all is malformed, whatever the type
        // would have refused first (serde stops at the first problem, and
        // reports some type errors as syntax errors).
        if let Err(syntax) = serde_json::from_slice::<IgnoredAny>(body) {
            return ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {}", clip(&syntax.to_string())),
            );
        }
        let path = e.path().to_string();
        let inner = e.into_inner();
        let code = match curbside_protocol::json::error_code(&inner, ErrorCode::InvalidRequest) {
            ErrorCode::MalformedJson => ErrorCode::InvalidRequest,
            code => code,
        };
        let detail = clip(&inner.to_string());
        if path == "." {
            ApiError::new(code, format!("the body is not a valid request: {detail}"))
        } else {
            ApiError::new(code, format!("{path}: {detail}"))
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {}", clip(&e.to_string())),
        )
    })?;
    Ok(value)
}

pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.len() > 5
                    && mime
                        .get(mime.len() - 5..)
                        .is_some_and(|s| s.eq_ignore_ascii_case("+json")))
        })
}

fn body_refused(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body is larger than this endpoint accepts (PROTOCOL.md lists the limits)",
        )
    } else {
        ApiError::invalid("the body could not be read; send it again")
    }
}

/// Path parameters, refused as `invalid_request` naming the parameter.
#[derive(Debug)]
pub(crate) struct Path<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|e: PathRejection| ApiError::invalid(format!("in the path: {}", clip(&e.body_text()))))
    }
}

/// Query parameters, refused as `invalid_request` naming the parameter.
#[derive(Debug)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e: QueryRejection| ApiError::invalid(format!("in the query: {}", clip(&e.body_text()))))
    }
}

/// Answers an unknown path (or a known path with another method).
pub(crate) async fn no_such_endpoint(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "there is no {method} {}: PROTOCOL.md lists the endpoints",
            clip(uri.path())
        ),
    )
}

/// The last line of defence: a refusal that is not in the documented
/// format (one made below our extractors, such as a body limit or a
/// WebSocket upgrade refused by axum) is rewritten into it, with the code
/// its status means. Responses in our format pass unchanged.
///
/// Every answer but the web client's files (which say `no-cache`) is
/// `Cache-Control: no-store`: a browser keeps no API answer (a directory
/// entry names a colleague) in its disk cache.
pub(crate) async fn documented(request: Request, next: axum::middleware::Next) -> Response {
    let mut response = in_documented_format(next.run(request).await);
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn in_documented_format(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ErrorCode::NotFound,
        StatusCode::UNAUTHORIZED => ErrorCode::AuthRequired,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ShuttingDown,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    };
    let mut error = ApiError::new(
        code,
        format!(
            "the request was refused ({})",
            status.canonical_reason().unwrap_or("error")
        ),
    );
    error.cause = Some(format!("undocumented {status} rewritten"));
    let mut rewritten = error.into_response();
    // Keep the status (a 426 stays a 426) and what else the server said.
    *rewritten.status_mut() = status;
    for name in [header::UPGRADE, header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_DETAIL).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        priority: Priority,
        key: curbside_protocol::bytes::Base64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Priority {
        Routine,
    }

    fn refused(body: &str) -> ApiError {
        parse::<Body>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_refusal_names_the_field_and_has_the_code() {
        let e = refused(r#"{"priority":"extreme","key":"AAEC"}"#);
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(
            e.message.starts_with("priority: unknown variant `extreme`"),
            "{}",
            e.message
        );
        let e = refused(r#"{"priority":"routine","key":"!!"}"#);
        assert_eq!(e.code, ErrorCode::BadBase64);
        assert!(e.message.starts_with("key: "), "{}", e.message);
        let e = refused(r#"{"priority":"routine"}"#);
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("missing field `key`"), "{}", e.message);
        assert_eq!(refused(r#"{"priority":"#).code, ErrorCode::MalformedJson);
        assert_eq!(
            refused(r#"{"priority":"routine","key":"AAEC"} x"#).code,
            ErrorCode::MalformedJson
        );
        assert_eq!(refused(r#"[1, "AAEC"]"#).code, ErrorCode::InvalidRequest);
        let e = refused(r#"{"priority":"routine","priority":"routine","key":"AAEC"}"#);
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("duplicate field"), "{}", e.message);
        assert!(parse::<Body>(br#"{"priority":"routine","key":"AAEC"}"#).is_ok());
    }

    #[test]
    fn only_json_content_types_are_json() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/fhir+json"));
        assert!(!with("text/plain"));
        assert!(!with("json"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
