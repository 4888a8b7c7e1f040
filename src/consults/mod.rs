//! `curbside consult`: curbside consults from the command line. Opt in to
//! answer consults of one's specialty; ask a specialty (the server chooses
//! who receives it, the question is end to end encrypted to them); list what
//! is open; answer; close. And what the receive loop does with consult
//! content.

mod images;

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Subcommand;
use curbside_client::api::Api;
use curbside_client::content::{AttachmentRef, Content, MAX_CONSULT_ATTACHMENTS};
use curbside_client::local::LocalState;
use curbside_client::urgent::ConsultRecord;
use curbside_client::{Client, Received, Urgency};
use curbside_protocol::consult::{Consult, ConsultStatus, PostConsult};
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::{ConsultId, UserId};

use crate::commands::{out, ProfileArg};
use crate::messages::{connect, now_ms, random_message_id};
use crate::profile::Profile;
pub(crate) use images::save_all;
pub(crate) use images::upload_images;
use images::{image_names, save};

#[derive(Subcommand)]
pub(crate) enum ConsultCommand {
    /// Answer consults of your specialty (as the directory lists it), or stop (--off).
    Optin {
        #[command(flatten)]
        profile: ProfileArg,
        /// Stop answering consults.
        #[arg(long)]
        off: bool,
    },
    /// Ask the verified clinicians of a specialty who answer consults.
    Ask {
        #[command(flatten)]
        profile: ProfileArg,
        /// The specialty asked.
        #[arg(long)]
        specialty: String,
        /// Let everyone asked see every answer (by default answers come to you only).
        #[arg(long)]
        share_answers: bool,
        /// An image (or other file) to go with the question, encrypted end
        /// to end like any attachment (repeat, at most 4).
        #[arg(long = "image", value_name = "FILE")]
        images: Vec<PathBuf>,
        /// The question.
        text: String,
    },
    /// Save a consult's images into a folder, decrypted and verified.
    Save {
        #[command(flatten)]
        profile: ProfileArg,
        /// The consult.
        consult: ConsultId,
        /// The folder to save them in (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// The consults you asked or were asked, open first, with their answers.
    List {
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Answer a consult you were asked.
    Answer {
        #[command(flatten)]
        profile: ProfileArg,
        /// The consult (its id, as `consult list` shows it).
        consult: ConsultId,
        /// The answer.
        text: String,
    },
    /// Close a consult you asked: no more answers; it stops showing as open.
    Close {
        #[command(flatten)]
        profile: ProfileArg,
        /// The consult.
        consult: ConsultId,
    },
}

/// What the receive loop does with consult content; the lines to show.
pub(crate) fn received(
    state: &mut LocalState,
    me: &UserId,
    r: &Received,
    content: &Content,
    profile: &Profile,
) -> Vec<String> {
    let from = &r.sender.user_id;
    match content {
        Content::Consult {
            consult_id,
            specialty,
            text,
            attachments,
        } => {
            if from == me || state.consults.contains_key(consult_id) {
                return Vec::new();
            }
            state.consults.insert(
                consult_id.clone(),
                ConsultRecord {
                    asker: from.clone(),
                    specialty: specialty.clone(),
                    text: text.clone(),
                    at_ms: r.sent_at,
                    fan_out: 0,
                    answers: Vec::new(),
                    closed: false,
                    // A hostile sender's hundreds of references: the first few only.
                    attachments: attachments
                        .iter()
                        .take(MAX_CONSULT_ATTACHMENTS)
                        .cloned()
                        .collect(),
                },
            );
            let attachments = &attachments[..attachments.len().min(MAX_CONSULT_ATTACHMENTS)];
            let dir = profile.dir().display();
            let (images, save) = if attachments.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    format!(" [with {}]", image_names(attachments)),
                    format!(
                        "; save the images: curbside consult save --profile {dir} {consult_id} --out FOLDER"
                    ),
                )
            };
            vec![format!(
                "[consult {consult_id}] {specialty} question from {from}: {text}{images} (answer: curbside consult \
                 answer --profile {dir} {consult_id} \"…\"{save})"
            )]
        }
        Content::ConsultAnswer { consult_id, text } => {
            let Some(c) = state.consults.get_mut(consult_id) else {
                return Vec::new();
            };
            if c.answers
                .iter()
                .any(|(who, t, at)| who == from && t == text && *at == r.sent_at)
            {
                return Vec::new();
            }
            c.answers.push((from.clone(), text.clone(), r.sent_at));
            vec![format!("[consult {consult_id}] answer from {from}: {text}")]
        }
        Content::ConsultClosed { consult_id } => match state.consults.get_mut(consult_id) {
            Some(c) if c.asker == *from && !c.closed => {
                c.closed = true;
                vec![format!("[consult {consult_id}] closed by {from}")]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

pub(crate) async fn run(cmd: ConsultCommand) -> anyhow::Result<()> {
    match cmd {
        ConsultCommand::Optin { profile, off } => {
            let (_, account) = Profile::open(&profile.profile)?;
            let (api, token) = crate::commands::login(&account).await?;
            let me = account.user_id()?;
            let mine = api
                .directory_where(&token, &[("user_id", me.as_str())])
                .await?
                .into_iter()
                .next()
                .context("only verified clinicians answer consults: an administrator verifies you first")?;
            let specialties = if off { vec![] } else { vec![mine.specialty.clone()] };
            api.consult_opt_in(&token, specialties).await?;
            out(&if off {
                "You no longer receive consults.".to_owned()
            } else {
                format!(
                    "You now receive {} consults from colleagues (`curbside consult list` shows them).",
                    mine.specialty
                )
            })
        }
        ConsultCommand::Ask {
            profile,
            specialty,
            share_answers,
            images,
            text,
        } => ask(&profile, (specialty, share_answers), &images, text).await,
        ConsultCommand::Save {
            profile,
            consult,
            out,
        } => save(&profile, &consult, &out).await,
        ConsultCommand::List { profile } => list(&profile).await,
        ConsultCommand::Answer {
            profile,
            consult,
            text,
        } => answer(&profile, &consult, text).await,
        ConsultCommand::Close { profile, consult } => close(&profile, &consult).await,
    }
}

async fn ask(
    profile: &ProfileArg,
    (specialty, share_answers): (String, bool),
    images: &[PathBuf],
    text: String,
) -> anyhow::Result<()> {
    let (dir, account) = Profile::open(&profile.profile)?;
    let mut state = dir.load_state()?;
    // Uploaded first: a file that cannot be read or stored asks no one.
    let attachments = upload_images(&account, images).await?;
    let mut client = connect(&dir, &mut state, account).await?;
    let question = Question {
        specialty,
        share_answers,
        text,
        attachments,
    };
    let posted = post(&mut state, &mut client, question).await;
    let account = client.close().await;
    dir.save(&account)?;
    dir.save_state(&state)?;
    let consult = posted?;
    out(&format!(
        "Asked {} verified {} clinician(s) who answer consults (consult {}). Their answers come to you{}; \
         `curbside consult list --profile {}` shows them, `curbside consult close` ends it.",
        consult.fan_out,
        consult.specialty,
        consult.consult_id,
        if share_answers {
            " and to everyone asked"
        } else {
            ""
        },
        profile.profile.display()
    ))
}

/// A consult's question as its asker writes it.
pub(crate) struct Question {
    pub(crate) specialty: String,
    pub(crate) share_answers: bool,
    pub(crate) text: String,
    /// Already uploaded (their references only).
    pub(crate) attachments: Vec<AttachmentRef>,
}

/// Posts a consult (the server chooses who is asked) and sends the
/// question, end to end encrypted, to them.
pub(crate) async fn post(
    state: &mut LocalState,
    client: &mut Client,
    question: Question,
) -> anyhow::Result<Consult> {
    let Question {
        specialty,
        share_answers,
        text,
        attachments,
    } = question;
    let (api, token) = crate::commands::login(&client.account).await?;
    let consult = api
        .post_consult(
            &token,
            &PostConsult {
                specialty,
                share_answers,
            },
        )
        .await?;
    let id = consult.consult_id.clone();
    state.consults.insert(
        id.to_string(),
        ConsultRecord {
            asker: client.address()?.user_id,
            specialty: consult.specialty.clone(),
            text: text.clone(),
            at_ms: now_ms(),
            fan_out: consult.fan_out,
            answers: Vec::new(),
            closed: false,
            attachments: attachments.clone(),
        },
    );
    let content = Content::Consult {
        consult_id: id.to_string(),
        specialty: consult.specialty.clone(),
        text,
        attachments,
    };
    send_on_consult(client, &consult.recipients, (&content, id)).await?;
    Ok(consult)
}

/// Brings the local consults up to date with the server's view (which are
/// closed, how many were asked) and learns the names of those met through them.
pub(crate) async fn refresh(api: &Api, token: &str, state: &mut LocalState) -> anyhow::Result<()> {
    let server = api.consults(token).await?;
    for c in &server {
        if let Some(local) = state.consults.get_mut(c.consult_id.as_str()) {
            local.closed |= c.status == ConsultStatus::Closed;
            local.fan_out = local.fan_out.max(c.fan_out);
        }
    }
    let unknown: std::collections::BTreeSet<UserId> = state
        .consults
        .values()
        .flat_map(|c| std::iter::once(c.asker.clone()).chain(c.answers.iter().map(|(who, _, _)| who.clone())))
        .filter(|u| !state.people.contains_key(u))
        .collect();
    for user in unknown {
        if let Ok(found) = api.directory_where(token, &[("user_id", user.as_str())]).await {
            found.into_iter().for_each(|e| state.remember(e));
        }
    }
    Ok(())
}

/// The local consults in a stable order (oldest first): the number a user
/// types (`/answer 2`) is a position in it.
pub(crate) fn numbered(state: &LocalState) -> Vec<(&String, &ConsultRecord)> {
    let mut all: Vec<(&String, &ConsultRecord)> = state.consults.iter().collect();
    all.sort_by_key(|(id, c)| (c.at_ms, id.as_str()));
    all
}

/// One consult as lines: what was asked, by whom, and its answers (ids, which
/// the caller turns into names).
pub(crate) fn describe(me: &UserId, label: &str, c: &ConsultRecord) -> Vec<String> {
    let status = if c.closed { "closed" } else { "open" };
    let mut lines = vec![if c.asker == *me {
        format!(
            "{label} {status}: you asked {} ({} asked, {} answer(s)): {}",
            c.specialty,
            c.fan_out,
            c.answers.len(),
            c.text
        )
    } else {
        format!(
            "{label} {status}: {} question from {}: {}",
            c.specialty, c.asker, c.text
        )
    }];
    if !c.attachments.is_empty() {
        lines.push(format!("    with {}", image_names(&c.attachments)));
    }
    for (who, text, _) in &c.answers {
        lines.push(format!("    answer from {who}: {text}"));
    }
    lines
}

async fn list(profile: &ProfileArg) -> anyhow::Result<()> {
    let (dir, account) = Profile::open(&profile.profile)?;
    let mut state = dir.load_state()?;
    let me = account.user_id()?.clone();
    let mut client = connect(&dir, &mut state, account).await?;
    let received = crate::messages::receive(
        &dir,
        &mut state,
        &mut client,
        std::time::Duration::from_secs(1),
        false,
        true,
    )
    .await;
    let account = client.close().await;
    dir.save(&account)?;
    received?;
    let (api, token) = crate::commands::login(&account).await?;
    refresh(&api, &token, &mut state).await?;
    dir.save_state(&state)?;
    let mut consults = numbered(&state);
    consults.sort_by_key(|(_, c)| (c.closed, std::cmp::Reverse(c.at_ms)));
    let lines: Vec<String> = consults
        .iter()
        .take(20)
        .flat_map(|(id, c)| describe(&me, &format!("[consult {id}]"), c))
        .collect();
    if lines.is_empty() {
        return out("No consults yet: `curbside consult ask --specialty … \"question\"` asks one.");
    }
    let mut lines = lines;
    if consults.iter().any(|(_, c)| c.asker != me && !c.closed) {
        lines.push(format!(
            "Answer one: curbside consult answer --profile {} <consult id> \"your answer\"",
            profile.profile.display()
        ));
    }
    if consults.iter().any(|(_, c)| c.asker == me && !c.closed) {
        lines.push(format!(
            "Close one you asked: curbside consult close --profile {} <consult id>",
            profile.profile.display()
        ));
    }
    let lines = crate::people::name_lines(&account, &mut state, &lines).await;
    dir.save_state(&state)?;
    out(&lines.join("\n"))
}

async fn answer(profile: &ProfileArg, consult: &ConsultId, text: String) -> anyhow::Result<()> {
    let (dir, account) = Profile::open(&profile.profile)?;
    let mut state = dir.load_state()?;
    if !state.consults.contains_key(consult.as_str()) {
        bail!(
            "no consult {consult} here: `curbside consult list --profile {}` shows those you were asked",
            profile.profile.display()
        );
    }
    let mut client = connect(&dir, &mut state, account).await?;
    let told = answer_with(&mut state, &mut client, consult, text).await;
    let account = client.close().await;
    dir.save(&account)?;
    dir.save_state(&state)?;
    let told = told?;
    out(&format!(
        "Answered consult {consult}; {} told.",
        state.names(&told)
    ))
}

/// Answers consult `consult` (to its asker, and to everyone asked when its
/// answers are shared); returns who was told.
pub(crate) async fn answer_with(
    state: &mut LocalState,
    client: &mut Client,
    consult: &ConsultId,
    text: String,
) -> anyhow::Result<Vec<UserId>> {
    let me = client.address()?.user_id;
    let Some(record) = state.consults.get(consult.as_str()).cloned() else {
        bail!("no consult {consult} here: only those you were asked can be answered");
    };
    if record.asker == me {
        bail!("this is your own consult: your colleagues answer it; closing it ends it");
    }
    let (api, token) = crate::commands::login(&client.account).await?;
    let mut to = vec![record.asker.clone()];
    if let Some(c) = api
        .consults(&token)
        .await?
        .into_iter()
        .find(|c| c.consult_id == *consult)
    {
        if c.status == ConsultStatus::Closed {
            if let Some(local) = state.consults.get_mut(consult.as_str()) {
                local.closed = true;
            }
            bail!("this consult is closed: its asker ended it, no answer is taken any more");
        }
        to.extend(
            c.recipients
                .into_iter()
                .filter(|u| *u != me && *u != record.asker),
        );
    }
    let content = Content::ConsultAnswer {
        consult_id: consult.to_string(),
        text: text.clone(),
    };
    send_on_consult(client, &to, (&content, consult.clone())).await?;
    if let Some(c) = state.consults.get_mut(consult.as_str()) {
        c.answers.push((me, text, now_ms()));
    }
    Ok(to)
}

async fn close(profile: &ProfileArg, consult: &ConsultId) -> anyhow::Result<()> {
    let (dir, account) = Profile::open(&profile.profile)?;
    let mut state = dir.load_state()?;
    let mut client = connect(&dir, &mut state, account).await?;
    let closed = close_with(&mut state, &mut client, consult).await;
    let account = client.close().await;
    dir.save(&account)?;
    dir.save_state(&state)?;
    closed?;
    out(&format!(
        "Closed consult {consult}: no more answers are taken, and those asked are told."
    ))
}

/// Closes a consult this user asked and tells those asked, end to end
/// encrypted, so their clients stop showing it as open.
pub(crate) async fn close_with(
    state: &mut LocalState,
    client: &mut Client,
    consult: &ConsultId,
) -> anyhow::Result<()> {
    let (api, token) = crate::commands::login(&client.account).await?;
    api.close_consult(&token, consult).await?;
    let recipients = api
        .consults(&token)
        .await?
        .into_iter()
        .find(|c| c.consult_id == *consult)
        .map(|c| c.recipients)
        .unwrap_or_default();
    if let Some(c) = state.consults.get_mut(consult.as_str()) {
        c.closed = true;
    }
    if !recipients.is_empty() {
        let content = Content::ConsultClosed {
            consult_id: consult.to_string(),
        };
        client
            .send(
                &recipients,
                MessageKind::Control,
                &random_message_id()?,
                &content.to_bytes(),
            )
            .await?;
    }
    Ok(())
}

/// Sends consult content to `to` as part of consult `id` (the server checks
/// who it may go to).
async fn send_on_consult(
    client: &mut Client,
    to: &[UserId],
    (content, id): (&Content, ConsultId),
) -> anyhow::Result<()> {
    let urgency = Urgency {
        consult: Some(id),
        ..Urgency::routine()
    };
    client
        .send_with(
            to,
            MessageKind::Message,
            &random_message_id()?,
            &content.to_bytes(),
            &urgency,
        )
        .await?;
    Ok(())
}
