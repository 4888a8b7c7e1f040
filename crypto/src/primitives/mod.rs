//! Thin, checked wrappers over the primitives DESIGN.md prescribes.
//!
//! Everything above this module (X3DH, the ratchet, attachments, the local
//! store) uses only these wrappers, and the Wycheproof suite tests them, so
//! the checks that matter (all-zero X25519 output refused, strict Ed25519
//! verification, bounded HKDF output, constant-time comparison) sit in one place.
//!
//! | primitive | crate |
//! | --- | --- |
//! | X25519 | `x25519-dalek` |
//! | ChaCha20-Poly1305, XChaCha20-Poly1305 | `chacha20poly1305` |
//! | Ed25519, HKDF-SHA256, HMAC-SHA256, SHA-256 | `ring` |
//! | constant-time equality | `subtle` |

pub mod aead;
pub mod hash;
pub mod sign;
pub mod x25519;

use subtle::ConstantTimeEq;

/// Compares two byte strings in time that depends only on their lengths.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
