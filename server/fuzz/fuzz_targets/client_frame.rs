//! Every client frame type through the protocol crate's parser, as the
//! connection reads a text frame (before and after authentication): never
//! panics; a refusal has one of the parser's documented codes and the
//! request id only if it is a valid one; a frame that parses re-serialises
//! to JSON that parses to the same frame, with the same request id.
#![no_main]

use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{parse_client_frame, ClientFrame, CLIENT_FRAME_TYPES};
use curbside_protocol::ids::RequestId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A WebSocket text message is UTF-8 (tungstenite refuses one that is not).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_client_frame(text) {
        Ok(frame) => {
            let json = serde_json::to_string(&frame).expect("a frame serialises");
            let value: serde_json::Value = serde_json::from_str(&json).expect("its JSON parses");
            let kind = value["type"].as_str().expect("it has a type");
            assert!(CLIENT_FRAME_TYPES.contains(&kind), "{kind}");
            let again = parse_client_frame(&json).expect("a re-serialised frame parses");
            assert_eq!(again, frame);
            assert_eq!(again.id(), frame.id());
            if let ClientFrame::Auth { .. } | ClientFrame::Ack { .. } = frame {
                assert!(frame.id().is_none());
            } else {
                assert!(frame.id().is_some());
            }
        }
        Err(e) => {
            assert!(
                matches!(
                    e.code,
                    ErrorCode::MalformedJson
                        | ErrorCode::InvalidFrame
                        | ErrorCode::UnknownType
                        | ErrorCode::BadBase64
                ),
                "undocumented code {:?} for a frame",
                e.code
            );
            assert!(!e.message.is_empty());
            if let Some(id) = &e.id {
                assert!(RequestId::new(id.as_str()).is_ok());
            }
        }
    }
});
