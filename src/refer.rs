//! `curbside refer create | list | show | accept | decline | cancel |
//! complete | export`. The clinical content (a FHIR R4 Bundle with the
//! ServiceRequest and the Patient, plus attachments) is sent end to end
//! encrypted; the server gets only the envelope and enforces the lifecycle.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use curbside_client::content::Content;
use curbside_client::fhir::{ehr_bundle, patient_name, referral_bundle, Patient, Received, Request};
use curbside_client::local::{LocalState, ReferralContent};
use curbside_client::Client;
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{MessageId, UserId};
use curbside_protocol::referral::{CreateReferral, Priority, Referral, Transition};
use rand_core::RngCore as _;

use crate::commands::{login, out, ProfileArg};
use crate::messages::{connect, now_ms, random_message_id, upload_file};
use crate::profile::Profile;

#[derive(Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The receiving clinician: a name (or part of one), an NPI or a user id
    /// (omit to list the verified clinicians of --specialty).
    #[arg(long, conflicts_with = "role")]
    to: Option<String>,
    /// Or an on-call role ("On-call dermatology"): the referral goes to the
    /// clinician who holds it now.
    #[arg(long)]
    role: Option<String>,
    /// Target specialty.
    #[arg(long)]
    specialty: String,
    /// routine, urgent or stat.
    #[arg(long, default_value = "routine")]
    priority: String,
    /// The patient, a FHIR R4 Patient resource (JSON).
    #[arg(long)]
    patient: PathBuf,
    /// Reason for referral and history, in words.
    #[arg(long)]
    note: Option<String>,
    /// A file to attach (repeat for several).
    #[arg(long = "attach")]
    attachments: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum ReferCommand {
    /// Refer a patient to a colleague.
    Create(CreateArgs),
    /// Your referrals, newest change first.
    List {
        #[command(flatten)]
        profile: ProfileArg,
        /// Only this status (requested, accepted, declined, cancelled, completed).
        #[arg(long)]
        status: Option<String>,
        /// in (to you) or out (from you).
        #[arg(long)]
        direction: Option<String>,
    },
    /// A referral with its decrypted content.
    Show {
        #[command(flatten)]
        profile: ProfileArg,
        /// The referral id.
        id: String,
    },
    /// Accept a referral sent to you.
    Accept(TransitionArgs),
    /// Decline a referral sent to you (--reason required).
    Decline(TransitionArgs),
    /// Withdraw a referral you sent (--reason required).
    Cancel(TransitionArgs),
    /// Mark an accepted referral completed.
    Complete(TransitionArgs),
    /// The FHIR R4 Bundle (ServiceRequest and Patient) as JSON, for an EHR.
    Export {
        #[command(flatten)]
        profile: ProfileArg,
        /// The referral id.
        id: String,
    },
    /// Save a referral's attachments (all of them, or the Nth with --index),
    /// checked and decrypted, into a directory.
    Download {
        #[command(flatten)]
        profile: ProfileArg,
        /// The referral id.
        id: String,
        /// Only this attachment (1 is the first, as `refer show` lists them).
        #[arg(long)]
        index: Option<usize>,
        /// The directory to save into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Args)]
pub(crate) struct TransitionArgs {
    #[command(flatten)]
    profile: ProfileArg,
    /// The referral id.
    id: String,
    /// Why (declining and cancelling): sent end to end encrypted.
    #[arg(long)]
    reason: Option<String>,
}

fn row(r: &Referral, patient: Option<String>) -> String {
    format!(
        "{}  {:<9}  {:<7}  {}  {} -> {}  updated {}{}",
        r.referral_id,
        r.status.as_str(),
        r.priority.as_str(),
        r.specialty,
        r.referring,
        r.receiving,
        format_time_ms(r.updated_at),
        patient.map(|p| format!("  patient {p}")).unwrap_or_default()
    )
}

/// A clinician as the Bundle names them: id, and NPI and name from the directory.
fn practitioner<'a>(
    user: &'a UserId,
    entry: Option<&'a curbside_protocol::frames::DirectoryEntry>,
) -> curbside_client::fhir::Practitioner<'a> {
    curbside_client::fhir::Practitioner {
        user_id: user.as_str(),
        npi: entry.map(|e| e.npi.as_str()).filter(|n| !n.is_empty()),
        name: entry.map(|e| e.display_name.as_str()),
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let priority = Priority::parse(&args.priority).context("--priority must be routine, urgent or stat")?;
    // Validate the patient before anything leaves this device.
    let json = std::fs::read(&args.patient).with_context(|| format!("reading {}", args.patient.display()))?;
    let patient = Patient::parse(&json).map_err(|e| anyhow::anyhow!("{}: {e}", args.patient.display()))?;
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let (api, token) = login(&account).await?;
    let me = account.user_id()?.clone();
    let found: Vec<_> = api
        .directory(&token, None, Some(&args.specialty))
        .await?
        .into_iter()
        .filter(|e| e.user_id != me)
        .collect();
    let to = match &args.role {
        Some(typed) => {
            let roles = api.oncall_roles(&token).await?;
            let role = crate::oncall::find_role(&roles, typed)?;
            let [holder] = role.holders.as_slice() else {
                anyhow::bail!(
                    "{} is held by {} now: a referral goes to one clinician; choose one with --to",
                    role.name,
                    if role.holders.is_empty() {
                        "nobody".to_owned()
                    } else {
                        role.holders
                            .iter()
                            .map(|h| h.display_name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
            };
            crate::audit::note(&format!(
                "To {}: {} holds it now.",
                role.name, holder.display_name
            ));
            Some(holder.user_id.to_string())
        }
        None => args.to,
    };
    let Some(to) = to else {
        // A question, not a failure: list whom the referral can go to.
        if found.is_empty() {
            return out(&format!(
                "No referral sent: there is no other verified clinician in {} \
                 (`curbside directory --profile {}` lists colleagues).",
                args.specialty,
                args.profile.profile.display()
            ));
        }
        let list: Vec<String> = found
            .iter()
            .map(|e| format!("  {}  {} ({})", e.user_id, e.display_name, e.specialty))
            .collect();
        return out(&format!(
            "No referral sent yet: choose the receiving clinician with --to. Verified clinicians in {}:\n{}",
            args.specialty,
            list.join("\n")
        ));
    };
    let matching: Vec<_> = found
        .iter()
        .filter(|e| {
            e.npi == to
                || e.user_id.as_str() == to
                || e.display_name.to_lowercase().contains(&to.to_lowercase())
        })
        .cloned()
        .collect();
    let to = match curbside_client::people::choose(&to, matching) {
        curbside_client::people::Found::One(entry) => entry.user_id,
        curbside_client::people::Found::Several(entries) => {
            let list: Vec<String> = entries
                .iter()
                .map(|e| {
                    format!(
                        "  {}  (give {} or {})",
                        curbside_client::people::describe(e),
                        e.npi,
                        e.user_id
                    )
                })
                .collect();
            bail!(
                "\"{to}\" matches {} clinicians in {}; name one by NPI or id:\n{}",
                entries.len(),
                args.specialty,
                list.join("\n")
            )
        }
        _ => bail!(
            "{to} is not a verified clinician in {}: check --to and --specialty \
             (`curbside refer create --profile {} --specialty \"{}\" --patient …` without --to lists them)",
            args.specialty,
            args.profile.profile.display(),
            args.specialty
        ),
    };
    let mut attachments = Vec::new();
    for path in &args.attachments {
        attachments.push(upload_file(&account, path).await?.0);
    }
    let mut id = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut id);
    let referral_id = format!("r{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let authored = format_time_ms(now_ms());
    let mine = api
        .directory_where(&token, &[("user_id", me.as_str())])
        .await
        .ok()
        .and_then(|found| found.into_iter().next());
    let theirs = found.iter().find(|e| e.user_id == to);
    let request = Request {
        referral_id: &referral_id,
        status: curbside_protocol::referral::Status::Requested,
        priority: priority.as_str(),
        specialty: &args.specialty,
        requester: practitioner(&me, mine.as_ref()),
        performer: practitioner(&to, theirs),
        note: args.note.as_deref(),
        status_reason: None,
        authored_on: &authored,
        last_modified: None,
    };
    let bundle = referral_bundle(&patient, &request).to_string();
    let content = Content::Referral {
        referral_id: referral_id.clone(),
        bundle: bundle.clone(),
        attachments: attachments.clone(),
    };
    let mut state = profile.load_state()?;
    let mut client = connect(&profile, &mut state, account).await?;
    let message_id = random_message_id()?;
    let sent = client
        .send(
            std::slice::from_ref(&to),
            MessageKind::Referral,
            &message_id,
            &content.to_bytes(),
        )
        .await;
    let account = client.close().await;
    profile.save(&account)?;
    sent?;
    state.referrals.insert(
        referral_id.clone(),
        ReferralContent {
            counterpart: to.clone(),
            bundle,
            attachments,
            reason: None,
        },
    );
    profile.save_state(&state)?;
    let envelope = CreateReferral {
        referral_id: referral_id.clone(),
        to: to.clone(),
        specialty: args.specialty.clone(),
        priority,
        message_id,
    };
    let referral = api.create_referral(&token, &envelope).await?;
    state
        .referral_envelopes
        .insert(referral.referral_id.to_string(), referral.clone());
    profile.save_state(&state)?;
    let receiver = theirs.map_or_else(|| to.to_string(), |e| e.display_name.clone());
    out(&format!(
        "Referral {} sent to {receiver} ({}, {}): {}",
        referral.referral_id,
        priority.as_str(),
        args.specialty,
        referral.status.as_str()
    ))
}

/// The referral envelopes as the server has them now, kept in `state`;
/// returns a line for each that changed since this profile last saw it
/// (a transition made while it was away, by either side).
pub(crate) async fn catch_up(
    api: &curbside_client::api::Api,
    token: &str,
    state: &mut LocalState,
) -> Vec<String> {
    let Ok(referrals) = api.referrals(token, None, None).await else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for r in referrals {
        let known = state.referral_envelopes.get(r.referral_id.as_str());
        if known.is_none_or(|k| k.updated_at < r.updated_at) {
            if known.is_some_and(|k| k.status != r.status) {
                lines.push(format!(
                    "[referral {}] {} ({}, {})",
                    r.referral_id,
                    r.status.as_str(),
                    r.priority.as_str(),
                    r.specialty
                ));
            }
            state.referral_envelopes.insert(r.referral_id.to_string(), r);
        }
    }
    lines
}

/// Sends the reason of a decline or cancellation, end to end encrypted, to
/// the other party of `referral`; returns the id of the message carrying it.
pub(crate) async fn send_reason(
    client: &mut Client,
    referral: &Referral,
    reason: &str,
) -> anyhow::Result<MessageId> {
    let me = client.address()?.user_id;
    let other = if referral.referring == me {
        &referral.receiving
    } else {
        &referral.referring
    };
    let id = random_message_id()?;
    let content = Content::ReferralReason {
        referral_id: referral.referral_id.to_string(),
        reason: reason.to_owned(),
    };
    client
        .send(
            std::slice::from_ref(other),
            MessageKind::Referral,
            &id,
            &content.to_bytes(),
        )
        .await?;
    Ok(id)
}

async fn transition(args: TransitionArgs, transition: Transition) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let (api, token) = login(&account).await?;
    let current = api.referral(&token, &args.id).await?;
    let reason_message_id = match (transition.needs_reason(), &args.reason) {
        (false, _) => None,
        (true, None) => bail!(
            "{} needs --reason (sent end to end encrypted)",
            transition.as_str()
        ),
        (true, Some(reason)) => {
            let mut state = profile.load_state()?;
            let mut client = connect(&profile, &mut state, account).await?;
            let sent = send_reason(&mut client, &current, reason).await;
            let account = client.close().await;
            profile.save(&account)?;
            let id = sent?;
            if let Some(known) = state.referrals.get_mut(&args.id) {
                known.reason = Some(reason.clone());
                profile.save_state(&state)?;
            }
            Some(id)
        }
    };
    let r = api
        .transition_referral(&token, &args.id, transition, reason_message_id)
        .await?;
    let mut state = profile.load_state()?;
    state
        .referral_envelopes
        .insert(r.referral_id.to_string(), r.clone());
    profile.save_state(&state)?;
    out(&format!("Referral {}: {}", r.referral_id, r.status.as_str()))
}

pub(crate) async fn run(cmd: ReferCommand) -> anyhow::Result<()> {
    match cmd {
        ReferCommand::Create(args) => create(args).await,
        ReferCommand::List {
            profile,
            status,
            direction,
        } => {
            let (p, account) = Profile::open(&profile.profile)?;
            let mut state = p.load_state()?;
            let (api, token) = login(&account).await?;
            let list = api
                .referrals(&token, status.as_deref(), direction.as_deref())
                .await?;
            if list.is_empty() {
                return out("No referrals.");
            }
            let rows: Vec<String> = list
                .iter()
                .map(|r| {
                    row(
                        r,
                        state
                            .referrals
                            .get(r.referral_id.as_str())
                            .map(|c| patient_name(&c.bundle)),
                    )
                })
                .collect();
            // The clinicians by name.
            let rows = crate::people::name_lines(&account, &mut state, &rows).await;
            p.save_state(&state)?;
            out(&rows.join("\n"))
        }
        ReferCommand::Show { profile, id } => {
            let (p, account) = Profile::open(&profile.profile)?;
            let mut state = p.load_state()?;
            let (api, token) = login(&account).await?;
            let r = api.referral(&token, &id).await?;
            let mut lines = vec![row(&r, None)];
            match state.referrals.get(&id) {
                None => lines.push("(content not on this device yet: run `curbside sync`)".into()),
                Some(c) => {
                    lines.push(format!("patient: {}", patient_name(&c.bundle)));
                    let bundle: serde_json::Value = serde_json::from_str(&c.bundle).unwrap_or_default();
                    if let Some(note) = bundle["entry"][0]["resource"]["note"][0]["text"].as_str() {
                        lines.push(format!("note: {note}"));
                    }
                    for a in &c.attachments {
                        lines.push(format!("attachment: {} ({} bytes)", a.name, a.size));
                    }
                    if let Some(reason) = &c.reason {
                        lines.push(format!("reason: {reason}"));
                    }
                }
            }
            let lines = crate::people::name_lines(&account, &mut state, &lines).await;
            p.save_state(&state)?;
            out(&lines.join("\n"))
        }
        ReferCommand::Accept(args) => transition(args, Transition::Accept).await,
        ReferCommand::Decline(args) => transition(args, Transition::Decline).await,
        ReferCommand::Cancel(args) => transition(args, Transition::Cancel).await,
        ReferCommand::Complete(args) => transition(args, Transition::Complete).await,
        ReferCommand::Download {
            profile,
            id,
            index,
            out: dir,
        } => {
            let (p, account) = Profile::open(&profile.profile)?;
            let state = p.load_state()?;
            let c = state.referrals.get(&id).with_context(|| {
                format!(
                    "no content for referral {id} on this device (run `curbside sync --profile {}`)",
                    profile.profile.display()
                )
            })?;
            if c.attachments.is_empty() {
                bail!("referral {id} has no attachments");
            }
            let chosen: Vec<(usize, &curbside_client::content::AttachmentRef)> = match index {
                None => c
                    .attachments
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (i + 1, a))
                    .collect(),
                Some(n) => {
                    let file = n
                        .checked_sub(1)
                        .and_then(|i| c.attachments.get(i))
                        .with_context(|| {
                            format!(
                                "referral {id} has {} attachment(s): --index is 1 to {}",
                                c.attachments.len(),
                                c.attachments.len()
                            )
                        })?;
                    vec![(n, file)]
                }
            };
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut lines = Vec::new();
            for (n, file) in chosen {
                // Only the file's own name, never a path it might carry.
                let name = std::path::Path::new(&file.name)
                    .file_name()
                    .map_or_else(|| format!("attachment-{n}"), |f| f.to_string_lossy().into_owned());
                let to = dir.join(&name);
                if to.exists() {
                    bail!("{} exists already: choose another --out", to.display());
                }
                let size = crate::messages::fetch(&account, file, &to).await?;
                lines.push(format!("Saved {} ({size} bytes) to {}", file.name, to.display()));
            }
            out(&lines.join("\n"))
        }
        ReferCommand::Export { profile, id } => export(&profile, &id).await,
    }
}

/// A clinician as the stored content names them, completed from the
/// directory entry `listed`.
fn named<'a>(
    stored: &'a Received,
    user: &'a UserId,
    listed: Option<&'a curbside_protocol::frames::DirectoryEntry>,
) -> curbside_client::fhir::Practitioner<'a> {
    let (npi, name) = stored.practitioner(user.as_str()).unwrap_or((None, None));
    let from_directory = practitioner(user, listed);
    curbside_client::fhir::Practitioner {
        user_id: user.as_str(),
        npi: npi.or(from_directory.npi),
        name: name.or(from_directory.name),
    }
}

/// `refer export`: the referral as a FHIR R4 transaction Bundle for an EHR,
/// built anew from the stored content (patient, note, clinicians) and the
/// server's current envelope (status, priority, specialty, parties), so a
/// completed referral exports as completed.
async fn export(profile: &ProfileArg, id: &str) -> anyhow::Result<()> {
    let (p, account) = Profile::open(&profile.profile)?;
    let state = p.load_state()?;
    let c = state.referrals.get(id).with_context(|| {
        format!(
            "no content for referral {id} on this device (run `curbside sync --profile {}`)",
            profile.profile.display()
        )
    })?;
    let stored =
        Received::parse(&c.bundle).context("the stored referral content is not a referral Bundle")?;
    let (api, token) = login(&account).await?;
    let r = api.referral(&token, id).await?;
    // Each clinician as the content named them (end to end, from the
    // referring clinician), else as the directory does (content sent before
    // it carried NPIs).
    let mut entries = Vec::new();
    for user in [&r.referring, &r.receiving] {
        let listed = match stored.practitioner(user.as_str()) {
            Some((Some(_), Some(_))) => None,
            _ => api
                .directory_where(&token, &[("user_id", user.as_str())])
                .await?
                .into_iter()
                .next(),
        };
        entries.push(listed);
    }
    let created = format_time_ms(r.created_at);
    let updated = format_time_ms(r.updated_at);
    let request = Request {
        referral_id: r.referral_id.as_str(),
        status: r.status,
        priority: r.priority.as_str(),
        specialty: &r.specialty,
        requester: named(&stored, &r.referring, entries[0].as_ref()),
        performer: named(&stored, &r.receiving, entries[1].as_ref()),
        note: stored.note.as_deref(),
        status_reason: c.reason.as_deref(),
        authored_on: stored.authored_on.as_deref().unwrap_or(&created),
        last_modified: Some(&updated),
    };
    let bundle = ehr_bundle(&stored.patient, &request, &format_time_ms(now_ms()));
    out(&serde_json::to_string_pretty(&bundle)?)
}
