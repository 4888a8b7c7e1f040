//! Every domain-separation string and protocol constant, in one place.
//!
//! SECURITY.md reproduces this table; a change to any value here is a new
//! protocol version and must change the `v1` in the label.

/// Signed by a device's Ed25519 key, followed by its X25519 identity public key.
pub const IDENTITY_SIGNATURE: &[u8] = b"Curbside v1 identity agreement key";
/// Signed by a device's Ed25519 key, followed by the prekey id (u32 BE) and its public key.
pub const SIGNED_PREKEY_SIGNATURE: &[u8] = b"Curbside v1 signed prekey";
/// HKDF info for the X3DH shared secret.
pub const X3DH_INFO: &[u8] = b"Curbside v1 X3DH";
/// Prefix of the session associated data (followed by both identities).
pub const ASSOCIATED_DATA: &[u8] = b"Curbside v1 session AD";
/// HKDF info for KDF_RK (root key ratchet step).
pub const ROOT_KDF_INFO: &[u8] = b"Curbside v1 ratchet root";
/// HKDF info expanding a message key seed into an AEAD key and nonce.
pub const MESSAGE_KEY_INFO: &[u8] = b"Curbside v1 message keys";
/// HMAC input deriving a message key seed from a chain key.
pub const CHAIN_MESSAGE_SEED: u8 = 0x01;
/// HMAC input deriving the next chain key from a chain key.
pub const CHAIN_NEXT: u8 = 0x02;
/// Prefix of the data hashed for a safety number.
pub const FINGERPRINT: &[u8] = b"Curbside v1 safety number";
/// Iterations of SHA-256 per safety-number half.
pub const FINGERPRINT_ITERATIONS: u32 = 5200;
/// Magic bytes opening an encrypted attachment.
pub const ATTACHMENT_MAGIC: &[u8; 4] = b"CBAT";
/// Magic bytes opening a sealed local-store blob.
pub const LOCAL_STORE_MAGIC: &[u8; 4] = b"CBLS";
/// 32 bytes of 0xFF prepended to the X3DH input key material (the X3DH spec's F).
pub const X3DH_F: [u8; 32] = [0xFF; 32];
/// The X3DH HKDF salt: 32 zero bytes.
pub const X3DH_SALT: [u8; 32] = [0; 32];
/// The message-key HKDF salt: 32 zero bytes.
pub const MESSAGE_KEY_SALT: [u8; 32] = [0; 32];
