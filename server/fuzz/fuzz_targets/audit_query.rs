//! The query string of `GET /v1/audit/entries` and `/v1/audit/export`
//! through the query extractor and the audit parameter check, as the
//! endpoint reads it. Never panics; a refusal is `invalid_request` (400)
//! with a message and no internal cause.
#![no_main]

use curbside_protocol::error::ErrorCode;
use curbside_server::fuzzing::audit_query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Err(e)) = audit_query(query) {
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{}", e.message);
        assert!(!e.message.is_empty());
        assert!(e.cause.is_none());
    }
});
