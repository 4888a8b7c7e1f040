//! The clinicians' web client (`web/`), served at `/`: the files of
//! `web/public/` (built by `npm run bundle` and committed, so that serving
//! it never needs Node), embedded in the binary at compile time, or read
//! from a directory on each request with `web_dir` (`serve --web-dir`, for
//! developing the client without rebuilding the server).
//!
//! Every file is sent with a strict Content Security Policy: scripts,
//! styles, the manifest and the service worker only from this origin, no
//! inline code, connections only back to this origin, no framing. Files
//! are revalidated on every load (`no-cache` with an `ETag`), so a new
//! server version's client is never mixed with an old cached one.

use std::path::{Component, Path};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::AppState;

#[derive(rust_embed::RustEmbed)]
#[folder = "../web/public/"]
struct Embedded;

/// The policy of every page and file of the web client.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; manifest-src 'self'; \
worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Answers a `GET`/`HEAD` of a web client file; anything else (an API path
/// that does not exist, another method, a file that is not there) is the
/// documented `not_found`.
pub(crate) async fn serve(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    let found = if method == Method::GET || method == Method::HEAD {
        match file_name(path) {
            Some(name) => match &state.config.web_dir {
                Some(dir) => from_dir(dir, &name).await,
                None => Embedded::get(&name).map(|f| (f.data.into_owned(), etag(&f.metadata.sha256_hash()))),
            },
            None => None,
        }
    } else {
        None
    };
    let Some((bytes, etag)) = found else {
        return super::no_such_endpoint(method, uri).await.into_response();
    };
    let name = file_name(path).unwrap_or_default();
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(bytes))
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    response
}

/// The file a path names: `/` is `index.html`; every segment a plain
/// name (no `..`, no hidden files, no backslashes), under `/v1/` never.
fn file_name(path: &str) -> Option<String> {
    let name = path.strip_prefix('/')?;
    if name.is_empty() {
        return Some("index.html".to_owned());
    }
    if name.starts_with("v1/") || name.len() > 200 {
        return None;
    }
    let plain = name.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    plain.then(|| name.to_owned())
}

async fn from_dir(dir: &Path, name: &str) -> Option<(Vec<u8>, String)> {
    let path = dir.join(name);
    if !path
        .components()
        .skip(dir.components().count())
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let bytes = tokio::fs::read(&path).await.ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let etag = etag(digest.as_ref());
    Some((bytes, etag))
}

fn etag(sha256: &[u8]) -> String {
    format!("\"{}\"", hex::encode(&sha256[..16]))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn only_plain_names_under_the_root_are_files() {
        assert_eq!(file_name("/").as_deref(), Some("index.html"));
        assert_eq!(file_name("/assets/app.js").as_deref(), Some("assets/app.js"));
        for bad in [
            "/../etc/passwd",
            "/assets/../../x",
            "/.git/config",
            "/a//b",
            "/v1/ws",
            "/a\\b",
            "/%2e%2e/x",
        ] {
            assert_eq!(file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_built_client_is_embedded() {
        assert!(super::Embedded::get("index.html").is_some());
    }
}
