//! Curbside consults in the chat: `/consult` lists them, numbered, with
//! their answers; `/consult SPECIALTY: QUESTION` asks the verified
//! clinicians of a specialty who answer consults; `/answer N TEXT` answers
//! consult N; `/close N` closes one this user asked. The same operations as
//! `curbside consult` (see `crate::consults`), on the chat's connection.

use curbside_client::local::LocalState;
use curbside_client::urgent::ConsultRecord;
use curbside_client::Client;
use curbside_protocol::ids::ConsultId;

use super::app::App;
use crate::consults::{answer_with, close_with, describe, numbered, post, refresh};
use crate::profile::Profile;

/// The panel: open consults first, each with the number `/answer` and
/// `/close` take.
pub(super) async fn list(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &Client,
) -> anyhow::Result<()> {
    if let Ok((api, token)) = crate::commands::login(&client.account).await {
        // Offline, the local view is shown as it is.
        let _ = refresh(&api, &token, state).await;
        profile.save_state(state)?;
    }
    let mut all: Vec<(usize, &String, &ConsultRecord)> = numbered(state)
        .into_iter()
        .enumerate()
        .map(|(i, (id, c))| (i + 1, id, c))
        .collect();
    all.sort_by_key(|(_, _, c)| (c.closed, std::cmp::Reverse(c.at_ms)));
    let lines: Vec<String> = if all.is_empty() {
        vec!["No consults yet: /consult SPECIALTY: QUESTION asks one.".to_owned()]
    } else {
        all.iter()
            .take(20)
            .flat_map(|(n, _, c)| describe(&app.me, &format!("{n}."), c))
            .map(|line| crate::people::with_names(state, &line))
            .collect()
    };
    app.show(
        "Consults: /answer N TEXT answers one; /images N [DIR] saves its images; /close N closes one you asked",
        lines,
    );
    Ok(())
}

/// A receive loop's consult line ("[consult c…] answer from …") as the chat
/// says it: by the number `/answer` and `/close` take, with what to do next.
pub(crate) fn notice_words(state: &LocalState, line: &str) -> Option<String> {
    let rest = line.strip_prefix("[consult ")?;
    let (id, rest) = rest.split_once("] ")?;
    let n = numbered(state).iter().position(|(i, _)| i.as_str() == id)? + 1;
    let rest = rest.split(" (answer: curbside consult").next().unwrap_or(rest);
    Some(if rest.contains(" question from ") && rest.contains(" [with ") {
        format!("Consult {n}: {rest} — /answer {n} TEXT answers it; /images {n} [DIR] saves the images")
    } else if rest.contains(" question from ") {
        format!("Consult {n}: {rest} — /answer {n} TEXT answers it")
    } else if rest.starts_with("answer from ") {
        format!("Consult {n}: {rest} (/consult shows them all; /close {n} ends it)")
    } else {
        format!("Consult {n} {rest}")
    })
}

/// Consult number `n` (as the panel numbers them), or a notice saying why not.
fn nth(app: &mut App, state: &LocalState, n: usize) -> Option<(ConsultId, ConsultRecord)> {
    let found = numbered(state)
        .into_iter()
        .nth(n.wrapping_sub(1))
        .and_then(|(id, c)| ConsultId::new(id.clone()).ok().map(|id| (id, c.clone())));
    if found.is_none() {
        app.notice(format!(
            "There is no consult {n}: /consult lists them with their numbers"
        ));
    }
    found
}

/// Asks `specialty`; tells how many were asked (not who).
pub(super) async fn ask(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    (specialty, typed): (String, String),
) -> anyhow::Result<()> {
    let (text, images) = split_images(&typed);
    if text.is_empty() {
        app.input = format!("/consult {specialty}: {typed}");
        app.notice("/consult SPECIALTY: QUESTION [--image PATH]…: the question comes before the images");
        return Ok(());
    }
    let attachments = match crate::consults::upload_images(&client.account, &images).await {
        Ok(attachments) => attachments,
        Err(e) => {
            app.input = format!("/consult {specialty}: {typed}");
            return Err(e);
        }
    };
    let posted = post(
        state,
        client,
        crate::consults::Question {
            specialty: specialty.clone(),
            share_answers: false,
            text: text.clone(),
            attachments,
        },
    )
    .await;
    profile.save_state(state)?;
    let consult = match posted {
        Ok(consult) => consult,
        Err(e) => {
            // What was typed is kept, to send again once the reason is dealt with.
            app.input = format!("/consult {specialty}: {typed}");
            return Err(e);
        }
    };
    let with = match images.len() {
        0 => String::new(),
        1 => ", with 1 image,".to_owned(),
        n => format!(", with {n} images,"),
    };
    app.notice(format!(
        "Consult asked{with} of {} verified {} clinician(s) who answer consults; answers come to you (/consult shows them)",
        consult.fan_out, consult.specialty
    ));
    Ok(())
}

/// "Rash? --image a.png --image my photos/b.jpg" → the question and the
/// image paths (a path runs to the next ` --image `, so it may hold spaces).
fn split_images(typed: &str) -> (String, Vec<std::path::PathBuf>) {
    let mut parts = typed.split("--image ");
    let text = parts.next().unwrap_or_default().trim().to_owned();
    let images = parts
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .collect();
    (text, images)
}

#[cfg(test)]
#[test]
fn a_question_and_its_images_are_read_from_one_line() {
    let (text, images) = split_images("Target lesions? --image palm.png --image my photos/back.jpg ");
    assert_eq!(text, "Target lesions?");
    assert_eq!(
        images,
        vec![
            std::path::PathBuf::from("palm.png"),
            std::path::PathBuf::from("my photos/back.jpg")
        ]
    );
    assert_eq!(split_images("No images").1, Vec::<std::path::PathBuf>::new());
}

/// Answers consult number `n`.
pub(super) async fn answer(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    (n, text): (usize, String),
) -> anyhow::Result<()> {
    let Some((id, record)) = nth(app, state, n) else {
        return Ok(());
    };
    if record.asker == app.me {
        app.notice(format!(
            "Consult {n} is yours: colleagues answer it; /close {n} ends it"
        ));
        return Ok(());
    }
    let told = answer_with(state, client, &id, text).await;
    profile.save_state(state)?;
    match told {
        Ok(told) => app.notice(format!("Answered consult {n}; {} told", state.names(&told))),
        Err(e) => app.notice(format!("Consult {n} not answered: {e:#}")),
    }
    Ok(())
}

/// Closes consult number `n`, one this user asked.
pub(super) async fn close(
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    n: usize,
) -> anyhow::Result<()> {
    let Some((id, record)) = nth(app, state, n) else {
        return Ok(());
    };
    if record.asker != app.me {
        app.notice(format!(
            "Consult {n} was asked by {}: only they close it (/answer {n} TEXT answers it)",
            state.name(&record.asker)
        ));
        return Ok(());
    }
    if record.closed {
        app.notice(format!("Consult {n} is already closed"));
        return Ok(());
    }
    let closed = close_with(state, client, &id).await;
    profile.save_state(state)?;
    closed?;
    app.notice(format!(
        "Closed consult {n}: no more answers are taken, and those asked are told"
    ));
    Ok(())
}

/// Saves consult N's images into a folder (default: the current one).
pub(super) async fn images(
    app: &mut App,
    state: &LocalState,
    client: &Client,
    (n, dir): (usize, Option<String>),
) -> anyhow::Result<()> {
    let Some((_, record)) = nth(app, state, n) else {
        return Ok(());
    };
    if record.attachments.is_empty() {
        app.notice(format!("Consult {n} came without images"));
        return Ok(());
    }
    let dir = std::path::PathBuf::from(dir.unwrap_or_else(|| ".".into()));
    match crate::consults::save_all(&client.account, &record, &dir).await {
        Ok(saved) => {
            let list: Vec<String> = saved.iter().map(|p| p.display().to_string()).collect();
            app.notice(format!("Saved consult {n}'s images: {}", list.join(", ")));
        }
        Err(e) => app.notice(format!("Consult {n}'s images were not saved: {e:#}")),
    }
    Ok(())
}
