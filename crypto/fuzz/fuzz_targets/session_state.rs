//! Deserialization of persisted state: never panics; a parsed session
//! re-encodes to the same bytes and can still be used without panicking.
#![no_main]

use curbside_crypto::{IdentityKeyPair, OneTimePreKeyPair, Session, SignedPreKeyPair};
use libfuzzer_sys::fuzz_target;
use rand_chacha::rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut s) = Session::from_bytes(data) {
        assert_eq!(s.to_bytes().as_slice(), data);
        let _ = s.encrypt(b"fuzz");
    }
    if let Ok(id) = IdentityKeyPair::from_bytes(data) {
        let _ = SignedPreKeyPair::from_bytes(&id, data);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0);
        let _ = SignedPreKeyPair::generate(&id, curbside_crypto::PreKeyId(1), 0, &mut rng);
    }
    let _ = OneTimePreKeyPair::from_bytes(data);
});
