//! Trust in people and devices: `verify` (safety numbers) and `devices`
//! (list, add, revoke this user's devices). Adding a device needs an
//! existing device of the same user (it issues the device invite) or an admin.

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use curbside_client::local::{key_set_fingerprint, Trust};
use curbside_client::{Account, Client};
use curbside_crypto::{IdentityKey, SafetyNumber};
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::http::{CreateInviteRequest, InviteTarget};
use curbside_protocol::ids::{DeviceId, UserId};

use crate::commands::{out, session, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The colleague's user id.
    #[arg(long)]
    with: UserId,
    /// The safety number your colleague reads out to you (or shows you):
    /// if it matches, their current keys are marked verified.
    #[arg(long)]
    confirm: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum DevicesCommand {
    /// This user's devices.
    List {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Approve a new device: prints a one-time device invite to enroll it with.
    Add {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Revoke one of this user's devices: it receives nothing further.
    Revoke {
        #[command(flatten)]
        profile: ProfileArg,
        /// The device number.
        device: u32,
    },
}

/// My identity keys (this device and the other devices I have sessions with).
fn my_keys(account: &Account) -> anyhow::Result<Vec<IdentityKey>> {
    let me = account.user_id()?;
    let mut keys = vec![*account.identity().public()];
    keys.extend(account.identity_keys_of(me));
    Ok(keys)
}

/// Groups of five digits, six to a line.
fn grouped(digits: &str) -> String {
    let groups: Vec<&str> = digits
        .as_bytes()
        .chunks(5)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    groups
        .chunks(6)
        .map(|line| line.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let (profile, mut account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    if account.identity_keys_of(&args.with).is_empty() {
        // No session yet: fetch the colleague's bundles (verifying their signatures).
        let mut client = Client::connect(account).await?;
        let opened = client.open_sessions(&args.with).await;
        account = client.close().await;
        profile.save(&account)?;
        opened.with_context(|| format!("fetching {}'s keys", args.with))?;
    }
    let theirs = account.identity_keys_of(&args.with);
    if theirs.is_empty() {
        bail!("{} has no current device", args.with);
    }
    let me = account.user_id()?.clone();
    let number = SafetyNumber::compute(me.as_str(), &my_keys(&account)?, args.with.as_str(), &theirs);
    let fingerprint = key_set_fingerprint(&theirs);
    let contact = state.contacts.entry(args.with.clone()).or_default();
    let Some(typed) = args.confirm else {
        let trust = match contact.trust(&fingerprint) {
            Trust::Verified => "verified",
            Trust::Unverified => "not verified",
            Trust::Changed => "KEYS CHANGED since you verified: compare again",
        };
        return out(&format!(
            "Safety number with {} ({} device{}, {trust}):\n{}\nCompare it with your colleague's, in person or on a call, then run\n  curbside verify --with {} --confirm '<their number>'",
            args.with,
            theirs.len(),
            if theirs.len() == 1 { "" } else { "s" },
            grouped(number.digits()),
            args.with
        ));
    };
    if !number.matches(&typed) {
        bail!(
            "the safety numbers differ: do not trust this conversation until you know why \
             (a new device, a reinstall, or someone in the middle)"
        );
    }
    contact.verified_keys = Some(fingerprint);
    profile.save_state(&state)?;
    out(&format!("Verified {}: their current keys match.", args.with))
}

pub(crate) async fn devices(cmd: DevicesCommand) -> anyhow::Result<()> {
    match cmd {
        DevicesCommand::List { profile } => {
            let (api, token) = session(&profile).await?;
            let (_, account) = Profile::open(&profile.profile)?;
            let mine = account.address()?.device_id;
            let rows: Vec<String> = api
                .own_devices(&token)
                .await?
                .iter()
                .map(|d| {
                    format!(
                        "device {}{}  enrolled {}{}",
                        d.device_id,
                        if d.device_id == mine { " (this one)" } else { "" },
                        format_time_ms(d.created_at),
                        d.revoked_at
                            .map(|t| format!("  REVOKED {}", format_time_ms(t)))
                            .unwrap_or_default()
                    )
                })
                .collect();
            out(&rows.join("\n"))
        }
        DevicesCommand::Add { profile } => {
            let (api, token) = session(&profile).await?;
            let (_, account) = Profile::open(&profile.profile)?;
            let req = CreateInviteRequest {
                target: InviteTarget::NewDevice {
                    user_id: account.user_id()?.clone(),
                },
                expires_in_secs: None,
            };
            let invite = api.create_device_invite(&token, &req).await?;
            out(&invite.invite)
        }
        DevicesCommand::Revoke { profile, device } => {
            let (api, token) = session(&profile).await?;
            api.revoke_own_device(&token, DeviceId(device)).await?;
            out(&format!("Revoked device {device}: it receives nothing further."))
        }
    }
}
