//! # curbside-client
//!
//! The client library: everything a clinician's device does with a Curbside
//! server, on top of `curbside-crypto` (which does the cryptography) and
//! `curbside-protocol` (which defines the frames).
//!
//! ## Layout
//! - [`content`]: what a message carries (text, attachment reference, read receipt), inside the encryption.
//! - [`fhir`]: the FHIR R4 Patient / ServiceRequest / Bundle a referral carries, validated.
//! - [`local`]: contacts, conversations, history and message status (sealed at rest by the binary).
//! - [`people`]: names, NPIs and ids resolved against the directory, so users see names.
//! - [`team`]: care teams: membership as encrypted control messages, each message encrypted once.
//! - [`tls`]: rustls trusting only the server's pinned certificate (or a configured CA).
//! - [`api`]: the HTTPS APIs (enrollment, sessions, admin, directory).
//! - [`connection`]: the authenticated WebSocket, with request/reply routing.
//! - [`account`]: the device's keys and ratchet sessions, and their encoding.
//! - [`audit`]: the compliance officer's checks: pinned log key, tree head consistency, offline export verification.
//! - [`client`]: enroll, connect, send to users, receive and acknowledge.
//! - [`files`]: the client's files replaced atomically and durably.

#![forbid(unsafe_code)]

pub mod account;
pub mod api;
pub mod audit;
pub mod client;
pub mod connection;
pub mod content;
pub mod error;
pub mod fhir;
pub mod files;
pub mod local;
pub mod oncall;
pub mod people;
pub mod team;
pub mod tls;
pub mod urgent;

use serde::{Deserialize, Serialize};

pub use account::Account;
pub use client::{enroll, fresh_message_id, Client, Received, SendOutcome, Urgency, UserDetails};
pub use error::{ClientError, Result};

/// How to reach a server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `host:port` to connect to.
    pub address: String,
    /// The TLS name and the name in the authentication transcript.
    pub server_name: String,
    /// The PEM certificate (or CA) trusted for this server.
    pub cert_pem: String,
}

impl ServerInfo {
    fn port(&self) -> &str {
        self.address.rsplit_once(':').map_or("443", |(_, p)| p)
    }

    /// `https://server_name:port`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("https://{}:{}", self.server_name, self.port())
    }

    /// `wss://server_name:port`.
    #[must_use]
    pub fn ws_url(&self) -> String {
        format!("wss://{}:{}", self.server_name, self.port())
    }
}
