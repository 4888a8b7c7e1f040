//! Every HTTP JSON request body type through the server's body parser (the
//! one every JSON endpoint uses), and the `Content-Type` check before it.
//! Never panics; a refusal has a documented code (`malformed_json`,
//! `bad_base64` or `invalid_request`, each a 400), a message and no internal
//! cause; a body that parses re-serialises to JSON that parses again to
//! the same value.
#![no_main]

use curbside_protocol::error::ErrorCode;
use curbside_protocol::http::{CreateInviteRequest, EnrollRequest, GrantRoleRequest, SessionRequest};
use curbside_protocol::referral::{CreateReferral, TransitionRequest};
use curbside_server::fuzzing::{is_json_content_type, parse_body};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn body<T: DeserializeOwned + Serialize>(data: &[u8]) {
    match parse_body::<T>(data) {
        Ok(value) => {
            let json = serde_json::to_vec(&value).expect("a body serialises");
            let again = parse_body::<T>(&json).expect("a re-serialised body parses");
            assert_eq!(serde_json::to_vec(&again).expect("serialises"), json);
        }
        Err(e) => {
            assert!(
                matches!(
                    e.code,
                    ErrorCode::MalformedJson | ErrorCode::BadBase64 | ErrorCode::InvalidRequest
                ),
                "undocumented code {:?} for a body",
                e.code
            );
            assert_eq!(e.code.http_status(), 400);
            assert!(!e.message.is_empty());
            assert!(e.cause.is_none(), "a refused body has no internal cause");
        }
    }
}

/// The rule PROTOCOL.md states: `application/json` or any `+json` type,
/// case-insensitive, parameters after `;` ignored.
fn json_type(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value).to_ascii_lowercase();
    let mime = text.split(';').next().unwrap_or_default().trim();
    mime == "application/json" || (mime.len() > 5 && mime.ends_with("+json"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => body::<EnrollRequest>(rest),
        1 => body::<SessionRequest>(rest),
        2 => body::<CreateInviteRequest>(rest),
        3 => body::<GrantRoleRequest>(rest),
        4 => body::<CreateReferral>(rest),
        5 => body::<TransitionRequest>(rest),
        _ => {
            if let Some(is_json) = is_json_content_type(rest) {
                // Header values are visible ASCII (and obs-text): the oracle's
                // lossy decoding agrees with the server's `to_str` on ASCII.
                if rest.is_ascii() {
                    assert_eq!(is_json, json_type(rest), "{:?}", String::from_utf8_lossy(rest));
                } else {
                    assert!(!is_json, "a non-ASCII value is not read as JSON");
                }
            }
        }
    }
});
