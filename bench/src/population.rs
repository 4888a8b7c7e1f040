//! Synthetic clinicians, enrolled through the real HTTPS API: an admin from
//! the bootstrap token, then one invite, one enrollment (identity key,
//! signed prekey, proof of possession) and one verification per clinician.
//! The baseline relay needs no enrollment: its clinicians get made-up ids.

use anyhow::Context as _;
use curbside_client::api::Api;
use curbside_client::{Account, UserDetails};
use curbside_crypto::{IdentityKeyPair, PreKeyId, SignedPreKeyPair};
use curbside_protocol::auth::{enrollment_transcript, EnrollPurpose};
use curbside_protocol::http::{CreateInviteRequest, EnrollRequest, InviteTarget, Role};
use curbside_protocol::ids::{Address, DeviceId, UserId};
use futures_util::{StreamExt as _, TryStreamExt as _};
use rand_core::OsRng;

use crate::node::Target;

/// One enrolled device of a synthetic clinician.
pub struct Clinician {
    /// Who.
    pub address: Address,
    /// Signs the WebSocket authentication transcript.
    pub identity: IdentityKeyPair,
}

/// The admin who invites and verifies.
pub struct Admin {
    api: Api,
    token: String,
}

/// A valid NPI (Luhn check digit over the 80840 prefix) for clinician `i`.
fn npi(i: usize) -> String {
    let base = format!("{:09}", 100_000_000 + i % 800_000_000);
    (0..10)
        .map(|d| format!("{base}{d}"))
        .find(|candidate| curbside_protocol::npi::is_valid(candidate))
        .unwrap_or_else(|| format!("{base}0"))
}

async fn enroll_one(
    api: &Api,
    target: &Target,
    invite: String,
    name: String,
    npi: Option<String>,
) -> anyhow::Result<Clinician> {
    let identity = IdentityKeyPair::generate(&mut OsRng)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let signed_prekey = SignedPreKeyPair::generate(&identity, PreKeyId(1), now, &mut OsRng)?;
    let identity_key = identity.public().to_bytes();
    let signature = identity.sign(&enrollment_transcript(
        EnrollPurpose::of_invite(&invite),
        &target.server_name,
        &invite,
        &identity_key,
    ))?;
    let clinician = npi.is_some();
    let response = api
        .enroll(&EnrollRequest {
            invite,
            display_name: name,
            npi,
            specialty: clinician.then(|| "Internal Medicine".to_owned()),
            identity_key: identity_key.to_vec().into(),
            signature: signature.as_bytes().to_vec().into(),
            signed_prekey: signed_prekey.public().to_bytes().into(),
            one_time_prekeys: Vec::new(),
        })
        .await?;
    Ok(Clinician {
        address: Address {
            user_id: response.user_id,
            device_id: response.device_id,
        },
        identity,
    })
}

impl Admin {
    /// Enrolls the admin with the bootstrap token and opens a session.
    pub async fn bootstrap(target: &Target, token: &str) -> anyhow::Result<Self> {
        let api = Api::new(&target.server_info())?;
        let admin = enroll_one(&api, target, token.to_owned(), "Bench Admin".into(), None)
            .await
            .context("enrolling the admin with the bootstrap token")?;
        let token = api
            .login(&admin.address.user_id, admin.address.device_id, &admin.identity)
            .await?;
        Ok(Self { api, token })
    }

    async fn invite(&self) -> anyhow::Result<String> {
        Ok(self
            .api
            .create_invite(
                &self.token,
                &CreateInviteRequest {
                    target: InviteTarget::NewUser {
                        role: Role::Clinician,
                    },
                    expires_in_secs: None,
                },
            )
            .await?
            .invite)
    }

    /// Enrolls and verifies `n` real accounts with the client library (100
    /// one-time prekeys each, as the app does).
    pub async fn accounts(&self, target: &Target, n: usize, first: usize) -> anyhow::Result<Vec<Account>> {
        futures_util::stream::iter(first..first + n)
            .map(|i| async move {
                let profile = UserDetails {
                    display_name: format!("Dr. Synthetic {i}"),
                    npi: Some(npi(i)),
                    specialty: Some("Internal Medicine".into()),
                };
                let account =
                    curbside_client::enroll(target.server_info(), &self.invite().await?, &profile).await?;
                let user = &account.address.as_ref().context("enrolled")?.user_id;
                self.api.verify_user(&self.token, user).await?;
                Ok::<_, anyhow::Error>(account)
            })
            .buffered(8)
            .try_collect()
            .await
    }

    /// Enrolls and verifies `n` clinicians, 16 at a time.
    pub async fn clinicians(
        &self,
        target: &Target,
        n: usize,
        first: usize,
    ) -> anyhow::Result<Vec<Clinician>> {
        let concurrency = 16;
        futures_util::stream::iter(first..first + n)
            .map(|i| async move {
                let invite = self.invite().await?;
                let c = enroll_one(
                    &self.api,
                    target,
                    invite,
                    format!("Dr. Synthetic {i}"),
                    Some(npi(i)),
                )
                .await?;
                self.api.verify_user(&self.token, &c.address.user_id).await?;
                Ok::<_, anyhow::Error>(c)
            })
            .buffered(concurrency)
            .try_collect()
            .await
    }
}

/// Clinicians for the baseline relay, which checks nothing.
pub fn unenrolled(n: usize, first: usize) -> anyhow::Result<Vec<Clinician>> {
    (first..first + n)
        .map(|i| {
            Ok(Clinician {
                address: Address {
                    user_id: UserId::new(format!("u_baseline_{i}"))?,
                    device_id: DeviceId(1),
                },
                identity: IdentityKeyPair::generate(&mut OsRng)?,
            })
        })
        .collect()
}
