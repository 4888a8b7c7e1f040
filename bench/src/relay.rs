//! The baseline: a bare in-memory WebSocket relay built from the same
//! libraries as the server (axum, axum-server with rustls, tungstenite,
//! serde_json, the protocol crate's frames) and speaking the same frames,
//! with no storage, no audit log and no authentication: `auth` is answered
//! without checking the signature, a `send` is acknowledged at once and
//! each envelope pushed to its device if connected (dropped otherwise), an
//! `ack` pushes the receipt to the sender. Whatever the same load achieves
//! here is the ceiling the machine, TLS, WebSockets and JSON allow; every
//! Curbside figure is reported as a ratio of it, measured in the same run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use curbside_protocol::frames::{parse_client_frame, ClientFrame, ServerFrame};
use curbside_protocol::ids::{Address, DeliveryId, MessageId, ReceiptId};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;

type Outbox = mpsc::UnboundedSender<String>;

#[derive(Clone, Default)]
struct Relay {
    devices: Arc<Mutex<HashMap<Address, Outbox>>>,
    /// Delivery id → (sender, message), until the recipient acknowledges.
    pending: Arc<Mutex<HashMap<i64, (Address, MessageId)>>>,
    next: Arc<AtomicI64>,
}

/// A running relay.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its certificate.
    pub cert_pem: String,
    handle: axum_server::Handle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops serving.
    pub async fn stop(self) {
        self.handle.shutdown();
        let _ = self.task.await;
    }
}

/// Starts the relay on 127.0.0.1 with a self-signed certificate in `data_dir`.
pub async fn start(data_dir: &Path) -> anyhow::Result<Running> {
    let files = curbside_server::tls::ensure_certificate(data_dir, "localhost", None, None)?;
    let cert_pem = std::fs::read_to_string(&files.cert)?;
    let tls =
        axum_server::tls_rustls::RustlsConfig::from_config(curbside_server::tls::server_config(&files)?);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/v1/ws", get(upgrade))
        .with_state(Relay::default());
    let handle = axum_server::Handle::new();
    let task = tokio::spawn(
        axum_server::from_tcp_rustls(listener, tls)
            .handle(handle.clone())
            .serve(app.into_make_service()),
    );
    Ok(Running {
        addr,
        cert_pem,
        handle,
        task,
    })
}

async fn upgrade(State(relay): State<Relay>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| serve(socket, relay))
}

fn text(frame: &ServerFrame) -> Option<Message> {
    serde_json::to_string(frame).ok().map(|t| Message::Text(t.into()))
}

async fn serve(socket: WebSocket, relay: Relay) {
    let (mut sink, mut stream) = socket.split();
    let hello = ServerFrame::Hello {
        versions: curbside_protocol::SUPPORTED_VERSIONS.to_vec(),
        challenge: vec![0u8; 32].into(),
        server_name: "localhost".into(),
        max_frame_bytes: 1 << 20,
        auth_deadline_ms: 10_000,
    };
    let Some(hello) = text(&hello) else { return };
    if sink.send(hello).await.is_err() {
        return;
    }
    // The first frame must be `auth`; its signature is not checked.
    let device = loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => match parse_client_frame(t.as_str()) {
                Ok(ClientFrame::Auth {
                    user_id, device_id, ..
                }) => break Address { user_id, device_id },
                _ => return,
            },
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => return,
        }
    };
    let ok = ServerFrame::AuthOk {
        version: curbside_protocol::PROTOCOL_VERSION,
        user_id: device.user_id.clone(),
        device_id: device.device_id,
        one_time_prekeys: 100,
    };
    let Some(ok) = text(&ok) else { return };
    if sink.send(ok).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    if let Ok(mut devices) = relay.devices.lock() {
        devices.insert(device.clone(), tx);
    }
    // As a good relay writes: what is ready is fed, then flushed once (one
    // TLS record and one write for a burst, not one per frame).
    loop {
        let fed = tokio::select! {
            pushed = rx.recv() => match pushed {
                Some(t) => feed_pushed(&mut sink, &mut rx, t).await,
                None => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(t))) => feed_replies(&mut sink, &mut stream, &relay, &device, t).await,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => Ok(()),
                _ => break,
            },
        };
        if fed.is_err() || sink.flush().await.is_err() {
            break;
        }
    }
    if let Ok(mut devices) = relay.devices.lock() {
        devices.remove(&device);
    }
}

/// Frames fed before one flush, at most (the rest go in the next write).
const BATCH: usize = 256;

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;
type Stream = futures_util::stream::SplitStream<WebSocket>;

/// Feeds `first` and whatever else waits to be pushed.
async fn feed_pushed(
    sink: &mut Sink,
    rx: &mut mpsc::UnboundedReceiver<String>,
    first: String,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first.into())).await?;
    for _ in 1..BATCH {
        match rx.try_recv() {
            Ok(t) => sink.feed(Message::Text(t.into())).await?,
            Err(_) => break,
        }
    }
    Ok(())
}

/// Answers `first` and the requests already read after it, feeding the replies.
async fn feed_replies(
    sink: &mut Sink,
    stream: &mut Stream,
    relay: &Relay,
    device: &Address,
    first: axum::extract::ws::Utf8Bytes,
) -> Result<(), axum::Error> {
    let mut next = Some(first);
    let mut n = 0;
    while let Some(t) = next.take() {
        if let Some(reply) = handle(relay, device, t.as_str()).await.as_ref().and_then(text) {
            sink.feed(reply).await?;
        }
        n += 1;
        if n < BATCH {
            // Only what is already here: never wait for more before the flush.
            if let Some(Some(Ok(Message::Text(t)))) = futures_util::FutureExt::now_or_never(stream.next()) {
                next = Some(t);
            }
        }
    }
    Ok(())
}

fn outbox(relay: &Relay, device: &Address) -> Option<Outbox> {
    relay.devices.lock().ok().and_then(|d| d.get(device).cloned())
}

async fn handle(relay: &Relay, me: &Address, text: &str) -> Option<ServerFrame> {
    match parse_client_frame(text).ok()? {
        ClientFrame::Send {
            id,
            message_id,
            kind,
            recipients,
            ..
        } => {
            let now = curbside_server::store::now_ms();
            for e in recipients {
                let to = Address {
                    user_id: e.user_id,
                    device_id: e.device_id,
                };
                let delivery_id = relay.next.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut pending) = relay.pending.lock() {
                    pending.insert(delivery_id, (me.clone(), message_id.clone()));
                }
                let frame = ServerFrame::Deliver {
                    delivery_id: DeliveryId(delivery_id),
                    message_id: message_id.clone(),
                    sender: me.clone(),
                    kind,
                    ciphertext: e.ciphertext,
                    sent_at: now,
                    priority: Default::default(),
                    escalated: false,
                };
                if let (Some(out), Ok(t)) = (outbox(relay, &to), serde_json::to_string(&frame)) {
                    let _ = out.send(t);
                }
            }
            Some(ServerFrame::Accepted {
                id,
                message_id,
                duplicate: false,
                accepted_at: now,
            })
        }
        ClientFrame::Ack { delivery_ids, .. } => {
            let now = curbside_server::store::now_ms();
            for d in delivery_ids {
                let Some((sender, message_id)) = relay.pending.lock().ok().and_then(|mut p| p.remove(&d.0))
                else {
                    continue;
                };
                let frame = ServerFrame::Delivered {
                    receipt_id: ReceiptId(d.0),
                    message_id,
                    recipient: me.clone(),
                    delivered_at: now,
                };
                if let (Some(out), Ok(t)) = (outbox(relay, &sender), serde_json::to_string(&frame)) {
                    let _ = out.send(t);
                }
            }
            None
        }
        ClientFrame::Ping { id } => Some(ServerFrame::Pong { id }),
        _ => None,
    }
}
