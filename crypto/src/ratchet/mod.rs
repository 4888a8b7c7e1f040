//! The Double Ratchet (Signal's specification, revision 4), with Curbside's labels.
//!
//! ```text
//! KDF_RK(rk, dh)  = HKDF-SHA256(salt = rk, IKM = dh, info = "Curbside v1 ratchet root", L = 64)
//!                   → (new root key = bytes 0..32, new chain key = bytes 32..64)
//! KDF_CK(ck)      = (next chain key = HMAC-SHA256(ck, 0x02), message key seed = HMAC-SHA256(ck, 0x01))
//! message keys    = HKDF-SHA256(salt = 0^32, IKM = seed, info = "Curbside v1 message keys", L = 44)
//!                   → (ChaCha20-Poly1305 key = bytes 0..32, nonce = bytes 32..44)
//! ENCRYPT         = ChaCha20-Poly1305(key, nonce, plaintext, AD = session AD ‖ encoded header)
//! ```
//!
//! Bounds (a peer cannot make us store or compute more than this):
//! - [`MAX_SKIP`]: a message may skip at most this many keys in one chain
//!   (in the current chain, or in the previous chain via its `pn`); a message
//!   that would skip more is rejected and the session is unchanged.
//! - [`MAX_SKIPPED_KEYS`]: at most this many skipped message keys are kept
//!   per session; beyond that the oldest are evicted (those messages can no
//!   longer be decrypted).
//!
//! - [`MAX_PREVIOUS_CHAINS`]: the remote ratchet keys of this many earlier
//!   receiving chains are remembered, so that a replayed message of such a
//!   chain is refused as a duplicate without any DH computation.
//!
//! ## Layout
//! One file per concept of the ratchet:
//! - `session.rs`: [`Session`], the two halves and the root key put together
//!   (X3DH start as initiator or responder, encrypt, decrypt, the DH step).
//! - `root_key.rs`: the root key and KDF_RK.
//! - `chain_key.rs`: a chain key and KDF_CK, and skipping ahead (bounded by [`MAX_SKIP`]).
//! - `message_key.rs`: the single-use key and nonce of one message.
//! - `ratchet_key.rs`: our ratchet key pair and the remote party's ratchet
//!   public key, as distinct types.
//! - `sending_chain.rs`: our ratchet key, its chain, and `pn`.
//! - `receiving_chains.rs`: the remote party's current chain, its earlier
//!   ratchet keys and the skipped message keys.
//! - `skipped.rs`: the bounded store of skipped message keys.
//! - `encoding.rs`: the versioned, sealed-only persisted form of a session.
//!
//! Every message key is used once: the chain moves past it, and a skipped
//! key is deleted when used. Decryption is transactional: a message that
//! fails to decrypt leaves the session exactly as it was.

mod chain_key;
mod encoding;
mod message_key;
mod ratchet_key;
mod receiving_chains;
mod root_key;
mod sending_chain;
mod session;
mod skipped;

pub use session::{Role, Session};

/// The largest number of message keys one message may make us skip in a single chain.
pub const MAX_SKIP: u32 = 1000;

/// The largest number of skipped message keys a session stores (oldest evicted first).
pub const MAX_SKIPPED_KEYS: usize = 2000;

/// How many earlier remote ratchet keys a session remembers.
pub const MAX_PREVIOUS_CHAINS: usize = 8;
