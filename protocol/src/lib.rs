//! # curbside-protocol
//!
//! The wire protocol between Curbside clients and servers: the JSON frames
//! exchanged over the WebSocket at `/v1/ws`, the JSON bodies of the HTTP
//! APIs, the stable error codes, and the byte string a device signs to
//! authenticate. No I/O: both the server and the client depend on this crate.
//! PROTOCOL.md at the repository root is the human-readable specification.
//!
//! ## Layout
//! - [`ids`]: typed identifiers (a [`ids::UserId`] is not a [`ids::DeviceId`]).
//! - [`bytes`]: base64-encoded binary payloads.
//! - [`keys`]: the lengths of published key material.
//! - [`error`]: [`error::ErrorCode`], the stable machine-readable codes.
//! - [`frames`]: WebSocket frames in both directions, and their parser.
//! - [`json`]: the error code of a JSON body that did not parse (frames and HTTP alike).
//! - [`auth`]: the authentication transcript.
//! - [`http`]: HTTP request and response bodies.
//! - [`merkle`]: RFC 6962 Merkle trees: incremental append, proofs, verification.
//! - [`audit`]: audit entries, their canonical bytes, signed tree heads, compliance API bodies.
//! - [`referral`]: the referral envelope (no PHI) and the lifecycle the server enforces.
//! - [`npi`]: National Provider Identifier check-digit validation.
//! - [`time`]: the protocol's clock (milliseconds since the Unix epoch).

#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod bytes;
pub mod consult;
pub mod error;
pub mod frames;
pub mod http;
pub mod ids;
pub mod json;
pub mod keys;
pub mod merkle;
pub mod npi;
pub mod oncall;
pub mod referral;
pub mod time;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// Every version this build accepts, newest first.
pub const SUPPORTED_VERSIONS: &[u16] = &[PROTOCOL_VERSION];
