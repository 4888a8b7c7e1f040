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

use crate::commands::{login, out, ProfileArg};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The colleague: a name (or part of one), an NPI or a user id.
    #[arg(long)]
    with: String,
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
        /// Revoke even this device or the last active one (which leaves
        /// this account with no device: only an administrator's device
        /// invite lets it back in).
        #[arg(long)]
        yes: bool,
    },
}

/// The safety number with `user` over the identity keys known for both
/// sides (this device, my other devices and theirs, from our sessions), or
/// `None` if no key of theirs is known yet.
pub(crate) fn safety_number(account: &Account, user: &UserId) -> anyhow::Result<Option<SafetyNumber>> {
    let theirs: Vec<IdentityKey> = account.identity_keys_of(user);
    if theirs.is_empty() {
        return Ok(None);
    }
    let me = account.user_id()?;
    let mut mine = vec![*account.identity().public()];
    mine.extend(account.identity_keys_of(me));
    Ok(Some(SafetyNumber::compute(
        me.as_str(),
        &mine,
        user.as_str(),
        &theirs,
    )))
}

/// Groups of five digits, six to a line.
pub(crate) fn grouped(digits: &str) -> String {
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
    let with = crate::people::known(&state, &args.with, &profile)?;
    let label = state.label(&with);
    if account.identity_keys_of(&with).is_empty() {
        // No session yet: fetch the colleague's bundles (verifying their signatures).
        let mut client = Client::connect(account).await?;
        let opened = client.open_sessions(&with).await;
        account = client.close().await;
        profile.save(&account)?;
        opened.with_context(|| format!("fetching {}'s keys", with))?;
    }
    let Some(number) = safety_number(&account, &with)? else {
        bail!("{} has no current device", with);
    };
    let theirs = account.identity_keys_of(&with);
    let fingerprint = key_set_fingerprint(&theirs);
    let contact = state.contacts.entry(with.clone()).or_default();
    let Some(typed) = args.confirm else {
        let trust = match contact.trust(&fingerprint) {
            Trust::Verified => "verified",
            Trust::Unverified => "not verified",
            Trust::Changed => "KEYS CHANGED since you verified: compare again",
        };
        return out(&format!(
            "Safety number with {label} ({} device{}, {trust}):\n{}\nCompare it with your colleague's, in person or on a call, then run\n  curbside verify --profile {} --with {with} --confirm '<their number>'",
            theirs.len(),
            if theirs.len() == 1 { "" } else { "s" },
            grouped(number.digits()),
            profile.dir().display()
        ));
    };
    let digits = typed.bytes().filter(u8::is_ascii_digit).count();
    if digits != number.digits().len() {
        bail!(
            "--confirm takes the {} digits of the safety number (spaces allowed); \
             {digits} digits were given: check what you typed",
            number.digits().len()
        );
    }
    if !number.matches(&typed) {
        bail!(
            "the safety numbers differ: do not trust this conversation until you know why \
             (a new device, a reinstall, or someone in the middle)"
        );
    }
    contact.verified_keys = Some(fingerprint);
    profile.save_state(&state)?;
    out(&format!("Verified {label}: their current keys match."))
}

pub(crate) async fn devices(cmd: DevicesCommand) -> anyhow::Result<()> {
    match cmd {
        DevicesCommand::List { profile } => {
            let (_, account) = Profile::open(&profile.profile)?;
            let (api, token) = login(&account).await?;
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
            let (_, account) = Profile::open(&profile.profile)?;
            let (api, token) = login(&account).await?;
            let req = CreateInviteRequest {
                target: InviteTarget::NewDevice {
                    user_id: account.user_id()?.clone(),
                },
                expires_in_secs: None,
            };
            let invite = api.create_device_invite(&token, &req).await?;
            out(&invite.invite)
        }
        DevicesCommand::Revoke { profile, device, yes } => {
            let (_, account) = Profile::open(&profile.profile)?;
            let (api, token) = login(&account).await?;
            let this = account.address()?.device_id;
            let active: Vec<DeviceId> = api
                .own_devices(&token)
                .await?
                .iter()
                .filter(|d| d.revoked_at.is_none())
                .map(|d| d.device_id)
                .collect();
            let device = DeviceId(device);
            if !active.contains(&device) {
                bail!(
                    "device {device} is not an active device of yours: `curbside devices list --profile {}` shows them",
                    profile.profile.display()
                );
            }
            if !yes && (device == this || active.len() == 1) {
                let what = if active.len() == 1 {
                    "your last active device: you would have no device left, and only an administrator's \
                     device invite (`curbside admin device-invite`) would let you back in"
                } else {
                    "the device you are using: this profile stops working"
                };
                bail!("device {device} is {what}. To revoke it anyway, run this again with --yes");
            }
            api.revoke_own_device(&token, device).await?;
            out(&format!("Revoked device {device}: it receives nothing further."))
        }
    }
}
