//! Safety numbers: a human-comparable digest of two users' identity keys.
//!
//! Each side's half is computed from its stable user id and the set of its
//! devices' identity keys (sorted, so device order does not matter):
//!
//! ```text
//! h_0 = SHA-256("Curbside v1 safety number" ‖ u32(len(user_id)) ‖ user_id ‖ u32(n) ‖ K_1 ‖ … ‖ K_n)
//! h_i = SHA-256(h_{i-1} ‖ K_1 ‖ … ‖ K_n)          for i = 1 … 5200
//! K_j = Ed25519 key ‖ X25519 key of device j (64 bytes), sorted bytewise
//! ```
//!
//! The first 30 bytes of `h_5200` give six 5-digit groups (each 5-byte
//! big-endian chunk mod 100 000). The two 30-digit halves are ordered
//! numerically so that both users see the same 60 digits, shown as twelve
//! groups of five. Iterating makes a second-preimage search 5200 times dearer.

use subtle::ConstantTimeEq;

use crate::codec::Writer;
use crate::identity::IdentityKey;
use crate::labels;
use crate::primitives::hash::sha256;

/// Number of decimal digits in a safety number.
pub const DIGITS: usize = 60;

/// Sixty decimal digits both users compare.
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber([u8; DIGITS]);

fn half(user_id: &str, keys: &[IdentityKey]) -> [u8; 30] {
    let mut sorted: Vec<[u8; 64]> = keys.iter().map(IdentityKey::key_bytes).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let keys_blob: Vec<u8> = sorted.concat();

    let mut first = Vec::with_capacity(labels::FINGERPRINT.len() + 8 + user_id.len() + keys_blob.len());
    first.put(labels::FINGERPRINT);
    first.put_u32(u32::try_from(user_id.len()).unwrap_or(u32::MAX));
    first.put(user_id.as_bytes());
    first.put_u32(u32::try_from(sorted.len()).unwrap_or(u32::MAX));
    first.put(&keys_blob);
    let mut hash = sha256(&first);

    let mut buf = Vec::with_capacity(32 + keys_blob.len());
    for _ in 0..labels::FINGERPRINT_ITERATIONS {
        buf.clear();
        buf.put(&hash);
        buf.put(&keys_blob);
        hash = sha256(&buf);
    }

    let mut digits = [0u8; 30];
    for (group, chunk) in digits.chunks_exact_mut(5).zip(hash.chunks_exact(5)) {
        let mut value = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) % 100_000;
        for d in group.iter_mut().rev() {
            // value % 10 < 10, so the narrowing is exact.
            *d = b'0' + u8::try_from(value % 10).unwrap_or(0);
            value /= 10;
        }
    }
    digits
}

impl SafetyNumber {
    /// The safety number between two users, each given by their stable user
    /// id and the identity keys of all their devices. Symmetric: both users
    /// compute the same number.
    #[must_use]
    pub fn compute(user_a: &str, keys_a: &[IdentityKey], user_b: &str, keys_b: &[IdentityKey]) -> Self {
        let a = half(user_a, keys_a);
        let b = half(user_b, keys_b);
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        let mut out = [0u8; DIGITS];
        out[..30].copy_from_slice(&first);
        out[30..].copy_from_slice(&second);
        Self(out)
    }

    /// The 60 digits without separators.
    #[must_use]
    pub fn digits(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Compares in constant time with what the other user read out or typed
    /// (spaces and other separators ignored).
    #[must_use]
    pub fn matches(&self, typed: &str) -> bool {
        let typed: Vec<u8> = typed.bytes().filter(u8::is_ascii_digit).collect();
        typed.len() == DIGITS && bool::from(typed.as_slice().ct_eq(&self.0))
    }
}

impl core::fmt::Display for SafetyNumber {
    /// Twelve groups of five digits, in three lines of four groups.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, group) in self.0.chunks(5).enumerate() {
            if i > 0 {
                f.write_str(if i % 4 == 0 { "\n" } else { " " })?;
            }
            f.write_str(core::str::from_utf8(group).unwrap_or_default())?;
        }
        Ok(())
    }
}

impl core::fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SafetyNumber({})", self.digits())
    }
}
