//! What a device signs to authenticate.
//!
//! ```text
//! transcript = "Curbside v1 auth" ‖ u8(purpose) ‖ u16(len(server_name)) ‖ server_name
//!              ‖ u16(len(user_id)) ‖ user_id ‖ u32(device_id) ‖ challenge(32)
//! ```
//!
//! `purpose` separates a WebSocket login (1) from an HTTP session-token
//! request (2), so that a signature for one is useless for the other. The
//! server name binds the signature to one deployment; the fresh challenge
//! binds it to one connection. Integers are big-endian.

use crate::ids::{DeviceId, UserId};

/// Length of a server challenge.
pub const CHALLENGE_LEN: usize = 32;

/// The domain-separation prefix of the transcript.
pub const LABEL: &[u8] = b"Curbside v1 auth";

/// What the signature authorises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Open an authenticated WebSocket connection.
    WebSocket = 1,
    /// Obtain a session token for the HTTP APIs.
    HttpSession = 2,
}

/// The exact bytes the device signs with its Ed25519 identity key.
#[must_use]
pub fn transcript(
    purpose: Purpose,
    server_name: &str,
    user_id: &UserId,
    device_id: DeviceId,
    challenge: &[u8; CHALLENGE_LEN],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABEL.len() + 1 + 4 + server_name.len() + user_id.as_str().len() + 36);
    out.extend_from_slice(LABEL);
    out.push(purpose as u8);
    for field in [server_name.as_bytes(), user_id.as_str().as_bytes()] {
        // Server names and user ids are far shorter than 64 KiB.
        out.extend_from_slice(&u16::try_from(field.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(field);
    }
    out.extend_from_slice(&device_id.0.to_be_bytes());
    out.extend_from_slice(challenge);
    out
}

/// What a device signs to prove it holds its identity key when enrolling:
/// `"Curbside v1 enroll" ‖ u16(len(server_name)) ‖ server_name ‖ identity key(128)`.
#[must_use]
pub fn enrollment_transcript(server_name: &str, identity_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + server_name.len() + identity_key.len());
    out.extend_from_slice(b"Curbside v1 enroll");
    out.extend_from_slice(&u16::try_from(server_name.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(server_name.as_bytes());
    out.extend_from_slice(identity_key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_layout() {
        let t = transcript(
            Purpose::WebSocket,
            "ab",
            &UserId::new("u").unwrap(),
            DeviceId(2),
            &[9; 32],
        );
        let mut expected = b"Curbside v1 auth".to_vec();
        expected.extend_from_slice(&[1, 0, 2, b'a', b'b', 0, 1, b'u', 0, 0, 0, 2]);
        expected.extend_from_slice(&[9; 32]);
        assert_eq!(t, expected);
        let h = transcript(
            Purpose::HttpSession,
            "ab",
            &UserId::new("u").unwrap(),
            DeviceId(2),
            &[9; 32],
        );
        assert_ne!(t, h);
    }
}
