//! How a JSON body that did not parse is reported: one classification for
//! WebSocket frames and HTTP bodies alike.

use crate::bytes::BAD_BASE64;
use crate::error::ErrorCode;

/// The error code for `e`, an error of parsing JSON into a request type:
/// `malformed_json` if the text is not JSON at all (syntax, truncated),
/// `bad_base64` if a binary field is not valid base64, otherwise `invalid`
/// (a missing field, a wrong type, an unknown value): `invalid_frame` for
/// frames, `invalid_request` for HTTP bodies.
#[must_use]
pub fn error_code(e: &serde_json::Error, invalid: ErrorCode) -> ErrorCode {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => ErrorCode::MalformedJson,
        Category::Data if e.to_string().contains(BAD_BASE64) => ErrorCode::BadBase64,
        Category::Data | Category::Io => invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::Base64;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        key: Base64,
        n: u32,
    }

    fn code(text: &str) -> ErrorCode {
        let e = serde_json::from_str::<Body>(text).unwrap_err();
        error_code(&e, ErrorCode::InvalidRequest)
    }

    #[test]
    fn each_kind_of_failure_has_its_code() {
        assert_eq!(code("{\"key\":"), ErrorCode::MalformedJson);
        assert_eq!(code("not json"), ErrorCode::MalformedJson);
        assert_eq!(code(r#"{"key":"!!","n":1}"#), ErrorCode::BadBase64);
        assert_eq!(code(r#"{"key":"AAEC"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"key":"AAEC","n":"one"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"key":"AAEC","n":1,"n":2}"#), ErrorCode::InvalidRequest);
    }
}
