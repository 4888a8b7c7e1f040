//! Drawing: the whole screen as a pure rendering of the interface's state
//! and the sealed local state (status line, notice or warning banner,
//! conversation list, messages or the referral inbox, input line).

use curbside_client::fhir::patient_name;
use curbside_client::local::{key_set_fingerprint, LocalState, Status, StoredMessage, Trust};
use curbside_client::Account;
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::referral::{Priority, Status as RefStatus};
use ratatui::layout::{Constraint, Direction, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Conversation};

impl App {
    /// Draws the whole screen from the local state.
    pub(crate) fn render(&self, frame: &mut Frame<'_>, state: &LocalState, account: &Account) {
        let rows = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Min(3),
                Constraint::Length(3),
            ])
            .split(frame.area());
        let connection = if self.connected {
            Span::styled("● connected", Style::default().fg(Color::Green))
        } else {
            Span::styled("○ reconnecting…", Style::default().fg(Color::Yellow))
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("Curbside ", Style::default().add_modifier(Modifier::BOLD)),
                Span::raw(format!("{}  ", self.me)),
                connection,
            ])),
            rows[0],
        );
        let current = self.current(state);
        let banner = match &current {
            Some(Conversation::With(user)) => state.contacts.get(user).and_then(|c| {
                (c.trust(&key_set_fingerprint(&account.identity_keys_of(user))) == Trust::Changed).then(|| {
                    format!("⚠ {user}'s identity keys changed since you verified them: /verify before sharing more")
                })
            }),
            _ => None,
        };
        let (text, style) = match (&banner, self.locked) {
            (_, true) => (
                "Locked after inactivity: type your passphrase and press Enter".to_owned(),
                Style::default().fg(Color::Black).bg(Color::Yellow),
            ),
            (Some(b), false) => (b.clone(), Style::default().fg(Color::White).bg(Color::Red)),
            (None, false) => (self.notice.clone(), Style::default().fg(Color::Cyan)),
        };
        frame.render_widget(Paragraph::new(text).style(style), rows[1]);
        let columns = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(34), Constraint::Min(20)])
            .split(rows[2]);
        if self.locked {
            frame.render_widget(Block::default().borders(Borders::ALL), rows[2]);
        } else {
            self.render_lists(frame, state, &current, &columns);
        }
        let input = if self.locked {
            format!("passphrase: {}", "*".repeat(self.unlock.chars().count()))
        } else {
            format!("> {}", self.input)
        };
        frame.render_widget(
            Paragraph::new(input).block(Block::default().borders(Borders::ALL)),
            rows[3],
        );
    }

    fn render_lists(
        &self,
        frame: &mut Frame<'_>,
        state: &LocalState,
        current: &Option<Conversation>,
        columns: &[ratatui::layout::Rect],
    ) {
        let items: Vec<ListItem<'_>> = Self::conversations(state)
            .iter()
            .map(|c| {
                let label = match c {
                    Conversation::With(user) => {
                        let unread = state.contacts.get(user).map_or(0, |c| c.unread);
                        if unread > 0 {
                            format!("{user} ({unread})")
                        } else {
                            user.to_string()
                        }
                    }
                    Conversation::Team(id) => {
                        format!("# {}", state.teams.get(id).map_or(id.as_str(), |t| &t.name))
                    }
                    Conversation::Referrals => {
                        let open = state
                            .referral_envelopes
                            .values()
                            .filter(|r| matches!(r.status, RefStatus::Requested | RefStatus::Accepted))
                            .count();
                        format!("Referrals ({open} open)")
                    }
                };
                ListItem::new(label)
            })
            .collect();
        let mut list_state = ListState::default();
        list_state.select(current.as_ref().map(|_| self.selected));
        frame.render_stateful_widget(
            List::new(items)
                .block(Block::default().borders(Borders::ALL).title("Conversations"))
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            columns[0],
            &mut list_state,
        );
        let (title, messages): (String, &[StoredMessage]) = match current {
            Some(Conversation::With(user)) => (
                user.to_string(),
                state
                    .conversations
                    .get(user)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            Some(Conversation::Team(id)) => (
                state
                    .teams
                    .get(id)
                    .map_or_else(|| id.to_string(), |t| format!("# {}", t.name)),
                state
                    .team_conversations
                    .get(id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            Some(Conversation::Referrals) => {
                let lines: Vec<Line<'_>> = state
                    .referral_envelopes
                    .values()
                    .rev()
                    .map(|r| {
                        let patient = state
                            .referrals
                            .get(r.referral_id.as_str())
                            .map_or_else(|| "?".to_owned(), |c| patient_name(&c.bundle));
                        let direction = if r.receiving == self.me {
                            format!("from {}", r.referring)
                        } else {
                            format!("to {}", r.receiving)
                        };
                        let style = match r.priority {
                            Priority::Stat => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                            Priority::Urgent => Style::default().fg(Color::Yellow),
                            Priority::Routine => Style::default(),
                        };
                        Line::from(vec![
                            Span::styled(format!("{:<7} ", r.priority.as_str()), style),
                            Span::raw(format!(
                                "{:<9} {}  patient {patient}  {}  {direction}",
                                r.status.as_str(),
                                r.referral_id,
                                r.specialty
                            )),
                        ])
                    })
                    .collect();
                frame.render_widget(
                    Paragraph::new(lines).block(
                        Block::default()
                            .borders(Borders::ALL)
                            .title("Referrals: /refer accept|decline|cancel|complete ID [reason]"),
                    ),
                    columns[1],
                );
                return;
            }
            None => ("No conversation: /to USER".into(), &[]),
        };
        let height = usize::from(columns[1].height.saturating_sub(2));
        let lines: Vec<Line<'_>> = messages
            .iter()
            .skip(messages.len().saturating_sub(height))
            .map(|m| {
                let who = if m.from == self.me {
                    "me".to_owned()
                } else {
                    m.from.to_string()
                };
                let status = match m.status {
                    Status::Received => String::new(),
                    s => format!("  [{}]", s.as_str()),
                };
                let time = format_time_ms(m.at_ms);
                Line::from(format!(
                    "{} {who}: {}{status}",
                    time.get(11..16).unwrap_or(&time),
                    m.content.summary()
                ))
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(title)),
            columns[1],
        );
    }
}
