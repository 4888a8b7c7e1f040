//! Raw enrollments, as a hostile or broken client would send them: a
//! device's keys ([`RawDevice`]) and an [`EnrollRequest`] whose identity key,
//! proof and signed prekey the test chooses, sent without the client
//! library's checks; and the count of refused enrollments in the audit log.

use curbside_crypto::{IdentityKeyPair, PreKeyId, SignedPreKeyPair};
use curbside_protocol::auth::{enrollment_transcript, EnrollPurpose};
use curbside_protocol::http::EnrollRequest;
use rand_core::OsRng;

use super::db::Db;

/// A new device's identity and first signed prekey.
pub struct RawDevice {
    pub identity: IdentityKeyPair,
    pub signed_prekey: SignedPreKeyPair,
}

impl RawDevice {
    pub fn generate() -> Self {
        let identity = IdentityKeyPair::generate(&mut OsRng).unwrap();
        let signed_prekey = SignedPreKeyPair::generate(&identity, PreKeyId(1), 0, &mut OsRng).unwrap();
        Self {
            identity,
            signed_prekey,
        }
    }

    /// The identity key as the device publishes it.
    pub fn identity_key(&self) -> Vec<u8> {
        self.identity.public().to_bytes().to_vec()
    }

    /// A correct enrollment for `invite` on the test server ("localhost"),
    /// for the purpose its prefix says, as a new clinician.
    pub fn enrollment(&self, invite: &str, npi: &str) -> EnrollRequest {
        self.enrollment_with(
            invite,
            npi,
            &self.identity_key(),
            EnrollPurpose::of_invite(invite),
            "localhost",
        )
    }

    /// An enrollment sending `identity_key` (perhaps tampered with), its
    /// proof signed by this device for `purpose` and `server_name`.
    pub fn enrollment_with(
        &self,
        invite: &str,
        npi: &str,
        identity_key: &[u8],
        purpose: EnrollPurpose,
        server_name: &str,
    ) -> EnrollRequest {
        let proof = enrollment_transcript(purpose, server_name, invite, identity_key);
        EnrollRequest {
            invite: invite.to_owned(),
            display_name: "Dr. Erin Evans".into(),
            npi: Some(npi.to_owned()),
            specialty: Some("Oncology".into()),
            identity_key: identity_key.to_vec().into(),
            signature: self.identity.sign(&proof).unwrap().as_bytes().to_vec().into(),
            signed_prekey: self.signed_prekey.public().to_bytes().into(),
            one_time_prekeys: Vec::new(),
        }
    }
}

/// How many enrollments the audit log records as refused with `code`.
pub async fn refused_enrollments(db: &Db, code: &str) -> i64 {
    use sqlx::{Connection as _, Row as _};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'user.enrolled' AND outcome = 'failure' AND reason = $1",
    )
    .bind(code)
    .fetch_one(&mut c)
    .await
    .unwrap()
    .get(0)
}
