//! One WebSocket connection: challenge, authentication, then requests and pushes.
//!
//! Before authentication the only frame accepted is `auth`, within the
//! deadline; anything else closes the connection with its error code. After
//! it, a bad frame is answered with an `error` frame and the connection stays
//! open, except for a second `auth` (`challenge_replayed`) and oversized
//! frames, which close it. No input can make the task panic, and no error
//! deletes a queued message: ciphertext is deleted only when its device
//! acknowledges it.
//!
//! Pushes are bounded: at most `max_unacked_deliveries` are outstanding per
//! connection, and a write that does not complete within `write_timeout_secs`
//! (a reader that never drains its socket) closes the connection. Undelivered
//! messages stay queued for the next connection.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use curbside_protocol::audit::{Action, Details};
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::error::ErrorCode;
use curbside_protocol::frames::{
    parse_client_frame, ClientFrame, Envelope, ErrorDetails, MessageKind, OneTimePrekey, ServerFrame,
};
use curbside_protocol::ids::{Address, DeliveryId, MessageId, RequestId, UserId};
use curbside_protocol::{PROTOCOL_VERSION, SUPPORTED_VERSIONS};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use crate::audit::{Actor, Event};
use crate::auth::{random32, verify_device_signature, PUBLIC_KEY_LEN, SIGNED_PREKEY_LEN};
use crate::error::{ApiError, ServerError};
use crate::hub::HubEvent;
use crate::store::now_ms;
use crate::AppState;

/// Why a connection ends.
enum End {
    /// The peer closed or went away.
    Gone,
    /// Close with this error frame.
    Error(ErrorCode, String),
}

impl From<ServerError> for End {
    fn from(e: ServerError) -> Self {
        let error = ApiError::from(e);
        tracing::warn!(code = error.code.as_str(), "connection ended by a server error");
        Self::Error(error.code, error.message)
    }
}

impl End {
    /// The error this connection ends with, if any.
    fn as_ref(&self) -> Option<(ErrorCode, &str)> {
        match self {
            Self::Gone => None,
            Self::Error(code, message) => Some((*code, message.as_str())),
        }
    }
}

/// A token bucket: `rate` frames per second on average, `burst` at once.
struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// Takes one token, or returns how many milliseconds until one is available.
    fn take(&mut self) -> Result<(), u64> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            // Bounded: at most 1000 / rate ms.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let wait = ((1.0 - self.tokens) / self.rate * 1000.0).ceil() as u64;
            Err(wait)
        }
    }
}

struct Connection {
    state: AppState,
    sink: SplitSink<WebSocket, Message>,
    write_timeout: Duration,
}

impl Connection {
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), End> {
        let text =
            serde_json::to_string(frame).map_err(|_| End::Error(ErrorCode::Internal, "encoding".into()))?;
        match tokio::time::timeout(self.write_timeout, self.sink.send(Message::Text(text.into()))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => {
                tracing::warn!("closing a connection whose peer does not read (write timeout)");
                Err(End::Gone)
            }
        }
    }

    async fn send_error(
        &mut self,
        id: Option<RequestId>,
        code: ErrorCode,
        message: String,
        details: Option<ErrorDetails>,
    ) -> Result<(), End> {
        crate::metrics::count_error(code);
        self.send(&ServerFrame::Error {
            id,
            code,
            message,
            details,
        })
        .await
    }

    /// Sends an error frame (if possible) and a close frame.
    async fn close(mut self, end: End) {
        if let End::Error(code, message) = end {
            tracing::info!(code = code.as_str(), "closing connection");
            let _ = self.send_error(None, code, message, None).await;
            let close = CloseFrame {
                code: close_code(code),
                reason: code.as_str().into(),
            };
            let _ =
                tokio::time::timeout(self.write_timeout, self.sink.send(Message::Close(Some(close)))).await;
        }
        let _ = tokio::time::timeout(self.write_timeout, self.sink.close()).await;
    }
}

fn close_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::FrameTooLarge => 1009,
        ErrorCode::Internal => 1011,
        ErrorCode::ShuttingDown => 1001,
        // "Try again later".
        ErrorCode::StorageUnavailable => 1013,
        _ => 1008,
    }
}

fn read_error(e: &axum::Error) -> End {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") {
        End::Error(
            ErrorCode::FrameTooLarge,
            "frame exceeds the maximum frame size".into(),
        )
    } else {
        End::Gone
    }
}

fn websocket() -> Details {
    Details {
        transport: Some("websocket".into()),
        ..Details::default()
    }
}

/// Runs one connection to its end.
pub(crate) async fn serve(socket: WebSocket, state: AppState, peer: SocketAddr) {
    let limits = state.config.limits.clone();
    let (sink, mut stream) = socket.split();
    let mut conn = Connection {
        state: state.clone(),
        sink,
        write_timeout: Duration::from_secs(limits.write_timeout_secs),
    };
    let challenge = random32();
    let hello = ServerFrame::Hello {
        versions: SUPPORTED_VERSIONS.to_vec(),
        challenge: challenge.to_vec().into(),
        server_name: state.config.server_name.clone(),
        max_frame_bytes: limits.max_frame_bytes as u64,
        auth_deadline_ms: limits.auth_deadline_secs.saturating_mul(1000),
    };
    if conn.send(&hello).await.is_err() {
        return;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(limits.auth_deadline_secs);
    let mut claimed = None;
    let device = match authenticate(&state, &mut stream, &challenge, deadline, &mut claimed).await {
        Ok(device) => device,
        Err(end) => {
            // A refusal for want of storage cannot be recorded either.
            if let Some((code, _)) = end.as_ref().filter(|(c, _)| *c != ErrorCode::StorageUnavailable) {
                tracing::warn!(%peer, code = code.as_str(), "authentication failed");
                let mut event = Event::new(&Actor::anonymous(Some(peer.ip())), Action::AuthFailed)
                    .failed(code)
                    .details(websocket());
                if let Some(claimed) = &claimed {
                    event = event.counterpart(&claimed.user_id, Some(claimed.device_id));
                }
                if let Err(e) = state.store.bounded(state.store.record(vec![event])).await {
                    tracing::error!(error = %e, "could not record an authentication failure");
                }
            }
            conn.close(end).await;
            return;
        }
    };
    let actor = match state.store.bounded(state.store.roles(&device.user_id)).await {
        Ok(roles) => Actor::device(&device, Actor::usual_role(&roles), Some(peer.ip())),
        Err(e) => {
            conn.close(End::from(e)).await;
            return;
        }
    };
    let event = Event::new(&actor, Action::AuthSucceeded).details(websocket());
    if let Err(e) = state.store.bounded(state.store.record(vec![event])).await {
        conn.close(End::from(e)).await;
        return;
    }
    tracing::info!(%peer, user = %device.user_id, device = %device.device_id, "device connected");
    let (hub_id, events) = state.hub.register(&device);
    crate::metrics::with(|m| m.connections.inc());
    let end = authenticated(&mut conn, &mut stream, &device, &actor, events).await;
    crate::metrics::with(|m| m.connections.dec());
    state.hub.unregister(&device, hub_id);
    tracing::info!(user = %device.user_id, device = %device.device_id, "device disconnected");
    conn.close(end).await;
}

async fn authenticate(
    state: &AppState,
    stream: &mut SplitStream<WebSocket>,
    challenge: &[u8; 32],
    deadline: tokio::time::Instant,
    claimed: &mut Option<Address>,
) -> Result<Address, End> {
    loop {
        let message = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(End::Error(
                    ErrorCode::AuthTimeout,
                    "no authentication before the deadline".into(),
                ))
            }
            Ok(None) => return Err(End::Gone),
            Ok(Some(Err(e))) => return Err(read_error(&e)),
            Ok(Some(Ok(m))) => m,
        };
        let text = match message {
            Message::Text(t) => t,
            Message::Binary(_) => {
                return Err(End::Error(
                    ErrorCode::InvalidFrame,
                    "binary frames are not used".into(),
                ))
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return Err(End::Gone),
        };
        let frame = parse_client_frame(text.as_str()).map_err(|e| End::Error(e.code, e.message))?;
        let ClientFrame::Auth {
            version,
            user_id,
            device_id,
            signature,
        } = frame
        else {
            return Err(End::Error(ErrorCode::AuthRequired, "authenticate first".into()));
        };
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(End::Error(
                ErrorCode::UnsupportedVersion,
                format!("this server speaks versions {SUPPORTED_VERSIONS:?}"),
            ));
        }
        *claimed = Some(Address {
            user_id: user_id.clone(),
            device_id,
        });
        let failed = || End::Error(ErrorCode::AuthFailed, "authentication failed".into());
        let record = state
            .store
            .bounded(state.store.device(&user_id, device_id))
            .await?
            .ok_or_else(failed)?;
        let signed = transcript(
            Purpose::WebSocket,
            &state.config.server_name,
            &user_id,
            device_id,
            challenge,
        );
        if !verify_device_signature(&record.identity_key, &signed, signature.as_slice()) {
            return Err(failed());
        }
        if record.revoked_at.is_some() {
            return Err(End::Error(
                ErrorCode::DeviceRevoked,
                "this device was revoked".into(),
            ));
        }
        return Ok(Address { user_id, device_id });
    }
}

/// Sends of one connection committing at once, at most. A client may send
/// without waiting for each `accepted`: its sends are validated and queued
/// for the group commit in the order they arrive (so they commit in that
/// order) while the connection goes on reading; replies go out as commits
/// complete, in order. Past this many, the connection stops reading until
/// one completes.
const MAX_PIPELINED_SENDS: usize = 64;

/// A reply that waits for a commit: the request id (for an error) and the outcome.
/// `Sync` because the session holding these is borrowed across awaits.
type PendingReply =
    std::pin::Pin<Box<dyn std::future::Future<Output = (RequestId, SendResult)> + Send + Sync>>;

/// Per-connection state after authentication.
struct Session<'a> {
    device: &'a Address,
    actor: &'a Actor,
    last_pushed: DeliveryId,
    last_receipt: i64,
    in_flight: BTreeSet<DeliveryId>,
    rate: RateLimit,
    sends: futures_util::stream::FuturesOrdered<PendingReply>,
}

async fn authenticated(
    conn: &mut Connection,
    stream: &mut SplitStream<WebSocket>,
    device: &Address,
    actor: &Actor,
    mut events: crate::hub::Subscription,
) -> End {
    let state = conn.state.clone();
    let limits = state.config.limits.clone();
    let mut session = Session {
        device,
        actor,
        last_pushed: DeliveryId(0),
        last_receipt: 0,
        in_flight: BTreeSet::new(),
        rate: RateLimit::new(limits.rate_per_sec, limits.rate_burst),
        sends: futures_util::stream::FuturesOrdered::new(),
    };
    let mut shutdown = state.shutdown.clone();
    let start = async {
        let remaining = state
            .store
            .bounded(state.store.count_prekeys(&device.user_id, device.device_id))
            .await?;
        conn.send(&ServerFrame::AuthOk {
            version: PROTOCOL_VERSION,
            user_id: device.user_id.clone(),
            device_id: device.device_id,
            one_time_prekeys: remaining,
        })
        .await?;
        if remaining < limits.prekeys_low_threshold {
            conn.send(&ServerFrame::PrekeysLow { remaining }).await?;
        }
        Ok::<(), End>(())
    };
    if let Err(end) = start.await {
        return end;
    }
    if let Err(end) = push_receipts(conn, &mut session).await {
        return end;
    }
    if let Err(end) = push_pending(conn, &mut session).await {
        return end;
    }
    if *shutdown.borrow_and_update() {
        return End::Error(
            ErrorCode::ShuttingDown,
            "the server is shutting down; reconnect later".into(),
        );
    }
    loop {
        let step = tokio::select! {
            biased;
            _ = shutdown.changed() => {
                // Sends already queued commit anyway: tell the client they did.
                while let Some((id, result)) = session.sends.next().await {
                    if reply(conn, id, result).await.is_err() {
                        break;
                    }
                }
                return End::Error(ErrorCode::ShuttingDown, "the server is shutting down; reconnect later".into());
            }
            Some((id, result)) = session.sends.next(), if !session.sends.is_empty() => reply(conn, id, result).await,
            event = events.recv() => match event {
                Some(HubEvent::Wake) => push_pending(conn, &mut session).await,
                Some(HubEvent::Receipts) => push_receipts(conn, &mut session).await,
                Some(HubEvent::Frame(frame)) => conn.send(&frame).await,
                Some(HubEvent::Revoked) => return End::Error(ErrorCode::DeviceRevoked, "this device was revoked".into()),
                Some(HubEvent::Replaced) => return End::Error(ErrorCode::Conflict, "this device connected again elsewhere".into()),
                None => return End::Gone,
            },
            message = stream.next(), if session.sends.len() < MAX_PIPELINED_SENDS => match message {
                None => return End::Gone,
                Some(Err(e)) => return read_error(&e),
                Some(Ok(Message::Text(text))) => handle_text(conn, &mut session, text.as_str()).await,
                Some(Ok(Message::Binary(_))) => conn.send_error(None, ErrorCode::InvalidFrame, "binary frames are not used".into(), None).await,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                Some(Ok(Message::Close(_))) => return End::Gone,
            },
        };
        if let Err(end) = step {
            return end;
        }
    }
}

/// Pushes the delivery receipts waiting for this device, in batches of 64
/// (each write is bounded by the write timeout).
async fn push_receipts(conn: &mut Connection, session: &mut Session<'_>) -> Result<(), End> {
    loop {
        let store = &conn.state.store;
        let receipts = store
            .bounded(store.receipts(session.device, session.last_receipt, 64))
            .await?;
        let done = receipts.len() < 64;
        for r in receipts {
            session.last_receipt = r.receipt_id;
            conn.send(&ServerFrame::Delivered {
                receipt_id: r.receipt_id,
                message_id: r.message_id,
                recipient: r.recipient,
                delivered_at: r.delivered_at,
            })
            .await?;
        }
        if done {
            return Ok(());
        }
    }
}

/// Pushes queued deliveries until the unacknowledged window is full.
async fn push_pending(conn: &mut Connection, session: &mut Session<'_>) -> Result<(), End> {
    let max = conn.state.config.limits.max_unacked_deliveries;
    loop {
        let room = max.saturating_sub(session.in_flight.len()).min(64);
        if room == 0 {
            return Ok(());
        }
        let store = &conn.state.store;
        let batch = store
            .bounded(store.queued(session.device, session.last_pushed, room, now_ms()))
            .await?;
        if batch.is_empty() {
            return Ok(());
        }
        for q in batch {
            session.last_pushed = q.delivery_id;
            session.in_flight.insert(q.delivery_id);
            conn.send(&ServerFrame::Deliver {
                delivery_id: q.delivery_id,
                message_id: q.message_id,
                sender: q.sender,
                kind: q.kind,
                ciphertext: q.ciphertext.into(),
                sent_at: q.sent_at,
            })
            .await?;
        }
    }
}

async fn handle_text(conn: &mut Connection, session: &mut Session<'_>, text: &str) -> Result<(), End> {
    if let Err(wait) = session.rate.take() {
        // The refused frame's id, so that a pipelining client knows which
        // request to retry.
        return conn
            .send_error(
                request_id(text),
                ErrorCode::RateLimited,
                "too many frames".into(),
                Some(ErrorDetails::RetryAfter { retry_after_ms: wait }),
            )
            .await;
    }
    let frame = match parse_client_frame(text) {
        Ok(frame) => frame,
        Err(e) => return conn.send_error(e.id, e.code, e.message, None).await,
    };
    let result = match frame {
        ClientFrame::Auth { .. } => {
            return Err(End::Error(
                ErrorCode::ChallengeReplayed,
                "this connection is already authenticated".into(),
            ));
        }
        ClientFrame::Ping { id } => return conn.send(&ServerFrame::Pong { id }).await,
        ClientFrame::Ack {
            delivery_ids,
            receipt_ids,
        } => return acknowledge(conn, session, &delivery_ids, &receipt_ids).await,
        ClientFrame::PublishPrekeys {
            id,
            signed_prekey,
            one_time_prekeys,
        } => publish(
            conn,
            session,
            signed_prekey.as_ref().map(|s| s.as_slice()),
            &one_time_prekeys,
        )
        .await
        .map(|n| (id, n))
        .map(|(id, one_time_prekeys)| ServerFrame::PrekeysPublished { id, one_time_prekeys })
        .map_err(|e| (e, None)),
        ClientFrame::FetchBundles { id, user_id } => fetch_bundles(conn, session, &user_id)
            .await
            .map(|devices| ServerFrame::Bundles { id, user_id, devices })
            .map_err(|e| (e, None)),
        ClientFrame::DirectorySearch { id, name, specialty } => conn
            .state
            .store
            .bounded(conn.state.store.directory(name.as_deref(), specialty.as_deref()))
            .await
            .map(|clinicians| ServerFrame::DirectoryResults { id, clinicians })
            .map_err(|e| (ApiError::from(e), None)),
        ClientFrame::Send {
            id,
            message_id,
            kind,
            recipients,
        } => match send(conn, session, id.clone(), message_id, kind, recipients).await {
            Ok(pending) => {
                session.sends.push_back(pending);
                return Ok(());
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(reply) => conn.send(&reply).await,
        Err((error, details)) => {
            let id = request_id(text);
            conn.send_error(id, error.code, error.message, details).await
        }
    }
}

fn request_id(text: &str) -> Option<RequestId> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("id")
                .and_then(|i| i.as_str())
                .and_then(|s| RequestId::new(s).ok())
        })
}

async fn acknowledge(
    conn: &mut Connection,
    session: &mut Session<'_>,
    ids: &[DeliveryId],
    receipt_ids: &[i64],
) -> Result<(), End> {
    let most = conn.state.config.limits.max_unacked_deliveries.max(1) * 4;
    if ids.len() > most || receipt_ids.len() > most {
        return conn
            .send_error(
                None,
                ErrorCode::InvalidRequest,
                "too many ids in one ack".into(),
                None,
            )
            .await;
    }
    if !receipt_ids.is_empty() {
        conn.state
            .store
            .acknowledge_receipts(session.device, receipt_ids)
            .await?;
    }
    if ids.is_empty() {
        return Ok(());
    }
    let ttl = Duration::from_secs(conn.state.config.limits.queue_ttl_secs);
    let acked = conn
        .state
        .store
        .acknowledge(session.device, ids, session.actor, now_ms(), ttl)
        .await?;
    crate::metrics::with(|m| m.messages_delivered.inc_by(acked.len() as u64));
    for id in ids {
        session.in_flight.remove(id);
    }
    // The receipts are stored: wake each sender's connection to push them.
    for a in acked {
        conn.state.hub.notify(&a.sender, HubEvent::Receipts);
    }
    push_pending(conn, session).await
}

async fn publish(
    conn: &Connection,
    session: &Session<'_>,
    signed_prekey: Option<&[u8]>,
    one_time: &[OneTimePrekey],
) -> Result<u32, ApiError> {
    let limits = &conn.state.config.limits;
    if signed_prekey.is_some_and(|s| s.len() != SIGNED_PREKEY_LEN) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "signed_prekey must be 100 bytes",
        ));
    }
    if one_time.len() > limits.max_one_time_prekeys
        || one_time.iter().any(|k| k.public_key.len() != PUBLIC_KEY_LEN)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "one_time_prekeys: too many, or not 32 bytes each",
        ));
    }
    let keys: Vec<(u32, Vec<u8>)> = one_time.iter().map(|k| (k.id, k.public_key.0.clone())).collect();
    let d = session.device;
    let store = &conn.state.store;
    Ok(store
        .bounded(store.publish_prekeys(
            &d.user_id,
            d.device_id,
            signed_prekey,
            &keys,
            limits.max_one_time_prekeys,
        ))
        .await?)
}

async fn fetch_bundles(
    conn: &Connection,
    session: &Session<'_>,
    user: &UserId,
) -> Result<Vec<curbside_protocol::frames::DeviceBundle>, ApiError> {
    let store = &conn.state.store;
    if !store.bounded(store.user_exists(user)).await? {
        return Err(ApiError::new(ErrorCode::NotFound, "no such user"));
    }
    let threshold = conn.state.config.limits.prekeys_low_threshold;
    let bundles = store.bounded(store.fetch_bundles(user, session.actor)).await?;
    let mut out = Vec::with_capacity(bundles.len());
    for (bundle, remaining) in bundles {
        // Warn once when the count crosses the threshold, and again when it
        // runs out (the owner is also warned at every login while low).
        if remaining.saturating_add(1) == threshold || (remaining == 0 && bundle.one_time_prekey.is_some()) {
            let owner = Address {
                user_id: user.clone(),
                device_id: bundle.device_id,
            };
            conn.state.hub.notify(
                &owner,
                HubEvent::Frame(Box::new(ServerFrame::PrekeysLow { remaining })),
            );
        }
        out.push(bundle);
    }
    Ok(out)
}

type SendResult = Result<ServerFrame, (ApiError, Option<ErrorDetails>)>;

/// Answers a send once its commit completed.
async fn reply(conn: &mut Connection, id: RequestId, result: SendResult) -> Result<(), End> {
    match result {
        Ok(frame) => conn.send(&frame).await,
        Err((error, details)) => {
            conn.send_error(Some(id), error.code, error.message, details)
                .await
        }
    }
}

/// Validates a send and queues it for the group commit; the returned
/// future resolves (to `accepted` or an error) once it committed, and then
/// wakes the recipients.
async fn send(
    conn: &Connection,
    session: &Session<'_>,
    id: RequestId,
    message_id: MessageId,
    kind: MessageKind,
    recipients: Vec<Envelope>,
) -> Result<PendingReply, (ApiError, Option<ErrorDetails>)> {
    let started = Instant::now();
    let plain = |e: ApiError| (e, None);
    let limits = &conn.state.config.limits;
    if recipients.is_empty() {
        return Err(plain(ApiError::new(
            ErrorCode::InvalidRequest,
            "a send needs at least one recipient",
        )));
    }
    if recipients.len() > limits.max_recipients {
        return Err(plain(ApiError::new(
            ErrorCode::TooManyRecipients,
            format!("at most {} recipient devices", limits.max_recipients),
        )));
    }
    if recipients.iter().any(|e| e.ciphertext.is_empty()) {
        return Err(plain(ApiError::new(
            ErrorCode::InvalidRequest,
            "empty ciphertext",
        )));
    }
    let store = &conn.state.store;
    let sender = session.device;
    let named: HashSet<Address> = recipients
        .iter()
        .map(|e| Address {
            user_id: e.user_id.clone(),
            device_id: e.device_id,
        })
        .collect();
    if named.len() != recipients.len() {
        return Err(plain(ApiError::new(
            ErrorCode::InvalidRequest,
            "a device is named twice",
        )));
    }
    let mut users: Vec<UserId> = recipients.iter().map(|e| e.user_id.clone()).collect();
    users.push(sender.user_id.clone());
    users.sort();
    users.dedup();
    let mut required: HashSet<Address> = HashSet::new();
    let mut devices = store
        .bounded(store.current_devices_of(&users))
        .await
        .map_err(|e| plain(e.into()))?;
    for user in &users {
        let Some(current) = devices.remove(user) else {
            return Err(plain(ApiError::new(
                ErrorCode::NotFound,
                format!("no such user {user}"),
            )));
        };
        for device_id in current {
            let address = Address {
                user_id: user.clone(),
                device_id,
            };
            if address != *sender {
                required.insert(address);
            }
        }
    }
    let mut missing: Vec<Address> = required.difference(&named).cloned().collect();
    let mut extra: Vec<Address> = named.difference(&required).cloned().collect();
    if !missing.is_empty() || !extra.is_empty() {
        missing.sort();
        extra.sort();
        return Err((
            ApiError::new(
                ErrorCode::StaleDevices,
                "the device list is out of date: fetch bundles and encrypt for the current devices",
            ),
            Some(ErrorDetails::StaleDevices { missing, extra }),
        ));
    }
    let now = now_ms();
    let ttl = Duration::from_secs(limits.queue_ttl_secs);
    let pending = store
        .submit_message(sender, &message_id, kind, &recipients, session.actor, now, ttl)
        .map_err(|e| plain(e.into()))?;
    let hub = conn.state.hub.clone();
    let sender = sender.clone();
    let bytes: usize = recipients.iter().map(|e| e.ciphertext.len()).sum();
    let count = recipients.len();
    let addresses: Vec<Address> = recipients
        .into_iter()
        .map(|e| Address {
            user_id: e.user_id,
            device_id: e.device_id,
        })
        .collect();
    Ok(Box::pin(async move {
        let result = match pending.wait().await {
            Err(e) => Err(plain(e.into())),
            Ok(accepted) => {
                let stored = accepted.stored;
                if stored {
                    crate::metrics::with(|m| m.messages_accepted.inc());
                    tracing::info!(user = %sender.user_id, device = %sender.device_id, message_id = %message_id, recipients = count, bytes, "message accepted");
                    for address in &addresses {
                        hub.notify(address, HubEvent::Wake);
                    }
                }
                Ok(ServerFrame::Accepted {
                    id: id.clone(),
                    message_id,
                    duplicate: !stored,
                    accepted_at: accepted.accepted_at,
                })
            }
        };
        crate::metrics::with(|m| m.send_latency.observe(started.elapsed().as_secs_f64()));
        (id, result)
    }))
}
