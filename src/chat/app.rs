//! Application state: the interface as a state machine. Keys come in and
//! [`Action`]s go out; what the interface keeps beyond the sealed local
//! state (the selected conversation, the input line, the notice, a panel of
//! results, the scroll position, a send waiting for confirmation, whether it
//! is connected or locked) lives in [`App`].

use curbside_client::local::LocalState;
use curbside_protocol::ids::UserId;
use curbside_protocol::referral::Transition;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A conversation in the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Conversation {
    /// The referral inbox: every referral with its status and priority.
    Referrals,
    /// With one colleague.
    With(UserId),
    /// A care team, by id.
    Team(curbside_client::team::TeamId),
}

/// What the interface asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send text to a conversation (`true`: the user confirmed sending
    /// despite a trust warning).
    Send(Conversation, String, bool),
    /// Send a file to a conversation.
    Attach(Conversation, String),
    /// Save the conversation's attachment number N (from 1, newest last)
    /// into a directory (or list them, without a number).
    Download(Option<usize>, Option<String>),
    /// Search the directory by specialty.
    Find(String),
    /// Open (or create) a conversation with a colleague named by name, NPI or id.
    Open(String),
    /// Show the safety number with the selected colleague.
    Verify(UserId),
    /// Confirm the safety number with the selected colleague (the digits
    /// they read out).
    Confirm(UserId, String),
    /// Unlock an idle-locked screen with the profile's passphrase.
    Unlock(Passphrase),
    /// Move a referral along its lifecycle (with a reason for decline/cancel).
    Refer(Transition, String, Option<String>),
    /// Send text to a colleague or a team as urgent or stat.
    Urgent(Conversation, String, curbside_protocol::referral::Priority),
    /// Acknowledge every urgent or stat message still alerting.
    Acknowledge,
    /// Recall the last message sent to this colleague.
    Recall(UserId),
    /// List the on-call roles, or write to whoever holds one (role, text).
    OnCall(Option<(String, String)>),
    /// Hand an on-call role off to a colleague (role, colleague).
    HandOff(String, String),
    /// List the consults, or ask a specialty (specialty, question).
    Consult(Option<(String, String)>),
    /// Answer consult number N (as `/consult` numbers them).
    Answer(usize, String),
    /// Save consult N's images into a directory (default .).
    ConsultImages(usize, Option<String>),
    /// Close consult number N.
    CloseConsult(usize),
    /// Leave.
    Quit,
}

/// A typed passphrase: wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Passphrase(pub(super) zeroize::Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

/// Results with room of their own (search results, a safety number, help),
/// shown until Esc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) lines: Vec<String>,
}

/// The connection as the status line shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    Connected,
    /// Lost; the next attempt is this one.
    Reconnecting {
        attempt: u32,
    },
}

pub(crate) const HELP: &[&str] = &[
    "Enter sends what you typed to the selected conversation; Up/Down choose a conversation.",
    "In the list: ✓ safety number verified, ! keys changed since you verified them, ? not in the directory.",
    "PageUp/PageDown scroll the messages; Esc closes this panel or clears the input; Tab completes a name.",
    "/to NAME|NPI|ID        open a conversation with a colleague (a name or part of one)",
    "/find SPECIALTY        verified clinicians of a specialty",
    "/attach PATH           send a file (encrypted on this device)",
    "/download [N] [DIR]    list this conversation's attachments, or save number N into DIR (default .)",
    "/verify                show the safety number with this colleague",
    "/confirm DIGITS        confirm it: the 60 digits your colleague reads out to you",
    "/team [NAME]           open a care team (without a name: list your teams)",
    "/referrals             the referral inbox; /refer accept|decline|cancel|complete ID [reason]",
    "/urgent TEXT, /stat TEXT  alert a colleague or a team (pinned in red) until acknowledged; /ack acknowledges what is pinned",
    "/recall                take back your last message here (a colleague who read it may remember it)",
    "/oncall [ROLE: TEXT]   on-call roles and who holds each now; with ROLE: TEXT, write to whoever holds it",
    "/handoff ROLE: NAME    hand an on-call role you hold to a colleague, from now on",
    "/consult [SPECIALTY: QUESTION [--image PATH]…]  your consults, numbered; with a specialty: ask its clinicians who answer consults (up to 4 images)",
    "/answer N TEXT         answer consult N;  /close N closes consult N you asked",
    "/images N [DIR]        save consult N's images into DIR (default .)",
    "/help                  this help;  /quit (or Ctrl-C) leaves",
];

/// The interface's state (what is not in the local state).
pub(crate) struct App {
    pub(super) me: UserId,
    /// The conversation chosen (by identity, not position: a conversation
    /// arriving that sorts before it must not move what Enter sends to).
    pub(super) chosen: Option<Conversation>,
    pub(super) input: String,
    pub(super) notice: String,
    pub(super) panel: Option<Panel>,
    /// Lines scrolled up from the newest message.
    pub(super) scroll: usize,
    /// A send refused for a trust warning, sent if the user presses Enter
    /// on an empty line (Esc drops it).
    pub(super) confirm: Option<(Action, String)>,
    pub(super) link: Link,
    pub(super) locked: bool,
    pub(super) unlock: zeroize::Zeroizing<String>,
    pub(super) unlock_error: Option<String>,
    /// Users whose names were asked of the directory (not asked again).
    pub(super) asked_names: std::collections::BTreeSet<UserId>,
}

impl App {
    pub(crate) fn new(me: UserId) -> Self {
        Self {
            me,
            chosen: None,
            input: String::new(),
            notice: "Type to write; Enter sends. /help lists the commands (/to NAME opens a conversation)."
                .into(),
            panel: None,
            scroll: 0,
            confirm: None,
            link: Link::Connected,
            locked: false,
            unlock: zeroize::Zeroizing::new(String::new()),
            unlock_error: None,
            asked_names: std::collections::BTreeSet::new(),
        }
    }

    /// Every conversation: the referral inbox, colleagues, then teams this
    /// user is still in.
    pub(crate) fn conversations(state: &LocalState) -> Vec<Conversation> {
        let mut out = Vec::new();
        if !state.referral_envelopes.is_empty() || !state.referrals.is_empty() {
            out.push(Conversation::Referrals);
        }
        out.extend(state.contacts.keys().cloned().map(Conversation::With));
        out.extend(
            state
                .teams
                .values()
                .filter(|t| !t.removed)
                .map(|t| Conversation::Team(t.team_id.clone())),
        );
        out
    }

    pub(crate) fn current(&self, state: &LocalState) -> Option<Conversation> {
        let all = Self::conversations(state);
        match &self.chosen {
            Some(c) if all.contains(c) => Some(c.clone()),
            _ => all.first().cloned(),
        }
    }

    /// The current conversation's position in the list.
    pub(crate) fn position(&self, state: &LocalState) -> Option<usize> {
        let current = self.current(state)?;
        Self::conversations(state).iter().position(|c| *c == current)
    }

    pub(crate) fn select(&mut self, state: &LocalState, which: &Conversation) {
        if Self::conversations(state).contains(which) {
            self.chosen = Some(which.clone());
            self.scroll = 0;
        }
    }

    pub(crate) fn notice(&mut self, text: impl Into<String>) {
        self.notice = text.into();
    }

    /// An error, in the chat's words: the scriptable commands' hints (which
    /// cannot run while the chat holds the profile) become the chat's
    /// commands; one of several lines (a list of choices) opens a panel.
    pub(crate) fn error(&mut self, text: &str) {
        let text = chat_words(text);
        let mut lines = text.lines().map(str::to_owned);
        let first = lines.next().unwrap_or_default();
        let rest: Vec<String> = lines.map(|l| l.trim().to_owned()).collect();
        if !rest.is_empty() {
            self.show(first.clone(), rest);
        }
        self.notice(first);
    }

    pub(crate) fn show(&mut self, title: impl Into<String>, lines: Vec<String>) {
        self.panel = Some(Panel {
            title: title.into(),
            lines,
        });
    }

    /// Hides everything until the passphrase is typed again.
    pub(crate) fn lock(&mut self) {
        self.locked = true;
        self.input.clear();
        self.panel = None;
        self.confirm = None;
        self.unlock_error = None;
    }

    pub(crate) fn set_link(&mut self, link: Link) {
        self.link = link;
    }

    /// One key press; returns what to do, if anything.
    pub(crate) fn handle_key(&mut self, key: KeyEvent, state: &LocalState) -> Option<Action> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Action::Quit);
        }
        if self.locked {
            match key.code {
                KeyCode::Enter => {
                    let typed = std::mem::take(&mut *self.unlock);
                    return Some(Action::Unlock(Passphrase(zeroize::Zeroizing::new(typed))));
                }
                KeyCode::Backspace => {
                    self.unlock.pop();
                }
                KeyCode::Char(c) => self.unlock.push(c),
                _ => {}
            }
            return None;
        }
        let all = Self::conversations(state);
        let at = self.position(state).unwrap_or(0);
        match key.code {
            KeyCode::Up => {
                self.chosen = all.get(at.saturating_sub(1)).cloned();
                self.scroll = 0;
            }
            KeyCode::Down if at + 1 < all.len() => {
                self.chosen = all.get(at + 1).cloned();
                self.scroll = 0;
            }
            KeyCode::PageUp => self.scroll = self.scroll.saturating_add(10),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Esc => {
                if self.confirm.take().is_some() {
                    self.notice("Not sent.");
                } else if self.panel.take().is_none() {
                    self.input.clear();
                }
            }
            KeyCode::Tab => self.complete(state),
            KeyCode::Backspace => {
                self.input.pop();
            }
            // Ctrl-U clears the line (as in a shell); other control keys type nothing.
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => self.input.clear(),
            KeyCode::Char(_) if key.modifiers.contains(KeyModifiers::CONTROL) => {}
            KeyCode::Char(c) => self.input.push(c),
            KeyCode::Enter => return self.submit(state),
            _ => {}
        }
        None
    }

    /// Completes the name being typed after `/to ` from the names this
    /// profile knows; several candidates are listed in the panel.
    fn complete(&mut self, state: &LocalState) {
        let Some(partial) = self.input.strip_prefix("/to ").map(str::to_owned) else {
            return;
        };
        let lower = partial.to_lowercase();
        // "Bo", "Brennan" and "Dr. B" all find Dr. Bob Brennan.
        let fits = |name: &str| {
            let name = name.to_lowercase();
            name.starts_with(&lower) || name.split_whitespace().any(|w| w.starts_with(&lower))
        };
        let names: Vec<String> = state
            .people
            .values()
            .filter(|p| p.user_id != self.me && fits(&p.display_name))
            .map(|p| p.display_name.clone())
            .collect();
        match names.as_slice() {
            [] => self.notice(format!(
                "No colleague you know is called {partial}…: /find SPECIALTY searches"
            )),
            [one] => {
                self.input = format!("/to {one}");
                self.notice("");
            }
            several => {
                let common = common_prefix(several);
                if common.to_lowercase().starts_with(&lower)
                    && common.chars().count() > partial.chars().count()
                {
                    self.input = format!("/to {common}");
                }
                self.show("Names", several.to_vec());
            }
        }
    }

    fn submit(&mut self, state: &LocalState) -> Option<Action> {
        let line = std::mem::take(&mut self.input);
        let line = line.trim();
        if line.is_empty() {
            return self.confirm.take().map(|(action, _)| match action {
                Action::Send(c, text, _) => Action::Send(c, text, true),
                other => other,
            });
        }
        self.confirm = None;
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim().to_owned();
        let current = self.current(state);
        let with_one = |app: &mut Self, what: &str| match &current {
            Some(Conversation::With(user)) => Some(user.clone()),
            _ => {
                app.notice(format!("{what} works in a conversation with one colleague"));
                None
            }
        };
        match command {
            "/quit" => Some(Action::Quit),
            "/help" => {
                self.show("Help", HELP.iter().map(|s| (*s).to_owned()).collect());
                None
            }
            "/to" if rest.is_empty() => {
                self.notice("/to NAME (or an NPI, or an id): Tab completes names you know");
                None
            }
            "/to" => Some(Action::Open(rest)),
            "/find" => Some(Action::Find(rest)),
            "/referrals" => {
                self.select(state, &Conversation::Referrals);
                None
            }
            "/refer" => {
                let mut words = rest.splitn(3, ' ');
                let (verb, id, reason) = (words.next(), words.next(), words.next());
                match (verb.and_then(Transition::parse), id) {
                    (Some(t), Some(id)) => Some(Action::Refer(t, id.to_owned(), reason.map(str::to_owned))),
                    _ => {
                        self.notice("/refer accept|decline|cancel|complete ID [reason]; create with `curbside refer create`");
                        None
                    }
                }
            }
            "/team" => {
                self.open_team(state, &rest);
                None
            }
            "/verify" => with_one(self, "/verify").map(Action::Verify),
            "/urgent" | "/stat" if rest.is_empty() => {
                self.notice(format!("{command} TEXT: the message to send"));
                None
            }
            "/urgent" | "/stat" => {
                let priority = if command == "/stat" {
                    curbside_protocol::referral::Priority::Stat
                } else {
                    curbside_protocol::referral::Priority::Urgent
                };
                match current.clone() {
                    Some(c @ (Conversation::With(_) | Conversation::Team(_))) => {
                        Some(Action::Urgent(c, rest, priority))
                    }
                    _ => {
                        self.notice(format!("{command} works in a conversation with a colleague or a team (/to NAME, /team NAME)"));
                        None
                    }
                }
            }
            "/ack" => Some(Action::Acknowledge),
            "/oncall" | "/consult" if rest.is_empty() => Some(if command == "/oncall" {
                Action::OnCall(None)
            } else {
                Action::Consult(None)
            }),
            "/oncall" | "/handoff" | "/consult" => {
                let Some(pair) = colon_pair(&rest) else {
                    self.notice(match command {
                        "/oncall" => "/oncall ROLE: TEXT writes to whoever holds a role (/oncall lists them)",
                        "/handoff" => "/handoff ROLE: NAME hands a role you hold to a colleague",
                        _ => "/consult SPECIALTY: QUESTION asks a specialty (/consult lists yours)",
                    });
                    return None;
                };
                Some(match command {
                    "/oncall" => Action::OnCall(Some(pair)),
                    "/handoff" => Action::HandOff(pair.0, pair.1),
                    _ => Action::Consult(Some(pair)),
                })
            }
            "/answer" | "/close" => {
                let (n, text) = rest.split_once(' ').unwrap_or((&rest, ""));
                match (n.parse::<usize>(), command) {
                    (Ok(n), "/close") if n > 0 => Some(Action::CloseConsult(n)),
                    (Ok(n), _) if n > 0 && !text.trim().is_empty() => {
                        Some(Action::Answer(n, text.trim().to_owned()))
                    }
                    _ => {
                        self.notice(format!(
                            "{command} N{}: N is the number /consult shows",
                            if command == "/answer" { " TEXT" } else { "" }
                        ));
                        None
                    }
                }
            }
            "/recall" if !rest.is_empty() => {
                self.notice(
                    "/recall takes back your last message in this conversation, and takes nothing after it",
                );
                None
            }
            "/recall" => with_one(self, "/recall").map(Action::Recall),
            "/confirm" => {
                let user = with_one(self, "/confirm")?;
                if rest.is_empty() {
                    self.notice("/confirm DIGITS: the 60 digits your colleague reads out (spaces allowed)");
                    return None;
                }
                Some(Action::Confirm(user, rest))
            }
            "/images" => {
                let mut words = rest.split_whitespace();
                match words.next().map(str::parse::<usize>) {
                    Some(Ok(n)) if n > 0 => Some(Action::ConsultImages(n, words.next().map(str::to_owned))),
                    _ => {
                        self.notice("/images N [DIR]: N is the consult's number (/consult lists them)");
                        None
                    }
                }
            }
            "/download" => {
                let mut words = rest.split_whitespace();
                let first = words.next();
                match first.map(str::parse::<usize>) {
                    None => Some(Action::Download(None, None)),
                    Some(Ok(n)) if n > 0 => Some(Action::Download(Some(n), words.next().map(str::to_owned))),
                    Some(_) => {
                        self.notice("/download N [DIR]: N is the number /download lists");
                        None
                    }
                }
            }
            "/attach" if rest.is_empty() => {
                self.notice("/attach PATH: the file to send");
                None
            }
            "/attach" => match current {
                Some(c) => Some(Action::Attach(c, rest)),
                None => {
                    self.notice("open a conversation first (/to NAME)");
                    None
                }
            },
            c if c.starts_with('/') => {
                self.notice(format!("unknown command {c}: /help lists them"));
                None
            }
            _ => match current {
                Some(c) => Some(Action::Send(c, line.to_owned(), false)),
                None => {
                    self.notice("open a conversation first (/to NAME)");
                    None
                }
            },
        }
    }

    fn open_team(&mut self, state: &LocalState, typed: &str) {
        let teams: Vec<&curbside_client::team::Team> = state.teams.values().filter(|t| !t.removed).collect();
        if typed.is_empty() {
            let lines = if teams.is_empty() {
                vec!["You are in no care team (`curbside team create` makes one).".to_owned()]
            } else {
                teams
                    .iter()
                    .map(|t| format!("{}: {}", t.name, state.names(&t.members)))
                    .collect()
            };
            self.show("Your teams (/team NAME opens one)", lines);
            return;
        }
        let lower = typed.to_lowercase();
        let found: Vec<_> = teams
            .iter()
            .filter(|t| t.team_id.as_str() == typed || t.name.to_lowercase().contains(&lower))
            .collect();
        match found.as_slice() {
            [t] => {
                let which = Conversation::Team(t.team_id.clone());
                self.select(state, &which);
            }
            [] => self.notice(format!(
                "You are in no team called {typed}: /team lists your teams"
            )),
            several => {
                let names: Vec<&str> = several.iter().map(|t| t.name.as_str()).collect();
                self.notice(format!("Several teams match {typed}: {}", names.join(", ")));
            }
        }
    }
}

/// The CLI's hints as the chat's commands.
fn chat_words(text: &str) -> String {
    let mut text = text
        .replace("`curbside oncall list` shows them", "/oncall lists them")
        .replace(
            "`curbside oncall list` shows its shifts",
            "/oncall shows who holds each role",
        )
        .replace(
            "(`curbside consult close`)",
            "(/consult lists them, /close N closes one)",
        );
    // "search with `curbside directory --profile … --name PART` (…)"
    if let Some(start) = text.find("`curbside directory") {
        if let Some(len) = text[start + 1..].find('`') {
            text.replace_range(start..start + len + 2, "/find SPECIALTY or /to NAME");
        }
    }
    text
}

/// "On-call dermatology: rash?" as ("On-call dermatology", "rash?"); both
/// parts needed.
fn colon_pair(rest: &str) -> Option<(String, String)> {
    let (a, b) = rest.split_once(':')?;
    let (a, b) = (a.trim(), b.trim());
    (!a.is_empty() && !b.is_empty()).then(|| (a.to_owned(), b.to_owned()))
}

fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut prefix: Vec<char> = first.chars().collect();
    for w in &words[1..] {
        let same = prefix
            .iter()
            .zip(w.chars())
            .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
            .count();
        prefix.truncate(same);
    }
    prefix.into_iter().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
#[path = "app_tests.rs"]
mod tests;
