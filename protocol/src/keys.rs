//! The lengths of the key material a device publishes, as it travels (the
//! server checks them; `curbside-crypto` produces them, and the client's
//! tests check that the two agree).

/// A device identity key: Ed25519 public key, X25519 public key, and the
/// Ed25519 signature over the X25519 key.
pub const IDENTITY_KEY_LEN: usize = 32 + 32 + 64;
/// A signed prekey: its id (u32), the X25519 public key, the signature.
pub const SIGNED_PREKEY_LEN: usize = 4 + 32 + 64;
/// A one-time prekey's X25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
