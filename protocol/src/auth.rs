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
//!
//! Enrolling, a device signs [`enrollment_transcript`] instead: the proof
//! of possession of its identity key, bound to the server, the invite and
//! the purpose (a new user or a new device).

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

/// The domain-separation prefix of the enrollment proof. No other message a
/// device's Ed25519 key signs begins with it (the authentication transcript's
/// [`LABEL`], the identity and signed-prekey labels of `curbside-crypto`).
pub const ENROLL_LABEL: &[u8] = b"Curbside v1 device enrollment";

/// The prefix of a device invite (`POST /v1/devices/invites`, or an admin's
/// invite for a new device of a user). Every other invite, and the bootstrap
/// token, enrolls a new user.
pub const DEVICE_INVITE_PREFIX: &str = "cbs_dev_";

/// What an enrollment is for: the purpose byte of the enrollment proof. The
/// invite decides it (see [`EnrollPurpose::of_invite`]), so a client needs no
/// other input than the invite it was handed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnrollPurpose {
    /// A new user's first device (an invite for a new user, or the bootstrap token).
    NewUser = 1,
    /// Another device of an existing user (a device invite).
    NewDevice = 2,
}

impl EnrollPurpose {
    /// The purpose an invite serves: [`EnrollPurpose::NewDevice`] for one
    /// beginning with [`DEVICE_INVITE_PREFIX`], [`EnrollPurpose::NewUser`]
    /// for any other. The server checks the stored invite agrees.
    #[must_use]
    pub fn of_invite(invite: &str) -> Self {
        if invite.starts_with(DEVICE_INVITE_PREFIX) {
            Self::NewDevice
        } else {
            Self::NewUser
        }
    }
}

/// What a device signs with its Ed25519 identity key to prove, when it
/// enrolls, that it holds the key — for this server, this invite and this
/// purpose only:
///
/// ```text
/// ENROLL_LABEL ‖ u8(purpose) ‖ u16(len(server_name)) ‖ server_name
///              ‖ SHA-256(invite)(32) ‖ identity_key(128)
/// ```
///
/// The invite's hash binds the proof to one single-use invite (a copied
/// identity key and proof are useless with any other); the server name to
/// one deployment (the name the client is configured with, which is the
/// server's configured `server_name` and its TLS name, not the address it
/// dials); the purpose separates a new user from a new device. Integers are
/// big-endian.
#[must_use]
pub fn enrollment_transcript(
    purpose: EnrollPurpose,
    server_name: &str,
    invite: &str,
    identity_key: &[u8],
) -> Vec<u8> {
    let invite_hash = ring::digest::digest(&ring::digest::SHA256, invite.as_bytes());
    let mut out = Vec::with_capacity(ENROLL_LABEL.len() + 3 + server_name.len() + 32 + identity_key.len());
    out.extend_from_slice(ENROLL_LABEL);
    out.push(purpose as u8);
    // Server names are far shorter than 64 KiB.
    out.extend_from_slice(&u16::try_from(server_name.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(server_name.as_bytes());
    out.extend_from_slice(invite_hash.as_ref());
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

    #[test]
    fn enrollment_transcript_layout() {
        let t = enrollment_transcript(EnrollPurpose::NewDevice, "ab", "cbs_dev_x", &[7; 128]);
        let mut expected = b"Curbside v1 device enrollment".to_vec();
        expected.extend_from_slice(&[2, 0, 2, b'a', b'b']);
        // SHA-256("cbs_dev_x")
        expected.extend_from_slice(
            &hex::decode("c169435be3ededfd8100e3af46762109fdf88fd626738fbfeb17d0c22777c9b0").unwrap(),
        );
        expected.extend_from_slice(&[7; 128]);
        assert_eq!(t, expected);
    }

    #[test]
    fn enrollment_transcript_separates_purpose_server_and_invite() {
        let base = enrollment_transcript(EnrollPurpose::NewUser, "ab", "cbs_inv_x", &[7; 128]);
        for other in [
            enrollment_transcript(EnrollPurpose::NewDevice, "ab", "cbs_inv_x", &[7; 128]),
            enrollment_transcript(EnrollPurpose::NewUser, "abc", "cbs_inv_x", &[7; 128]),
            enrollment_transcript(EnrollPurpose::NewUser, "ab", "cbs_inv_y", &[7; 128]),
            enrollment_transcript(EnrollPurpose::NewUser, "ab", "cbs_inv_x", &[8; 128]),
        ] {
            assert_ne!(base, other);
        }
        // No label of a message the device key signs is a prefix of another.
        assert!(!ENROLL_LABEL.starts_with(LABEL) && !LABEL.starts_with(ENROLL_LABEL));
    }

    #[test]
    fn purpose_of_invite() {
        assert_eq!(EnrollPurpose::of_invite("cbs_dev_abc"), EnrollPurpose::NewDevice);
        assert_eq!(EnrollPurpose::of_invite("cbs_inv_abc"), EnrollPurpose::NewUser);
        assert_eq!(EnrollPurpose::of_invite("cbs_boot_abc"), EnrollPurpose::NewUser);
        assert_eq!(EnrollPurpose::of_invite(""), EnrollPurpose::NewUser);
    }
}
