//! The terminal loop: open the profile and connect, then draw, take keys,
//! take messages (every 100 ms at most, so the screen stays responsive while
//! messages arrive), reconnect with backoff when the connection drops, and
//! lock when idle; on the way out, restore the terminal and seal the profile.

use std::time::{Duration, Instant};

use curbside_client::local::LocalState;
use curbside_client::Client;
use ratatui::crossterm::event::{self, Event};

use super::app::{Action, App};
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
    let mut terminal = ratatui::init();
    let result = event_loop(
        &mut terminal,
        &mut app,
        &profile,
        &mut state,
        &mut client,
        args.lock_after_secs,
    )
    .await;
    ratatui::restore();
    profile.save(&client.account)?;
    client.close().await;
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    profile: &Profile,
    state: &mut LocalState,
    client: &mut Client,
    lock_after_secs: u64,
) -> anyhow::Result<()> {
    let mut last_key = Instant::now();
    loop {
        terminal.draw(|f| app.render(f, state, &client.account))?;
        if event::poll(Duration::from_millis(20))? {
            if let Event::Key(key) = event::read()? {
                last_key = Instant::now();
                if let Some(action) = app.handle_key(key, state) {
                    if action == Action::Quit {
                        return Ok(());
                    }
                    if let Err(e) = execute(action, app, profile, state, client).await {
                        app.notice(format!("failed: {e}"));
                    }
                }
            }
        }
        if last_key.elapsed() > Duration::from_secs(lock_after_secs) && !app.locked {
            app.lock();
        }
        match receive(profile, state, client, Duration::from_millis(80), false, false).await {
            Ok(lines) => {
                app.set_connected(true);
                if let Some(last) = lines.last() {
                    app.notice(last.clone());
                }
                if !app.locked {
                    if let Err(e) = mark_shown_read(app, profile, state, client).await {
                        app.notice(format!("read receipt not sent: {e}"));
                    }
                }
            }
            Err(_) => {
                app.set_connected(false);
                terminal.draw(|f| app.render(f, state, &client.account))?;
                if client.reconnect(5).await.is_ok() {
                    app.set_connected(true);
                    resend_queued(app, profile, state, client).await;
                }
            }
        }
    }
}
