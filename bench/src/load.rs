//! Synthetic clients: a real TLS WebSocket per device, authenticated with the
//! device's Ed25519 key, sending pre-built 1 KiB ciphertexts and acknowledging
//! everything they receive, as a real client does. Each connection both
//! sends (to its targets, with a window of unacknowledged sends or at a fixed
//! rate) and receives; latencies are measured from the moment a message was
//! (or was scheduled to be) sent, carried in its message id, to the moment
//! its delivery arrives, so a slow server cannot hide queueing delay.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::frames::{ClientFrame, ServerFrame};
use curbside_protocol::ids::Address;
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::node::Target;
use crate::population::Clinician;

/// An authenticated connection.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// Connects over TLS (from `source`, if given) and authenticates as `who`.
pub async fn connect(target: &Target, who: &Clinician, source: Option<IpAddr>) -> anyhow::Result<Ws> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let tcp = socket.connect(target.addr).await.context("TCP connect")?;
    tcp.set_nodelay(true)?;
    let name = rustls_pki_types::ServerName::try_from(target.server_name.clone())?;
    let tls = tokio_rustls::TlsConnector::from(target.tls.clone())
        .connect(name, tcp)
        .await
        .context("TLS handshake")?;
    // Small buffers: the idle scenario holds tens of thousands of these.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let url = format!("wss://{}:{}/v1/ws", target.server_name, target.addr.port());
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config))
        .await
        .context("WebSocket handshake")?;
    let hello = next_frame(&mut ws).await?;
    let ServerFrame::Hello { challenge, .. } = hello else {
        bail!("expected hello, got {hello:?}");
    };
    let challenge: [u8; 32] = challenge.as_slice().try_into().context("challenge length")?;
    let a = &who.address;
    let signed = transcript(
        Purpose::WebSocket,
        &target.server_name,
        &a.user_id,
        a.device_id,
        &challenge,
    );
    let auth = ClientFrame::Auth {
        version: curbside_protocol::PROTOCOL_VERSION,
        user_id: a.user_id.clone(),
        device_id: a.device_id,
        signature: who.identity.sign(&signed)?.as_bytes().to_vec().into(),
    };
    ws.send(Message::text(serde_json::to_string(&auth)?)).await?;
    match next_frame(&mut ws).await? {
        ServerFrame::AuthOk { .. } => Ok(ws),
        other => bail!("authentication refused: {other:?}"),
    }
}

async fn next_frame(ws: &mut Ws) -> anyhow::Result<ServerFrame> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            Err(_) => bail!("no frame within 60 s"),
            Ok(None) => bail!("connection closed"),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(t.as_str())?),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Counters shared by every connection of a run.
pub struct Shared {
    epoch: Instant,
    /// Latencies are recorded only while this is set (the measured window).
    pub recording: AtomicBool,
    /// Connections stop starting new sends once this is set.
    pub stop_sending: AtomicBool,
    /// Sends written.
    pub sent: AtomicU64,
    /// Sends acknowledged (`accepted`).
    pub accepted: AtomicU64,
    /// Deliveries expected from the accepted sends (one per envelope).
    pub expected: AtomicU64,
    /// Deliveries received.
    pub delivered: AtomicU64,
    /// Delivery receipts received by senders.
    pub receipts: AtomicU64,
    /// Error frames received.
    pub errors: AtomicU64,
    /// The first error, for the report.
    pub first_error: Mutex<Option<String>>,
    ciphertext: String,
}

impl Shared {
    /// Counters for a run whose messages carry `size` bytes of ciphertext.
    pub fn new(size: usize) -> Arc<Self> {
        let mut bytes = vec![0u8; size];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        Arc::new(Self {
            epoch: Instant::now(),
            recording: AtomicBool::new(false),
            stop_sending: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            receipts: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_error: Mutex::new(None),
            ciphertext: curbside_protocol::bytes::Base64(bytes).encode(),
        })
    }

    pub(crate) fn micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub(crate) fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(what);
        }
    }
}

/// How one connection sends.
#[derive(Clone, Debug)]
pub struct Sending {
    /// The devices each message goes to (one envelope each; empty: receive only).
    pub targets: Vec<Address>,
    /// Closed loop: at most this many sends awaiting `accepted`.
    pub window: usize,
    /// Open loop: one send per period (the window then only bounds memory).
    pub period: Option<Duration>,
    /// Stop after this many sends.
    pub limit: Option<u64>,
}

/// Latencies one connection observed, in microseconds.
pub struct Latencies {
    /// Send → delivery at the recipient.
    pub delivery: Histogram<u64>,
    /// Send → `accepted` (durable) at the sender.
    pub accept: Histogram<u64>,
}

impl Latencies {
    /// Empty histograms (1 µs to 10 min, 3 significant digits).
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            delivery: Histogram::new_with_bounds(1, 600_000_000, 3)?,
            accept: Histogram::new_with_bounds(1, 600_000_000, 3)?,
        })
    }

    /// Adds another connection's.
    pub fn merge(&mut self, other: &Self) -> anyhow::Result<()> {
        self.delivery.add(&other.delivery)?;
        self.accept.add(&other.accept)?;
        Ok(())
    }
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    message_id: Option<Cow<'a, str>>,
    #[serde(default)]
    delivery_id: Option<i64>,
    #[serde(default)]
    receipt_id: Option<i64>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
}

/// The time (µs since the epoch of the run) carried as the last `-` field of an id.
pub(crate) fn stamp(id: &str) -> Option<u64> {
    id.rsplit('-').next()?.parse().ok()
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item.to_string());
    }
    out
}

/// Runs one connection until `done` becomes true: sends as `sending` says,
/// acknowledges every delivery and receipt (batched: one `ack` per burst of
/// frames read), records latencies while [`Shared::recording`] is set.
pub async fn drive(
    ws: Ws,
    me: usize,
    sending: Sending,
    shared: Arc<Shared>,
    mut done: watch::Receiver<bool>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::new()?;
    let (mut sink, mut stream) = ws.split();
    let recipients = format!(
        "\"recipients\":[{}]",
        join(
            &sending
                .targets
                .iter()
                .map(|a| format!(
                    "{{\"user_id\":\"{}\",\"device_id\":{},\"ciphertext\":\"{}\"}}",
                    a.user_id, a.device_id.0, shared.ciphertext
                ))
                .collect::<Vec<_>>()
        )
    );
    let fanout = sending.targets.len() as u64;
    let sends = !sending.targets.is_empty();
    let mut outstanding = 0usize;
    let mut seq = 0u64;
    let mut ticker = sending.period.map(|p| {
        let mut t = tokio::time::interval(p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    let tick_epoch = tokio::time::Instant::now();
    let epoch_offset = shared.micros();
    let may_send = |seq: u64, outstanding: usize| {
        sends
            && !shared.stop_sending.load(Ordering::Relaxed)
            && sending.limit.is_none_or(|l| seq < l)
            && outstanding < sending.window
    };
    let frame = |seq: u64, t: u64| {
        Message::text(format!(
            "{{\"type\":\"send\",\"id\":\"r-{seq}-{t}\",\"message_id\":\"m-{me}-{seq}-{t}\",\"kind\":\"message\",{recipients}}}"
        ))
    };
    loop {
        if ticker.is_none() && may_send(seq, outstanding) {
            while may_send(seq, outstanding) {
                sink.feed(frame(seq, shared.micros())).await?;
                seq += 1;
                outstanding += 1;
                shared.sent.fetch_add(1, Ordering::Relaxed);
            }
            sink.flush().await?;
        }
        let tick = async {
            match ticker.as_mut() {
                Some(t) if may_send(seq, outstanding) => Some(t.tick().await),
                _ => std::future::pending().await,
            }
        };
        let mut deliveries = Vec::new();
        let mut receipts = Vec::new();
        tokio::select! {
            _ = done.changed() => break,
            scheduled = tick => {
                // Latency counts from when the send was due, not when it went out.
                let due = scheduled.map_or(0, |s| {
                    u64::try_from(s.duration_since(tick_epoch).as_micros()).unwrap_or(0)
                });
                sink.send(frame(seq, epoch_offset + due)).await?;
                seq += 1;
                outstanding += 1;
                shared.sent.fetch_add(1, Ordering::Relaxed);
            }
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
            first = stream.next() => {
                let mut next = first;
                loop {
                    match next {
                        None => bail!("the server closed the connection"),
                        Some(Err(e)) => return Err(e.into()),
                        Some(Ok(Message::Text(t))) => {
                            let now = shared.micros();
                            let recording = shared.recording.load(Ordering::Relaxed);
                            let frame = match serde_json::from_str::<Incoming<'_>>(t.as_str()) {
                                Ok(frame) => frame,
                                Err(_) => Incoming { kind: "unparseable".into(), id: None, message_id: None, delivery_id: None, receipt_id: None, code: None },
                            };
                            match frame.kind.as_ref() {
                                "accepted" => {
                                    outstanding = outstanding.saturating_sub(1);
                                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                                    shared.expected.fetch_add(fanout, Ordering::Relaxed);
                                    if let (true, Some(t0)) = (recording, frame.id.as_deref().and_then(stamp)) {
                                        let _ = latencies.accept.record(now.saturating_sub(t0).max(1));
                                    }
                                }
                                "deliver" => {
                                    shared.delivered.fetch_add(1, Ordering::Relaxed);
                                    if let (true, Some(t0)) = (recording, frame.message_id.as_deref().and_then(stamp)) {
                                        let _ = latencies.delivery.record(now.saturating_sub(t0).max(1));
                                    }
                                    deliveries.extend(frame.delivery_id);
                                }
                                "delivered" => {
                                    shared.receipts.fetch_add(1, Ordering::Relaxed);
                                    receipts.extend(frame.receipt_id);
                                }
                                "error" => {
                                    if frame.id.is_some() {
                                        outstanding = outstanding.saturating_sub(1);
                                    }
                                    shared.error(format!("error frame: {}", frame.code.as_deref().unwrap_or("?")));
                                }
                                "unparseable" => shared.error("unparseable frame".into()),
                                _ => {}
                            }
                        }
                        Some(Ok(Message::Close(_))) => bail!("the server closed the connection"),
                        Some(Ok(_)) => {}
                    }
                    // Take whatever else has already arrived before acknowledging.
                    match stream.next().now_or_never() {
                        Some(more) => next = more,
                        None => break,
                    }
                }
            }
        }
        // The server takes at most 4 × its unacknowledged window per ack.
        for chunk in deliveries.chunks(512) {
            sink.feed(Message::text(format!(
                "{{\"type\":\"ack\",\"delivery_ids\":[{}]}}",
                join(chunk)
            )))
            .await?;
        }
        for chunk in receipts.chunks(512) {
            sink.feed(Message::text(format!(
                "{{\"type\":\"ack\",\"receipt_ids\":[{}]}}",
                join(chunk)
            )))
            .await?;
        }
        if !deliveries.is_empty() || !receipts.is_empty() {
            sink.flush().await?;
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    Ok(latencies)
}
