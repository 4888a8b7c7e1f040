//! The size accounting of an attachment upload (`POST /v1/attachments`)
//! over arbitrary chunkings and limits: never panics (a total past
//! `u64::MAX` included), and the verdict is the specification's: refused
//! with `payload_too_large` at the first chunk that takes the total past
//! the limit, with `invalid_request` if the upload is empty, and otherwise
//! the exact size. (The framing of the body itself, `Content-Length` or
//! chunked, is hyper's; the slow and interrupted uploads are tested over
//! TLS in tests/slow_connections.rs.)
#![no_main]

use curbside_protocol::error::ErrorCode;
use curbside_server::fuzzing::upload_size;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    // A small limit, or one at the edge of the type.
    let limit = match head[0] {
        0xff => u64::MAX,
        0xfe => u64::MAX - 1,
        _ => u64::from(u16::from_le_bytes(*head)) % 4096,
    };
    let chunks: Vec<usize> = rest
        .chunks(2)
        .map(|c| match c {
            [0xff, 0xff] => usize::MAX,
            [a, b] => usize::from(u16::from_le_bytes([*a, *b]) % 1024),
            [a] => usize::from(*a),
            _ => 0,
        })
        .collect();

    let mut total: u128 = 0;
    let mut expected = None;
    for len in &chunks {
        total += *len as u128;
        if total > u128::from(limit) {
            expected = Some(Err(ErrorCode::PayloadTooLarge));
            break;
        }
    }
    let expected = expected.unwrap_or_else(|| {
        if total == 0 {
            Err(ErrorCode::InvalidRequest)
        } else {
            Ok(u64::try_from(total).expect("within the limit"))
        }
    });
    let got = upload_size(limit, chunks.iter().copied()).map_err(|e| e.code);
    assert_eq!(got, expected);
});
