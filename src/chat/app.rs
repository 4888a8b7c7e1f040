//! Application state: the interface as a state machine. Keys come in and
//! [`Action`]s go out; what the interface keeps beyond the sealed local
//! state (the selected conversation, the input line, the notice, whether it
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
    /// Send text to a conversation.
    Send(Conversation, String),
    /// Send a file to a conversation.
    Attach(Conversation, String),
    /// Search the directory by specialty.
    Find(String),
    /// Open (or create) a conversation with a colleague.
    Open(UserId),
    /// Show the safety number with the selected colleague.
    Verify(UserId),
    /// Unlock an idle-locked screen with the profile's passphrase.
    Unlock(Passphrase),
    /// Move a referral along its lifecycle (with a reason for decline/cancel).
    Refer(Transition, String, Option<String>),
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

/// The interface's state (what is not in the local state).
pub(crate) struct App {
    pub(super) me: UserId,
    pub(super) selected: usize,
    pub(super) input: String,
    pub(super) notice: String,
    pub(super) connected: bool,
    pub(super) locked: bool,
    pub(super) unlock: zeroize::Zeroizing<String>,
}

impl App {
    pub(crate) fn new(me: UserId) -> Self {
        Self {
            me,
            selected: 0,
            input: String::new(),
            notice: "Type to write; Enter sends. /to USER, /find SPECIALTY, /attach PATH, /team ID, /verify, /quit"
                .into(),
            connected: true,
            locked: false,
            unlock: zeroize::Zeroizing::new(String::new()),
        }
    }

    /// Every conversation: colleagues, then teams this user is still in.
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
        Self::conversations(state).get(self.selected).cloned()
    }

    pub(crate) fn select(&mut self, state: &LocalState, which: &Conversation) {
        if let Some(i) = Self::conversations(state).iter().position(|c| c == which) {
            self.selected = i;
        }
    }

    pub(crate) fn notice(&mut self, text: impl Into<String>) {
        self.notice = text.into();
    }

    /// Hides everything until the passphrase is typed again.
    pub(crate) fn lock(&mut self) {
        self.locked = true;
        self.input.clear();
    }

    pub(crate) fn set_connected(&mut self, connected: bool) {
        self.connected = connected;
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
        let count = Self::conversations(state).len();
        match key.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down if self.selected + 1 < count => self.selected += 1,
            KeyCode::Esc => self.input.clear(),
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Char(c) => self.input.push(c),
            KeyCode::Enter => return self.submit(state),
            _ => {}
        }
        None
    }

    fn submit(&mut self, state: &LocalState) -> Option<Action> {
        let line = std::mem::take(&mut self.input);
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim().to_owned();
        let current = self.current(state);
        match command {
            "/quit" => Some(Action::Quit),
            "/to" => match UserId::new(rest) {
                Ok(user) => Some(Action::Open(user)),
                Err(e) => {
                    self.notice(format!("/to needs a user id: {e}"));
                    None
                }
            },
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
                let which = Conversation::Team(curbside_client::team::TeamId::new(rest));
                self.select(state, &which);
                None
            }
            "/verify" => match current {
                Some(Conversation::With(user)) => Some(Action::Verify(user)),
                _ => {
                    self.notice("/verify works in a conversation with one colleague");
                    None
                }
            },
            "/attach" => match current {
                Some(c) => Some(Action::Attach(c, rest)),
                None => {
                    self.notice("open a conversation first (/to USER)");
                    None
                }
            },
            c if c.starts_with('/') => {
                self.notice(format!("unknown command {c}"));
                None
            }
            _ => match current {
                Some(c) => Some(Action::Send(c, line.to_owned())),
                None => {
                    self.notice("open a conversation first (/to USER)");
                    None
                }
            },
        }
    }
}
