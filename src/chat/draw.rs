//! Drawing: the whole screen as a pure rendering of the interface's state
//! and the sealed local state: status line, a red banner of its own when a
//! verified colleague's keys changed, the notice line, the conversation list
//! (names, specialty, unread counts, verification), the messages (by sent
//! time, with day separators and sender names) or the referral inbox, a
//! panel for results, and the input line.

use curbside_client::fhir::patient_name;
use curbside_client::local::{key_set_fingerprint, LocalState, Status, StoredMessage, Trust};
use curbside_client::Account;
use curbside_protocol::audit::format_time_ms;
use curbside_protocol::ids::UserId;
use curbside_protocol::referral::{Priority, Status as RefStatus};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Conversation, Link};

/// How far a colleague's keys are trusted, for the list and the banner.
pub(crate) fn trust_of(state: &LocalState, account: &Account, user: &UserId) -> Trust {
    state.contacts.get(user).map_or(Trust::Unverified, |c| {
        c.trust(&key_set_fingerprint(&account.identity_keys_of(user)))
    })
}

/// Rows these lines take when wrapped at `width` columns (at least one each).
fn wrapped_height(lines: &[&str], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let rows: usize = lines
        .iter()
        .map(|l| l.chars().count().max(1).div_ceil(width))
        .sum();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

impl App {
    /// Draws the whole screen from the local state.
    pub(crate) fn render(&self, frame: &mut Frame<'_>, state: &LocalState, account: &Account) {
        let current = self.current(state);
        let banner = match (&current, self.locked) {
            (Some(Conversation::With(user)), false) if trust_of(state, account, user) == Trust::Changed => {
                Some(format!(
                    "⚠ {}'s identity keys changed since you verified them: /verify, compare, /confirm before sharing more",
                    state.name(user)
                ))
            }
            _ => None,
        };
        let (text, style) = if self.locked {
            (
                self.unlock_error.clone().unwrap_or_else(|| {
                    "Locked after inactivity: type your passphrase and press Enter".to_owned()
                }),
                Style::default().fg(Color::Black).bg(Color::Yellow),
            )
        } else if let Some((_, warning)) = &self.confirm {
            (
                format!("⚠ {warning}: Enter on an empty line sends anyway, Esc cancels"),
                Style::default().fg(Color::Black).bg(Color::Yellow),
            )
        } else {
            (self.notice.clone(), Style::default().fg(Color::Cyan))
        };
        let rows = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(1),
                Constraint::Length(u16::from(banner.is_some())),
                // The notice, wrapped (a long error keeps what to do next in view).
                Constraint::Length(wrapped_height(&[text.as_str()], frame.area().width).clamp(1, 3)),
                Constraint::Min(3),
                Constraint::Length(3),
            ])
            .split(frame.area());
        let connection = match self.link {
            Link::Connected => Span::styled("● connected", Style::default().fg(Color::Green)),
            Link::Reconnecting { attempt } => Span::styled(
                format!(
                    "○ reconnecting… (attempt {attempt}; {} queued)",
                    state.outbox.len()
                ),
                Style::default().fg(Color::Yellow),
            ),
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("Curbside ", Style::default().add_modifier(Modifier::BOLD)),
                Span::raw(format!("{}  ", state.label(&self.me))),
                connection,
            ])),
            rows[0],
        );
        if let Some(b) = banner {
            frame.render_widget(
                Paragraph::new(b).style(Style::default().fg(Color::White).bg(Color::Red)),
                rows[1],
            );
        }
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).style(style),
            rows[2],
        );
        if self.locked {
            frame.render_widget(Block::default().borders(Borders::ALL), rows[3]);
        } else {
            let columns = Layout::default()
                .direction(Direction::Horizontal)
                .constraints([Constraint::Length(42), Constraint::Min(20)])
                .split(rows[3]);
            self.render_list(frame, state, account, &current, columns[0]);
            let right = match &self.panel {
                Some(panel) => {
                    // Every line in view when the screen allows (as wrapped),
                    // three rows left for the conversation.
                    let lines: Vec<&str> = panel.lines.iter().map(String::as_str).collect();
                    let height = wrapped_height(&lines, columns[1].width.saturating_sub(2))
                        .saturating_add(2)
                        .min(columns[1].height.saturating_sub(3));
                    let parts = Layout::default()
                        .direction(Direction::Vertical)
                        .constraints([Constraint::Min(3), Constraint::Length(height)])
                        .split(columns[1]);
                    frame.render_widget(
                        Paragraph::new(panel.lines.join("\n"))
                            .wrap(Wrap { trim: false })
                            .block(
                                Block::default()
                                    .borders(Borders::ALL)
                                    .title(format!("{} (Esc closes)", panel.title))
                                    .border_style(Style::default().fg(Color::Cyan)),
                            ),
                        parts[1],
                    );
                    parts[0]
                }
                None => columns[1],
            };
            self.render_conversation(frame, state, &current, right);
        }
        let input = if self.locked {
            format!("passphrase: {}", "*".repeat(self.unlock.chars().count()))
        } else {
            format!("> {}", self.input)
        };
        frame.render_widget(
            Paragraph::new(input).block(Block::default().borders(Borders::ALL)),
            rows[4],
        );
    }

    fn render_list(
        &self,
        frame: &mut Frame<'_>,
        state: &LocalState,
        account: &Account,
        current: &Option<Conversation>,
        area: Rect,
    ) {
        let items: Vec<ListItem<'_>> = Self::conversations(state)
            .iter()
            .map(|c| {
                let label = match c {
                    Conversation::With(user) => {
                        let unread = state.contacts.get(user).map_or(0, |c| c.unread);
                        let mark = match trust_of(state, account, user) {
                            Trust::Verified => "✓ ",
                            Trust::Changed => "! ",
                            Trust::Unverified if state.people.contains_key(user) => "  ",
                            Trust::Unverified => "? ",
                        };
                        // The count first, so a long name cannot hide it.
                        let unread = if unread > 0 {
                            format!("({unread}) ")
                        } else {
                            String::new()
                        };
                        format!("{mark}{unread}{}", state.label(user))
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
        list_state.select(current.as_ref().and_then(|_| self.position(state)));
        frame.render_stateful_widget(
            List::new(items)
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title("Conversations (✓ verified ! changed)"),
                )
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            area,
            &mut list_state,
        );
    }

    fn render_conversation(
        &self,
        frame: &mut Frame<'_>,
        state: &LocalState,
        current: &Option<Conversation>,
        area: Rect,
    ) {
        let pinned = super::urgent::pinned_lines(state, &self.me);
        let area = if pinned.is_empty() {
            area
        } else {
            let lines: Vec<&str> = pinned.iter().map(String::as_str).collect();
            let height = wrapped_height(&lines, area.width.saturating_sub(2))
                .saturating_add(2)
                .min(area.height.saturating_sub(3).max(3));
            let parts = Layout::default()
                .direction(Direction::Vertical)
                .constraints([Constraint::Length(height), Constraint::Min(3)])
                .split(area);
            frame.render_widget(
                Paragraph::new(pinned.join("\n"))
                    .wrap(Wrap { trim: false })
                    .style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD))
                    .block(
                        Block::default()
                            .borders(Borders::ALL)
                            .border_style(Style::default().fg(Color::Red))
                            .title("Urgent: not yet acknowledged"),
                    ),
                parts[0],
            );
            parts[1]
        };
        let (title, messages): (String, &[StoredMessage]) = match current {
            Some(Conversation::With(user)) => (
                state.label(user),
                state
                    .conversations
                    .get(user)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            Some(Conversation::Team(id)) => (
                state.teams.get(id).map_or_else(
                    || id.to_string(),
                    |t| format!("# {}: {}", t.name, state.names(&t.members)),
                ),
                state
                    .team_conversations
                    .get(id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
            Some(Conversation::Referrals) => {
                frame.render_widget(
                    Paragraph::new(self.referral_lines(state)).block(
                        Block::default()
                            .borders(Borders::ALL)
                            .title("Referrals: /refer accept|decline|cancel|complete ID [reason]"),
                    ),
                    area,
                );
                return;
            }
            None => (
                "No conversation: /to NAME opens one, /help lists the commands".into(),
                &[],
            ),
        };
        let lines = self.message_lines(state, messages);
        let height = usize::from(area.height.saturating_sub(2));
        let scroll = self.scroll.min(lines.len().saturating_sub(height));
        let end = lines.len() - scroll;
        let shown: Vec<Line<'_>> = lines
            .into_iter()
            .take(end)
            .skip(end.saturating_sub(height))
            .collect();
        let title = if scroll > 0 {
            format!("{title}  (scrolled up {scroll} lines: PageDown)")
        } else {
            title
        };
        frame.render_widget(
            Paragraph::new(shown)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(title)),
            area,
        );
    }

    /// The conversation's lines in the order the messages were sent (the
    /// server's acceptance time, which every device agrees on), with a
    /// separator where the day changes.
    fn message_lines(&self, state: &LocalState, messages: &[StoredMessage]) -> Vec<Line<'static>> {
        let mut ordered: Vec<&StoredMessage> = messages.iter().collect();
        ordered.sort_by_key(|m| m.at_ms);
        let mut lines = Vec::new();
        let mut day = String::new();
        let mut attachment = 0;
        for m in ordered {
            let time = format_time_ms(m.at_ms);
            let this_day = time.get(..10).unwrap_or_default().to_owned();
            if this_day != day {
                lines.push(Line::styled(
                    format!("── {this_day} ──"),
                    Style::default().fg(Color::DarkGray),
                ));
                day = this_day;
            }
            let who = if m.from == self.me {
                "me".to_owned()
            } else {
                state.name(&m.from)
            };
            let status = match m.status {
                Status::Received => String::new(),
                s => format!("  [{}]", s.as_str()),
            };
            let number = if matches!(m.content, curbside_client::content::Content::Attachment { .. }) {
                attachment += 1;
                format!(" (/download {attachment})")
            } else {
                String::new()
            };
            let urgent = state.urgent_of(&m.from, &m.message_id);
            let style = if m.status == Status::Failed || urgent.is_some_and(|u| u.is_open()) {
                Style::default().fg(Color::Red)
            } else {
                Style::default()
            };
            let flag = urgent.map_or(String::new(), |u| {
                let acknowledged = u.acknowledged.as_ref().map_or(String::new(), |(by, at)| {
                    let at = format_time_ms(*at);
                    format!(
                        ", acknowledged by {} {}",
                        if *by == self.me {
                            "you".to_owned()
                        } else {
                            state.name(by)
                        },
                        at.get(11..16).unwrap_or(&at)
                    )
                });
                format!("[{}{acknowledged}] ", u.priority.as_str().to_uppercase())
            });
            lines.push(Line::styled(
                format!(
                    "{} {who}: {flag}{}{number}{status}",
                    time.get(11..16).unwrap_or(&time),
                    m.content.summary()
                ),
                style,
            ));
        }
        lines
    }

    fn referral_lines(&self, state: &LocalState) -> Vec<Line<'static>> {
        let mut referrals: Vec<_> = state.referral_envelopes.values().collect();
        referrals.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
        referrals
            .into_iter()
            .map(|r| {
                let patient = state
                    .referrals
                    .get(r.referral_id.as_str())
                    .map_or_else(|| "?".to_owned(), |c| patient_name(&c.bundle));
                let direction = if r.receiving == self.me {
                    format!("from {}", state.name(&r.referring))
                } else {
                    format!("to {}", state.name(&r.receiving))
                };
                let style = match r.priority {
                    Priority::Stat => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                    Priority::Urgent => Style::default().fg(Color::Yellow),
                    Priority::Routine => Style::default(),
                };
                let reason = state
                    .referrals
                    .get(r.referral_id.as_str())
                    .and_then(|c| c.reason.as_deref())
                    .map(|reason| format!("  reason: {reason}"))
                    .unwrap_or_default();
                Line::from(vec![
                    Span::styled(format!("{:<7} ", r.priority.as_str()), style),
                    Span::raw(format!(
                        "{:<9} {}  patient {patient}  {}  {direction}{reason}",
                        r.status.as_str(),
                        r.referral_id,
                        r.specialty
                    )),
                ])
            })
            .collect()
    }
}
