//! # curbside-crypto
//!
//! The end-to-end cryptography of Curbside: everything a clinician's device
//! does so that the server only ever relays ciphertext. No I/O, no async:
//! callers pass bytes, readers/writers and a random generator in.
//!
//! ## Layout
//! - [`primitives`]: checked wrappers over X25519, ChaCha20-Poly1305,
//!   Ed25519, HKDF/HMAC/SHA-256 (the Wycheproof suite runs through these).
//! - [`labels`]: every domain-separation string and constant.
//! - [`identity`]: a device's Ed25519 + X25519 identity.
//! - [`prekeys`]: signed and one-time prekeys, verified prekey bundles.
//! - `x3dh`: the X3DH key agreement (internal; reached through [`ratchet::Session`]).
//! - [`ratchet`]: the Double Ratchet session with bounded out-of-order delivery.
//! - [`message`]: the versioned wire formats of ratchet and prekey messages.
//! - [`fingerprint`]: safety numbers.
//! - [`attachment`]: streaming chunked encryption of files.
//! - [`local_store`]: Argon2id + XChaCha20-Poly1305 sealing of the client's store.
//!
//! SECURITY.md at the repository root specifies every construction.
//!
//! ## Example
//! ```
//! use curbside_crypto::{IdentityKeyPair, Message, OneTimePreKeyPair, PreKeyBundle, PreKeyId, Session, SignedPreKeyPair};
//! use rand_core::OsRng;
//!
//! # fn main() -> Result<(), curbside_crypto::Error> {
//! let alice = IdentityKeyPair::generate(&mut OsRng)?;
//! let bob = IdentityKeyPair::generate(&mut OsRng)?;
//! let spk = SignedPreKeyPair::generate(&bob, PreKeyId(1), 0, &mut OsRng)?;
//! let otk = OneTimePreKeyPair::generate(PreKeyId(7), &mut OsRng);
//! let bundle = PreKeyBundle::new(*bob.public(), *spk.public(), Some(otk.public()))?;
//!
//! let mut to_bob = Session::initiate(&alice, &bundle, &mut OsRng)?;
//! let Message::PreKey(first) = to_bob.encrypt(b"Curbside consult: rash, 3 days")? else { unreachable!() };
//! let (mut to_alice, plaintext) = Session::accept(&bob, &spk, Some(&otk), &first, &mut OsRng)?;
//! assert_eq!(&plaintext[..], b"Curbside consult: rash, 3 days");
//!
//! let reply = to_alice.encrypt(b"send a photo")?;
//! assert_eq!(&to_bob.decrypt(&reply, &mut OsRng)?[..], b"send a photo");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod codec;
mod error;
mod x3dh;

pub mod attachment;
pub mod fingerprint;
pub mod identity;
pub mod labels;
pub mod local_store;
pub mod message;
pub mod prekeys;
pub mod primitives;
pub mod ratchet;

#[cfg(test)]
mod transcript;

pub use error::{DecodeError, Error, Result};
pub use fingerprint::SafetyNumber;
pub use identity::{IdentityKey, IdentityKeyPair};
pub use message::{Message, PreKeyMessage, RatchetMessage};
pub use prekeys::{OneTimePreKey, OneTimePreKeyPair, PreKeyBundle, PreKeyId, SignedPreKey, SignedPreKeyPair};
pub use ratchet::Session;
