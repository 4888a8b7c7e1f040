//! The terminal loop: open the profile and connect, then wait for whichever
//! comes first (a key, something pushed by the server, the time to retry a
//! lost connection, a one-second tick) and handle it, drawing after each.
//! Keys are read on a thread of their own, so typing never waits on the
//! network. A closed connection shows `reconnecting…` and is retried with
//! backoff (100 ms doubling to 10 s, with jitter); what is typed meanwhile
//! goes to the sealed outbox and is sent on reconnection. After a
//! reconnection (and at start) the referral envelopes are asked of the
//! server, so transitions made while away are seen, and unknown names are
//! looked up. On the way out, restore the terminal and seal the profile.

use std::time::Duration;

use curbside_client::local::LocalState;
use curbside_client::Client;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::app::{Action, App, Link};
use super::execute::{execute, mark_shown_read, resend_queued};
use super::ChatArgs;
use crate::messages::{connect, receive};
use crate::profile::Profile;

/// The terminal loop.
pub(crate) async fn run(args: ChatArgs) -> anyhow::Result<()> {
    let (profile, account) = Profile::open(&args.profile.profile)?;
    let mut state = profile.load_state()?;
    let me = account.user_id()?.clone();
    let mut client = connect(&profile, &mut state, account).await?;
    let mut app = App::new(me);
    catch_up(&mut app, &profile, &mut state, &client).await;
    let mut keys = read_keys();
    let mut terminal = ratatui::init();
    let result = event_loop(
        &mut terminal,
        &mut keys,
        &mut app,
        &profile,
        &mut state,
        &mut client,
        Duration::from_secs(args.lock_after_secs),
        |_| {},
    )
    .await;
    ratatui::restore();
    profile.save(&client.account)?;
    client.close().await;
    result
}

/// Key presses (and resizes), from a thread blocked on the terminal.
fn read_keys() -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    rx
}

/// What changed while this device was away: the referral envelopes as the
/// server has them now, and the names of people met since.
pub(super) async fn catch_up(app: &mut App, profile: &Profile, state: &mut LocalState, client: &Client) {
    let Ok((api, token)) = crate::commands::login(&client.account).await else {
        return;
    };
    crate::refer::catch_up(&api, &token, state).await;
    // The organisation's retention policy, applied to the history at every connection.
    if let Ok(policy) = api.policy(&token).await {
        let purged = state.apply_policy(&policy, crate::messages::now_ms());
        if purged > 0 {
            app.notice(format!(
                "{purged} message(s) older than your organisation's retention policy were deleted"
            ));
        }
    }
    let me = app.me.clone();
    let news = crate::oncall::role_news(&api, &token, state, &me).await;
    if !news.is_empty() {
        app.notice(news.join(" "));
    }
    if !state.people.contains_key(&me) {
        if let Ok(found) = api.directory_where(&token, &[("user_id", me.as_str())]).await {
            found.into_iter().for_each(|e| state.remember(e));
        }
    }
    crate::people::learn_names(&api, &token, state).await;
    app.asked_names.extend(state.unnamed());
    if let Err(e) = profile.save_state(state) {
        app.notice(format!("could not save the profile: {e}"));
    }
}

/// The loop, on any backend (the terminal, or a test's), with keys from
/// `keys`; `on_draw` sees every frame drawn.
#[allow(clippy::too_many_arguments)]
pub(super) async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    keys: &mut mpsc::UnboundedReceiver<Event>,
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    lock_after: Duration,
    mut on_draw: impl FnMut(&Terminal<B>),
) -> anyhow::Result<()> {
    let mut last_key = Instant::now();
    let mut retry_at = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        terminal.draw(|f| app.render(f, state, &client.account))?;
        on_draw(terminal);
        let connected = app.link == Link::Connected;
        tokio::select! {
            ev = keys.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                let Event::Key(key) = ev else { continue };
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                last_key = Instant::now();
                let Some(action) = app.handle_key(key, state) else {
                    if !app.locked {
                        if let Err(e) = mark_shown_read(app, profile, state, client).await {
                            app.notice(format!("read receipt not sent: {e}"));
                        }
                    }
                    continue;
                };
                if action == Action::Quit {
                    return Ok(());
                }
                if let Err(e) = execute(action, app, profile, state, client).await {
                    app.error(&format!("failed: {e:#}"));
                }
                // A conversation opened shows what came unread: its receipts go now.
                if !app.locked {
                    if let Err(e) = mark_shown_read(app, profile, state, client).await {
                        app.notice(format!("read receipt not sent: {e}"));
                    }
                }
            }
            () = client.wait_for_activity(), if connected => {
                match receive(profile, state, client, Duration::ZERO, false, false).await {
                    Ok(lines) => {
                        // Names of people met since, each asked of the
                        // directory once (one not in it stays unnamed).
                        let new: Vec<_> = state
                            .unnamed()
                            .into_iter()
                            .filter(|u| !app.asked_names.contains(u))
                            .collect();
                        if !new.is_empty() {
                            if let Ok((api, token)) = crate::commands::login(&client.account).await {
                                crate::people::learn_names(&api, &token, state).await;
                                app.asked_names.extend(new);
                            }
                        }
                        if let Some(last) = lines.last() {
                            // "[5f3c…] from …": the message id is for scripts, not for people.
                            let last = match last.split_once("] ") {
                                Some((id, rest)) if id.starts_with('[') && id[1..].bytes().all(|b| b.is_ascii_hexdigit()) => rest,
                                _ => last.as_str(),
                            };
                            // In the chat, a page is acknowledged with /ack (the
                            // profile is in use: the CLI's `curbside ack` cannot run).
                            let last = match last.find(" (acknowledge: curbside ack") {
                                Some(i) => format!("{} — /ack to acknowledge", &last[..i]),
                                None => super::consults::notice_words(state, last).unwrap_or_else(|| last.to_owned()),
                            };
                            app.notice(crate::people::with_names(state, &last));
                        }
                        if !app.locked {
                            if let Err(e) = mark_shown_read(app, profile, state, client).await {
                                app.notice(format!("read receipt not sent: {e}"));
                            }
                        }
                    }
                    Err(_) if client.connection().is_closed() => {
                        app.set_link(Link::Reconnecting { attempt: 1 });
                        delay = Duration::from_millis(100);
                        retry_at = Instant::now();
                    }
                    Err(e) => app.notice(format!("receiving: {e:#}")),
                }
            }
            () = tokio::time::sleep_until(retry_at), if !connected => {
                match client.reconnect(1).await {
                    Ok(()) => {
                        app.set_link(Link::Connected);
                        app.notice("Reconnected.");
                        resend_queued(app, profile, state, client).await;
                        catch_up(app, profile, state, client).await;
                    }
                    Err(e) => {
                        if !e.is_retryable() {
                            app.notice(format!("cannot reconnect: {e} (still trying)"));
                        }
                        let jitter = Duration::from_millis(u64::from(rand_core::RngCore::next_u32(&mut rand_core::OsRng) % 100));
                        delay = (delay * 2).min(Duration::from_secs(10));
                        retry_at = Instant::now() + delay + jitter;
                        if let Link::Reconnecting { attempt } = app.link {
                            app.set_link(Link::Reconnecting { attempt: attempt + 1 });
                        }
                    }
                }
            }
            _ = tick.tick() => {
                if last_key.elapsed() > lock_after && !app.locked {
                    app.lock();
                }
            }
        }
    }
}
