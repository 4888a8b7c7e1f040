//! Attachment decryption and local-store opening of arbitrary bytes: errors, never panics.
#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use curbside_crypto::attachment::{AttachmentKey, Decryptor};
use curbside_crypto::local_store::{KdfParams, StoreKey};
use libfuzzer_sys::fuzz_target;

fn store_key() -> &'static StoreKey {
    static K: OnceLock<StoreKey> = OnceLock::new();
    K.get_or_init(|| StoreKey::derive(b"fuzz", [7; 16], KdfParams::INSECURE_FOR_TESTS).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let key = AttachmentKey::from_bytes([3; 32]);
    if let Ok(mut reader) = Decryptor::new(data, &key, Some([0; 32])) {
        let mut sink = Vec::new();
        assert!(reader.read_to_end(&mut sink).is_err());
    }
    let _ = store_key().open(b"ctx", data);
});
