//! What a message carries: the JSON the client encrypts. The server never
//! sees it. Plaintext that is not such JSON (from a client that sends raw
//! text) is read as text.

use curbside_protocol::bytes::Base64;
use curbside_protocol::ids::{MessageId, UserId};
use serde::{Deserialize, Serialize};

/// A reference to an encrypted attachment: everything the recipient needs to
/// download, verify and decrypt it. Travels only inside an encrypted message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// The server's id for the encrypted blob. Text as the sender wrote it,
    /// not an `AttachmentId`: a malformed one from a peer must not make the
    /// message (or a sealed state holding it) unreadable; the server refuses
    /// it on download.
    pub attachment_id: String,
    /// The per-file key (32 bytes).
    pub key: Base64,
    /// SHA-256 of the encrypted blob (32 bytes).
    pub digest: Base64,
    /// The file name the sender chose.
    pub name: String,
    /// Plaintext size in bytes.
    pub size: u64,
}

impl core::fmt::Debug for AttachmentRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AttachmentRef")
            .field("attachment_id", &self.attachment_id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The on-call role a message was written to, as its sender named it:
/// `{"role_id":"o…","name":"On-call dermatology"}` inside the encrypted
/// content, so that a holder sees "to On-call dermatology", not only the
/// sender. A tag of another shape is ignored (the message is kept, without
/// the tag): an id of 1–[`RoleTag::MAX_ID`] of `[A-Za-z0-9_-]`, a name of
/// 1–[`RoleTag::MAX_NAME`] characters (the server's limit for role names),
/// not blank, without control or invisible formatting characters (as the
/// web client decodes it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleTag {
    /// The role's id on the server.
    pub role_id: String,
    /// Its name when the message was sent.
    pub name: String,
}

impl RoleTag {
    /// The longest `role_id` accepted, in bytes.
    pub const MAX_ID: usize = 64;
    /// The longest `name` accepted, in characters.
    pub const MAX_NAME: usize = 80;

    fn is_well_formed(&self) -> bool {
        let id_ok = (1..=Self::MAX_ID).contains(&self.role_id.len())
            && self
                .role_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let name_ok = !self.name.trim().is_empty()
            && self.name.chars().count() <= Self::MAX_NAME
            && !self.name.chars().any(|c| c.is_control() || is_format(c));
        id_ok && name_ok
    }
}

/// Unicode's invisible formatting characters (general category Cf, the
/// ones in use) and the line and paragraph separators: a name shown in a
/// terminal or a page must not reorder or hide text.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'..='\u{E007F}'
    )
}

/// A `role` field that is not a well-formed [`RoleTag`] reads as none.
fn lenient_role<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RoleTag>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value::<RoleTag>(value)
        .ok()
        .filter(RoleTag::is_well_formed))
}

/// The most files a consult's question carries (clients refuse more).
pub const MAX_CONSULT_ATTACHMENTS: usize = 4;

/// The content of a message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// A text message to `to` (the sender's other devices learn the conversation from it).
    Text {
        /// The recipients.
        to: Vec<UserId>,
        /// The text.
        text: String,
        /// Written to this on-call role (its holders are `to`); absent otherwise.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_role"
        )]
        role: Option<RoleTag>,
    },
    /// A file.
    Attachment {
        /// The recipients.
        to: Vec<UserId>,
        /// The encrypted blob and its key.
        file: AttachmentRef,
        /// Sent to this on-call role (its holders are `to`); absent otherwise.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "lenient_role"
        )]
        role: Option<RoleTag>,
    },
    /// Sets (or, with `None`, turns off) the conversation's disappearing-message
    /// timer: every client deletes a message this long after it was sent.
    Timer {
        /// The recipients.
        to: Vec<UserId>,
        /// Seconds, or `None` for off.
        seconds: Option<u64>,
    },
    /// A care team's membership, as its sender now sees it (all members,
    /// sender included). Sent to every old and new member.
    TeamUpdate {
        /// The team.
        team_id: crate::team::TeamId,
        /// Its name.
        name: String,
        /// Every member.
        members: Vec<UserId>,
    },
    /// A care-team message: the content encrypted once under a fresh key
    /// ([`crate::team::seal`]); only this small envelope travels through
    /// each member device's pairwise session.
    TeamMessage {
        /// The team.
        team_id: crate::team::TeamId,
        /// The fresh message key (32 bytes).
        key: Base64,
        /// The content, sealed under `key`.
        sealed: Base64,
    },
    /// A referral's clinical content: the FHIR Bundle (ServiceRequest and
    /// Patient, as JSON text) and its attachments.
    Referral {
        /// The referral (its envelope is on the server).
        referral_id: String,
        /// The FHIR R4 Bundle, JSON.
        bundle: String,
        /// Files that go with it.
        attachments: Vec<AttachmentRef>,
    },
    /// Why a referral was declined or cancelled.
    ReferralReason {
        /// The referral.
        referral_id: String,
        /// The reason, in words.
        reason: String,
    },
    /// The recipient read these messages (an end-to-end-encrypted read receipt).
    Read {
        /// The messages read.
        message_ids: Vec<MessageId>,
    },
    /// The recipient acknowledged these urgent or stat messages (kind
    /// `receipt`): stop alerting.
    Acknowledge {
        /// The messages acknowledged.
        message_ids: Vec<MessageId>,
    },
    /// The sender recalled these messages (kind `control`): delete them.
    Recall {
        /// The messages recalled.
        message_ids: Vec<MessageId>,
    },
    /// A curbside consult's question, to the clinicians the server chose.
    Consult {
        /// The consult (the server's id).
        consult_id: String,
        /// The specialty asked.
        specialty: String,
        /// The question.
        text: String,
        /// Images (or other files) that go with it: at most
        /// [`MAX_CONSULT_ATTACHMENTS`] from our clients; omitted when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentRef>,
    },
    /// An answer to a consult, to its asker (and, if shared, its recipients).
    ConsultAnswer {
        /// The consult.
        consult_id: String,
        /// The answer.
        text: String,
    },
    /// The asker closed the consult (kind `control`): stop showing it as open.
    ConsultClosed {
        /// The consult.
        consult_id: String,
    },
}

impl core::fmt::Debug for Content {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Text { text, .. } => write!(f, "Text({} bytes)", text.len()),
            Self::Attachment { file, .. } => write!(f, "Attachment({file:?})"),
            Self::Timer { seconds, .. } => write!(f, "Timer({seconds:?})"),
            Self::TeamUpdate { team_id, members, .. } => {
                write!(f, "TeamUpdate({team_id}, {} members)", members.len())
            }
            Self::TeamMessage { team_id, sealed, .. } => {
                write!(f, "TeamMessage({team_id}, {} bytes)", sealed.len())
            }
            Self::Read { message_ids } => write!(f, "Read({} ids)", message_ids.len()),
            Self::Acknowledge { message_ids } => write!(f, "Acknowledge({} ids)", message_ids.len()),
            Self::Recall { message_ids } => write!(f, "Recall({} ids)", message_ids.len()),
            Self::Consult {
                consult_id,
                text,
                attachments,
                ..
            } => write!(
                f,
                "Consult({consult_id}, {} bytes, {} attachment(s))",
                text.len(),
                attachments.len()
            ),
            Self::ConsultAnswer { consult_id, text } => {
                write!(f, "ConsultAnswer({consult_id}, {} bytes)", text.len())
            }
            Self::ConsultClosed { consult_id } => write!(f, "ConsultClosed({consult_id})"),
            Self::Referral { referral_id, .. } => write!(f, "Referral({referral_id})"),
            Self::ReferralReason { referral_id, .. } => write!(f, "ReferralReason({referral_id})"),
        }
    }
}

impl Content {
    /// The bytes to encrypt.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads decrypted bytes; anything that is not Curbside content is text.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_else(|_| Self::Text {
            to: Vec::new(),
            text: String::from_utf8_lossy(bytes).into_owned(),
            role: None,
        })
    }

    /// A one-line summary for lists and terminals.
    #[must_use]
    pub fn summary(&self) -> String {
        let to_role = |what: String| match self.role() {
            Some(role) => format!("[to {}] {what}", role.name),
            None => what,
        };
        match self {
            Self::Text { text, .. } => to_role(text.clone()),
            Self::Attachment { file, .. } => {
                to_role(format!("[attachment {} ({} bytes)]", file.name, file.size))
            }
            Self::Timer { seconds: Some(s), .. } => format!(
                "[messages sent from now on disappear {} after they are sent]",
                duration_words(*s)
            ),
            Self::Timer { seconds: None, .. } => "[disappearing messages off]".into(),
            Self::TeamUpdate { name, members, .. } => format!("[team {name}: {} members]", members.len()),
            Self::TeamMessage { .. } => "[team message]".into(),
            Self::Read { message_ids } => format!("[read {} messages]", message_ids.len()),
            Self::Acknowledge { message_ids } => format!("[acknowledged {} messages]", message_ids.len()),
            Self::Recall { .. } => "[message recalled]".into(),
            Self::Consult {
                specialty,
                text,
                attachments,
                ..
            } if !attachments.is_empty() => {
                format!("[consult to {specialty}, {} image(s)] {text}", attachments.len())
            }
            Self::Consult { specialty, text, .. } => format!("[consult to {specialty}] {text}"),
            Self::ConsultAnswer { text, .. } => format!("[consult answer] {text}"),
            Self::ConsultClosed { .. } => "[consult closed]".into(),
            Self::Referral {
                referral_id,
                attachments,
                ..
            } => format!("[referral {referral_id}, {} attachments]", attachments.len()),
            Self::ReferralReason { referral_id, reason } => format!("[referral {referral_id}: {reason}]"),
        }
    }

    /// A text message (to no role).
    #[must_use]
    pub fn text(to: Vec<UserId>, text: String) -> Self {
        Self::Text { to, text, role: None }
    }

    /// A file (to no role).
    #[must_use]
    pub fn attachment(to: Vec<UserId>, file: AttachmentRef) -> Self {
        Self::Attachment { to, file, role: None }
    }

    /// The on-call role a text or file was written to.
    #[must_use]
    pub fn role(&self) -> Option<&RoleTag> {
        match self {
            Self::Text { role, .. } | Self::Attachment { role, .. } => role.as_ref(),
            _ => None,
        }
    }

    /// The recipients a sender named.
    #[must_use]
    pub fn recipients(&self) -> &[UserId] {
        match self {
            Self::Text { to, .. } | Self::Attachment { to, .. } | Self::Timer { to, .. } => to,
            Self::TeamUpdate { members, .. } => members,
            Self::Read { .. }
            | Self::Acknowledge { .. }
            | Self::Recall { .. }
            | Self::Consult { .. }
            | Self::ConsultAnswer { .. }
            | Self::ConsultClosed { .. }
            | Self::TeamMessage { .. }
            | Self::Referral { .. }
            | Self::ReferralReason { .. } => &[],
        }
    }
}

pub use curbside_protocol::time::duration_words;

#[cfg(test)]
mod tests {
    #[test]
    fn a_role_tag_travels_and_a_malformed_one_is_dropped_not_the_message() {
        use super::{Content, RoleTag};
        let tag = RoleTag {
            role_id: "o1".into(),
            name: "On-call dermatology".into(),
        };
        let sent = Content::Text {
            to: Vec::new(),
            text: "rash".into(),
            role: Some(tag.clone()),
        };
        assert_eq!(Content::from_bytes(&sent.to_bytes()).role(), Some(&tag));
        assert_eq!(sent.summary(), "[to On-call dermatology] rash");
        // Without a role, the field is absent (older clients read it the same).
        let plain = Content::text(Vec::new(), "hi".into()).to_bytes();
        assert!(!String::from_utf8_lossy(&plain).contains("role"));
        // The longest name accepted: 80 characters (of two bytes each here).
        let longest = "é".repeat(RoleTag::MAX_NAME);
        let json = format!(
            r#"{{"type":"text","to":[],"text":"rash","role":{{"role_id":"o1","name":"{longest}"}}}}"#
        );
        assert!(Content::from_bytes(json.as_bytes()).role().is_some());
        let long = "é".repeat(RoleTag::MAX_NAME + 1);
        for bad in [
            r#""o1""#.to_owned(),
            r#"{"role_id":"o1"}"#.to_owned(),
            r#"{"role_id":"","name":"Derm"}"#.to_owned(),
            r#"{"role_id":"o/1","name":"Derm"}"#.to_owned(),
            r#"{"role_id":"o1","name":"Derm\u001b[2J"}"#.to_owned(),
            r#"{"role_id":"o1","name":"Derm\u202etxt.exe"}"#.to_owned(),
            r#"{"role_id":"o1","name":"   "}"#.to_owned(),
            format!(r#"{{"role_id":"o1","name":"{long}"}}"#),
            "null".to_owned(),
        ] {
            let json = format!(r#"{{"type":"text","to":[],"text":"rash","role":{bad}}}"#);
            match Content::from_bytes(json.as_bytes()) {
                Content::Text { text, role, .. } => {
                    assert_eq!(text, "rash", "{bad}");
                    assert_eq!(role, None, "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn timers_are_said_in_words() {
        assert_eq!(duration_words(86_400), "1 day");
        assert_eq!(duration_words(7 * 86_400), "7 days");
        assert_eq!(duration_words(8 * 3_600), "8 hours");
        assert_eq!(duration_words(300), "5 minutes");
        assert_eq!(duration_words(90), "90 seconds");
        assert_eq!(duration_words(1), "1 second");
    }

    use super::*;

    #[test]
    fn raw_text_from_older_clients_reads_as_text_and_content_round_trips() {
        assert_eq!(Content::from_bytes(b"plain hello").summary(), "plain hello");
        let c = Content::Read {
            message_ids: vec![MessageId::new("m1").unwrap()],
        };
        assert_eq!(Content::from_bytes(&c.to_bytes()), c);
    }

    #[test]
    fn a_consult_carries_its_images_and_one_without_them_keeps_the_older_form() {
        let bare = br#"{"type":"consult","consult_id":"c1","specialty":"Dermatology","text":"Rash?"}"#;
        let Content::Consult { attachments, .. } = Content::from_bytes(bare) else {
            panic!("a consult without attachments is still a consult");
        };
        assert!(attachments.is_empty());
        let with = Content::Consult {
            consult_id: "c1".into(),
            specialty: "Dermatology".into(),
            text: "Rash?".into(),
            attachments: vec![AttachmentRef {
                attachment_id: "0123456789abcdef0123456789abcdef".into(),
                key: vec![7; 32].into(),
                digest: vec![9; 32].into(),
                name: "palm.png".into(),
                size: 1234,
            }],
        };
        let json: serde_json::Value = serde_json::from_slice(&with.to_bytes()).unwrap();
        assert_eq!(json["attachments"][0]["name"], "palm.png");
        assert_eq!(Content::from_bytes(&with.to_bytes()), with);
        assert_eq!(with.summary(), "[consult to Dermatology, 1 image(s)] Rash?");
        let Content::Consult { attachments, .. } = &with else {
            unreachable!()
        };
        let none = Content::Consult {
            consult_id: "c1".into(),
            specialty: "Dermatology".into(),
            text: "Rash?".into(),
            attachments: Vec::new(),
        };
        assert!(!String::from_utf8(none.to_bytes())
            .unwrap()
            .contains("attachments"));
        assert_eq!(attachments.len(), 1);
    }
}
