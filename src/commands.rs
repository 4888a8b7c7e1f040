//! The clinician and admin commands. Output is stable text, with `--json`
//! where a script would want it; failures exit non-zero with the reason.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use curbside_client::api::Api;
use curbside_client::ServerInfo;
use curbside_protocol::http::{CreateInviteRequest, InviteTarget, Role};
use curbside_protocol::ids::{Address, DeviceId, UserId};

use crate::profile::Profile;

/// Where the local profile lives.
#[derive(Args, Clone)]
pub(crate) struct ProfileArg {
    /// Profile directory (keys, sessions; sealed with your passphrase).
    #[arg(long, env = "CURBSIDE_PROFILE", default_value = "curbside-profile")]
    pub(crate) profile: PathBuf,
}

#[derive(Args)]
pub(crate) struct EnrollArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// Server address (host:port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    server: String,
    /// The server's TLS name (also signed when authenticating).
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// The server certificate (or CA) to trust, PEM.
    #[arg(long, default_value = "curbside-data/tls/cert.pem")]
    cert: PathBuf,
    /// The invite (or the admin bootstrap token).
    #[arg(long)]
    invite: String,
    /// Your name as colleagues will see it (new users).
    #[arg(long, default_value = "")]
    name: String,
    /// Your National Provider Identifier (clinicians).
    #[arg(long)]
    npi: Option<String>,
    /// Your specialty (clinicians).
    #[arg(long)]
    specialty: Option<String>,
}

#[derive(Args)]
pub(crate) struct DirectoryArgs {
    /// `curbside directory search …` reads as `curbside directory …`.
    #[arg(value_parser = ["search"], hide = true)]
    verb: Option<String>,
    #[command(flatten)]
    profile: ProfileArg,
    /// Part of the name.
    #[arg(long)]
    name: Option<String>,
    /// Exact specialty.
    #[arg(long)]
    specialty: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Issue a one-time invite for a new user.
    Invite {
        #[command(flatten)]
        profile: ProfileArg,
        /// Role of the new user: clinician, compliance_officer or admin.
        #[arg(long, default_value = "clinician", value_parser = parse_role)]
        role: Role,
        /// Lifetime in hours (1 to 8760).
        #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u64).range(1..=8760))]
        expires_in_hours: u64,
    },
    /// Issue a one-time invite for a new device of an existing user (a
    /// clinician who lost every device enrolls again with it).
    DeviceInvite {
        #[command(flatten)]
        profile: ProfileArg,
        /// The user.
        user: UserId,
        /// Lifetime in hours (1 to 8760).
        #[arg(long, default_value_t = 72, value_parser = clap::value_parser!(u64).range(1..=8760))]
        expires_in_hours: u64,
    },
    /// Mark a user's professional details as verified.
    Verify {
        #[command(flatten)]
        profile: ProfileArg,
        /// The user.
        user: UserId,
    },
    /// List users, roles and devices.
    Users {
        #[command(flatten)]
        profile: ProfileArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Grant a role.
    Grant {
        #[command(flatten)]
        profile: ProfileArg,
        /// The user.
        user: UserId,
        /// clinician, compliance_officer or admin.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Deactivate an account (a clinician who left, or who revoked their
    /// last device): its devices are revoked, messages queued to it are
    /// dropped, it leaves the directory, and its NPI may enroll again with
    /// a new invite. Cannot be undone.
    Deactivate {
        #[command(flatten)]
        profile: ProfileArg,
        /// The user.
        user: UserId,
        /// Confirm (without it, the command says what it would do and changes nothing).
        #[arg(long)]
        yes: bool,
    },
    /// Set the organisation's retention policy: every client deletes
    /// messages and attachments older than it, and so does the server.
    /// Audited. Without a flag, shows the policy in effect.
    Retention {
        #[command(flatten)]
        profile: ProfileArg,
        /// The maximum lifespan in days (1 to 3650).
        #[arg(long, conflicts_with_all = ["seconds", "off"], value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: Option<u64>,
        /// The maximum lifespan in seconds (60 to ten years).
        #[arg(long, conflicts_with = "off", value_parser = clap::value_parser!(u64).range(60..=315_360_000))]
        seconds: Option<u64>,
        /// No retention limit.
        #[arg(long)]
        off: bool,
    },
    /// Revoke a device: it can no longer connect and its queue is dropped.
    Revoke {
        #[command(flatten)]
        profile: ProfileArg,
        /// The user.
        user: UserId,
        /// The device.
        device: u32,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s:?}: clinician, compliance_officer or admin"))
}

pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.write_all(b"\n")?;
    Ok(())
}

pub(crate) async fn enroll(args: EnrollArgs) -> anyhow::Result<()> {
    let cert_pem = std::fs::read_to_string(&args.cert)
        .with_context(|| format!("reading the certificate {}", args.cert.display()))?;
    let server = ServerInfo {
        address: args.server,
        server_name: args.server_name,
        cert_pem,
    };
    let details = curbside_client::UserDetails {
        display_name: args.name,
        npi: args.npi,
        specialty: args.specialty,
    };
    if let Some(npi) = details.npi.as_deref() {
        if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!(
                "--npi: an NPI has 10 digits ({npi:?} has {})",
                npi.chars().count()
            );
        }
        if !curbside_protocol::npi::is_valid(npi) {
            anyhow::bail!("--npi: {npi}'s check digit is not valid: check it for a typo");
        }
    }
    // Everything that can go wrong here (an occupied profile, passphrases
    // that differ) is checked before the server creates the account: the
    // invite is used only once the profile can be written.
    let profile = Profile::prepare(&args.profile.profile)?;
    let account = match curbside_client::enroll(server.clone(), &args.invite, &details).await {
        Ok(account) => account,
        // The server names its JSON fields; the user typed flags.
        Err(e) if e.code() == Some(curbside_protocol::error::ErrorCode::InvalidRequest) => {
            let missing: Vec<&str> = [
                ("--name", details.display_name.trim().is_empty()),
                ("--npi", details.npi.is_none()),
                ("--specialty", details.specialty.is_none()),
            ]
            .into_iter()
            .filter_map(|(flag, absent)| absent.then_some(flag))
            .collect();
            anyhow::bail!(
                "the server refused the enrollment ({e}): a new user needs --name, and a clinician \
                 also needs --npi (10 digits) and --specialty{}. The invite was not used: run the \
                 command again with them",
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(" (missing here: {})", missing.join(", "))
                }
            )
        }
        Err(e) if e.code() == Some(curbside_protocol::error::ErrorCode::Conflict) => anyhow::bail!(
            "{e}. The invite was not used. If this is you on a new device, ask an administrator \
             for a device invite (`curbside admin device-invite USER`) instead; if your account \
             is orphaned (no device left), an administrator can deactivate it so you can enroll \
             again (`curbside admin deactivate USER`); otherwise check the NPI"
        ),
        Err(e) => return Err(unreachable(&server, e)),
    };
    let address = account.address()?.clone();
    profile.save(&account).with_context(|| {
        format!(
            "enrolled as user {} device {}, but the profile could not be written: \
             free space or fix permissions on {}, then ask an administrator for a device invite \
             (`curbside admin device-invite`) to enroll this device again",
            address.user_id,
            address.device_id,
            args.profile.profile.display()
        )
    })?;
    out(&format!(
        "Enrolled: user {} device {}",
        address.user_id, address.device_id
    ))
}

pub(crate) fn whoami(args: &ProfileArg) -> anyhow::Result<()> {
    let (_, account) = Profile::open(&args.profile)?;
    let a = account.address()?;
    out(&format!(
        "user {} device {} on {} ({})",
        a.user_id, a.device_id, account.server.server_name, account.server.address
    ))
}

pub(crate) async fn session(dir: &ProfileArg) -> anyhow::Result<(Api, String)> {
    let (_, account) = Profile::open(&dir.profile)?;
    login(&account).await
}

/// An HTTPS session for an opened account.
pub(crate) async fn login(account: &curbside_client::Account) -> anyhow::Result<(Api, String)> {
    let api = Api::new(&account.server)?;
    let a = account.address()?;
    let token = api
        .login(&a.user_id, a.device_id, account.identity())
        .await
        .map_err(|e| unreachable(&account.server, e))?;
    Ok((api, token))
}

/// `e`, said so that the user knows what to check when the server could
/// not be reached (which address, and what to look at).
pub(crate) fn unreachable(server: &ServerInfo, e: curbside_client::ClientError) -> anyhow::Error {
    use curbside_client::ClientError;
    match e {
        ClientError::Io(_) | ClientError::Http(_) | ClientError::WebSocket(_) | ClientError::Timeout(_) => {
            anyhow::anyhow!(
                "could not reach the Curbside server at {} ({e}): check that `curbside serve` runs \
                 there and that this is the address it printed (the profile keeps the address it \
                 enrolled with)",
                server.address
            )
        }
        ClientError::Tls(_) => anyhow::anyhow!(
            "the server at {} is not the one this profile trusts ({e}): it presents another \
             certificate than the one pinned at enrollment ({}); if the server's certificate was \
             replaced, enroll this device again with the new one",
            server.address,
            server.server_name
        ),
        e => e.into(),
    }
}

pub(crate) async fn directory(args: DirectoryArgs) -> anyhow::Result<()> {
    let (api, token) = session(&args.profile).await?;
    let entries = api
        .directory(&token, args.name.as_deref(), args.specialty.as_deref())
        .await?;
    if args.json {
        return out(&serde_json::to_string_pretty(&entries)?);
    }
    let mut rows: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}  {}  {}  NPI {}",
                e.user_id, e.display_name, e.specialty, e.npi
            )
        })
        .collect();
    if rows.is_empty() {
        rows.push("No verified clinician matches.".into());
    }
    // On-call roles of the specialty (or named like the search), for `send --role`.
    let now = curbside_protocol::time::now_ms();
    let wanted = |r: &curbside_protocol::oncall::OnCallRole| {
        let specialty = args.specialty.as_deref().is_none_or(|s| {
            r.specialty
                .as_deref()
                .is_some_and(|rs| rs.eq_ignore_ascii_case(s))
        });
        let name = args
            .name
            .as_deref()
            .is_none_or(|n| r.name.to_lowercase().contains(&n.to_lowercase()));
        specialty && name
    };
    let roles: Vec<String> = api
        .oncall_roles(&token)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| wanted(r))
        .map(|r| {
            format!(
                "on-call  {}  (send --role {:?})",
                crate::oncall::describe(r, now),
                r.name
            )
        })
        .collect();
    rows.extend(roles);
    out(&rows.join("\n"))
}

pub(crate) async fn admin(cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Invite {
            profile,
            role,
            expires_in_hours,
        } => {
            let (_, account) = Profile::open(&profile.profile)?;
            let (api, token) = login(&account).await?;
            let req = CreateInviteRequest {
                target: InviteTarget::NewUser { role },
                expires_in_secs: Some(expires_in_hours.saturating_mul(3600)),
            };
            let invite = api.create_invite(&token, &req).await?;
            // The token alone on stdout (scripts read it); on stderr, the
            // link a clinician opens to enroll in the web client.
            let server = &account.server;
            let port = server.address.rsplit_once(':').map_or("443", |(_, p)| p);
            // The browser asks no NPI or specialty of a link with a role.
            let role_suffix = match role {
                Role::Clinician => String::new(),
                other => format!("&role={}", other.as_str()),
            };
            {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "Enroll in the browser: https://{}:{port}/#invite={}{role_suffix} (or with `curbside enroll --invite`)",
                    server.server_name,
                    invite.invite
                );
            }
            out(&invite.invite)
        }
        AdminCommand::DeviceInvite {
            profile,
            user,
            expires_in_hours,
        } => {
            let (api, token) = session(&profile).await?;
            let req = CreateInviteRequest {
                target: InviteTarget::NewDevice { user_id: user },
                expires_in_secs: Some(expires_in_hours.saturating_mul(3600)),
            };
            let invite = api.create_invite(&token, &req).await?;
            out(&invite.invite)
        }
        AdminCommand::Verify { profile, user } => {
            let (api, token) = session(&profile).await?;
            api.verify_user(&token, &user).await?;
            out(&format!("Verified {user}"))
        }
        AdminCommand::Users { profile, json } => {
            let (api, token) = session(&profile).await?;
            let users = api.list_users(&token).await?;
            if json {
                return out(&serde_json::to_string_pretty(&users)?);
            }
            let rows: Vec<String> = users
                .iter()
                .map(|u| {
                    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                    let devices: Vec<String> = u
                        .devices
                        .iter()
                        .map(|d| {
                            format!(
                                "{}{}",
                                d.device_id,
                                if d.revoked_at.is_some() { " (revoked)" } else { "" }
                            )
                        })
                        .collect();
                    let clinical = match (&u.npi, &u.specialty) {
                        (Some(npi), Some(s)) => format!("  NPI {npi}, {s}"),
                        (Some(npi), None) => format!("  NPI {npi}"),
                        (None, Some(s)) => format!("  {s}"),
                        (None, None) => String::new(),
                    };
                    format!(
                        "{}  {}{clinical}  [{}]  {}  devices: {}",
                        u.user_id,
                        u.display_name,
                        roles.join(","),
                        match (u.deactivated_at, u.verified) {
                            (Some(_), _) => "DEACTIVATED",
                            (None, true) => "verified",
                            (None, false) => "unverified",
                        },
                        devices.join(", ")
                    )
                })
                .collect();
            out(&rows.join("\n"))
        }
        AdminCommand::Grant { profile, user, role } => {
            let (api, token) = session(&profile).await?;
            api.grant_role(&token, &user, role).await?;
            out(&format!("Granted {} to {user}", role.as_str()))
        }
        AdminCommand::Retention {
            profile,
            days,
            seconds,
            off,
        } => {
            let (api, token) = session(&profile).await?;
            let secs = days.map(|d| d.saturating_mul(86_400)).or(seconds);
            let policy = if secs.is_none() && !off {
                api.policy(&token).await?
            } else {
                api.set_retention(&token, secs).await?
            };
            let words = curbside_client::urgent::policy_words(&policy);
            out(&if secs.is_some() || off {
                format!("{words}\nThe change is recorded in the audit log (retention.changed); every client applies it when it next connects.")
            } else {
                words
            })
        }
        AdminCommand::Deactivate { profile, user, yes } => {
            let (api, token) = session(&profile).await?;
            if !yes {
                let users = api.list_users(&token).await?;
                let Some(u) = users.iter().find(|u| u.user_id == user) else {
                    anyhow::bail!(
                        "{user} is not a user of this server: `curbside admin users --profile {}` lists them",
                        profile.profile.display()
                    );
                };
                if u.deactivated_at.is_some() {
                    anyhow::bail!("{user} ({}) is already deactivated", u.display_name);
                }
                let npi = u.npi.as_deref().map(|n| format!(", NPI {n}")).unwrap_or_default();
                let active = u.devices.iter().filter(|d| d.revoked_at.is_none()).count();
                anyhow::bail!(
                    "this would deactivate {user} ({}{npi}) for good: its {active} active device(s) revoked, \
                     messages queued to it dropped, gone from the directory; its NPI may then enroll again with \
                     a new invite. To do it: curbside admin deactivate --profile {} {user} --yes",
                    u.display_name,
                    profile.profile.display()
                );
            }
            let done = api.deactivate_user(&token, &user).await?;
            out(&format!(
                "Deactivated {user}: {} device(s) revoked, {} queued message(s) dropped. Its NPI may enroll \
                 again with a new invite (`curbside admin invite --profile {}`).",
                done.devices_revoked.len(),
                done.messages_dropped,
                profile.profile.display()
            ))
        }
        AdminCommand::Revoke {
            profile,
            user,
            device,
        } => {
            let (api, token) = session(&profile).await?;
            api.revoke_device(
                &token,
                &Address {
                    user_id: user.clone(),
                    device_id: DeviceId(device),
                },
            )
            .await?;
            out(&format!("Revoked device {device} of {user}"))
        }
    }
}
