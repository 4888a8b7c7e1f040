//! Parsing of ratchet messages, prekey messages, bundles and identities:
//! never panics, and whatever parses re-encodes to the same bytes.
#![no_main]

use curbside_crypto::{IdentityKey, Message, PreKeyBundle, PreKeyMessage, RatchetMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::from_bytes(data) {
        assert_eq!(m.to_bytes(), data);
    }
    if let Ok(m) = RatchetMessage::from_bytes(data) {
        assert_eq!(m.to_bytes(), data);
    }
    if let Ok(m) = PreKeyMessage::from_bytes(data) {
        assert_eq!(m.to_bytes(), data);
    }
    if let Ok(b) = PreKeyBundle::from_bytes(data) {
        assert_eq!(b.to_bytes(), data);
    }
    if let Ok(k) = IdentityKey::from_bytes(data) {
        assert_eq!(k.to_bytes().as_slice(), data);
    }
});
