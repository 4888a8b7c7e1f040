//! An authenticated WebSocket connection to a Curbside server.
//!
//! A reader task routes replies to the request that carries the same id and
//! everything else (deliveries, receipts, warnings) to [`Connection::next_event`];
//! a writer task owns the socket's sink.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use curbside_crypto::IdentityKeyPair;
use curbside_protocol::auth::{transcript, Purpose};
use curbside_protocol::frames::{ClientFrame, ServerFrame};
use curbside_protocol::ids::{Address, RequestId};
use curbside_protocol::PROTOCOL_VERSION;
use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::ServerName;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::error::{ClientError, Result};
use crate::ServerInfo;

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<ServerFrame>>>>;

/// How long a request waits for its reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An authenticated connection.
#[derive(Debug)]
pub struct Connection {
    out: mpsc::Sender<Message>,
    pending: Pending,
    events: mpsc::Receiver<ServerFrame>,
    /// A pushed frame taken off `events` by [`Connection::wait_event`] and
    /// not read yet.
    buffered: Option<ServerFrame>,
    next_id: AtomicU64,
    /// Set by the reader task when the connection is gone.
    closed: Arc<AtomicBool>,
    /// One-time prekeys the server holds for this device, at login.
    pub one_time_prekeys: u32,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn lock(p: &Pending) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<ServerFrame>>> {
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn ws_error(e: impl std::fmt::Display) -> ClientError {
    ClientError::WebSocket(e.to_string())
}

fn server_error(frame: ServerFrame) -> ClientError {
    match frame {
        ServerFrame::Error {
            code,
            message,
            details,
            ..
        } => ClientError::Server {
            code,
            message,
            details,
        },
        other => ClientError::Protocol(format!("unexpected frame {other:?}")),
    }
}

impl Connection {
    /// Connects over TLS (trusting only the pinned certificate), answers the
    /// challenge with the device's signature and waits for `auth_ok`.
    pub async fn connect(server: &ServerInfo, device: &Address, identity: &IdentityKeyPair) -> Result<Self> {
        let tls = tokio_rustls::TlsConnector::from(crate::tls::client_config(&server.cert_pem)?);
        let tcp = tokio::net::TcpStream::connect(&server.address).await?;
        tcp.set_nodelay(true)?;
        let name =
            ServerName::try_from(server.server_name.clone()).map_err(|e| ClientError::Tls(e.to_string()))?;
        let stream = tls.connect(name, tcp).await?;
        let (ws, _) = tokio_tungstenite::client_async(format!("{}/v1/ws", server.ws_url()), stream)
            .await
            .map_err(ws_error)?;
        let (mut sink, mut stream) = ws.split();

        let hello = read_frame(&mut stream).await?;
        let ServerFrame::Hello {
            versions,
            challenge,
            server_name,
            ..
        } = hello
        else {
            return Err(server_error(hello));
        };
        if !versions.contains(&PROTOCOL_VERSION) {
            return Err(ClientError::Protocol(format!(
                "server speaks {versions:?}, we speak {PROTOCOL_VERSION}"
            )));
        }
        if server_name != server.server_name {
            return Err(ClientError::Protocol(format!(
                "server calls itself {server_name:?}, expected {:?}",
                server.server_name
            )));
        }
        let challenge: [u8; 32] = challenge
            .as_slice()
            .try_into()
            .map_err(|_| ClientError::Protocol("challenge length".into()))?;
        let signed = transcript(
            Purpose::WebSocket,
            &server.server_name,
            &device.user_id,
            device.device_id,
            &challenge,
        );
        let auth = ClientFrame::Auth {
            version: PROTOCOL_VERSION,
            user_id: device.user_id.clone(),
            device_id: device.device_id,
            signature: identity.sign(&signed)?.as_bytes().to_vec().into(),
        };
        sink.send(Message::text(encode(&auth)?)).await.map_err(ws_error)?;
        let reply = read_frame(&mut stream).await?;
        let ServerFrame::AuthOk { one_time_prekeys, .. } = reply else {
            return Err(server_error(reply));
        };

        let pending: Pending = Arc::default();
        let (out_tx, mut out_rx) = mpsc::channel::<Message>(256);
        let (event_tx, events) = mpsc::channel::<ServerFrame>(1024);
        let writer = tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader_pending = pending.clone();
        let closed = Arc::new(AtomicBool::new(false));
        let reader_closed = closed.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(frame) = serde_json::from_str::<ServerFrame>(text.as_str()) else {
                    tracing::warn!("ignoring an unparseable frame from the server");
                    continue;
                };
                let id = frame.reply_id().cloned();
                let waiter = id.and_then(|id| lock(&reader_pending).remove(id.as_str()));
                match waiter {
                    Some(w) => {
                        let _ = w.send(frame);
                    }
                    None => {
                        if event_tx.send(frame).await.is_err() {
                            break;
                        }
                    }
                }
            }
            // Fail every request still waiting, and every later one.
            reader_closed.store(true, Ordering::SeqCst);
            lock(&reader_pending).clear();
        });
        Ok(Self {
            out: out_tx,
            pending,
            events,
            buffered: None,
            next_id: AtomicU64::new(1),
            closed,
            one_time_prekeys,
            tasks: vec![writer, reader],
        })
    }

    /// A fresh request id.
    pub fn request_id(&self) -> Result<RequestId> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        RequestId::new(format!("r{n}")).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Sends a request built with a fresh id and waits for its reply; an
    /// `error` reply becomes [`ClientError::Server`].
    pub async fn request(&self, build: impl FnOnce(RequestId) -> ClientFrame) -> Result<ServerFrame> {
        let id = self.request_id()?;
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.as_str().to_owned(), tx);
        if self.closed.load(Ordering::SeqCst) {
            lock(&self.pending).remove(id.as_str());
            return Err(ClientError::Closed);
        }
        self.send(&build(id)).await?;
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(ServerFrame::Error {
                code,
                message,
                details,
                ..
            })) => Err(ClientError::Server {
                code,
                message,
                details,
            }),
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout("no reply within 30 s".into())),
        }
    }

    /// Sends a frame that expects no reply.
    pub async fn send(&self, frame: &ClientFrame) -> Result<()> {
        self.out
            .send(Message::text(encode(frame)?))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Sends raw text as a frame (for testing hostile input).
    pub async fn send_raw(&self, text: String) -> Result<()> {
        self.out
            .send(Message::text(text))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// The next pushed frame (delivery, receipt, warning, or a closing error);
    /// `None` once the connection is closed.
    pub async fn next_event(&mut self) -> Option<ServerFrame> {
        match self.buffered.take() {
            Some(frame) => Some(frame),
            None => self.events.recv().await,
        }
    }

    /// Like [`Connection::next_event`], giving up after `wait` (a frame
    /// already there is returned even with a zero `wait`).
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<ServerFrame> {
        if let Some(frame) = self.buffered.take() {
            return Some(frame);
        }
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits until a pushed frame is there to read, or the connection is
    /// gone, without reading it: cancel-safe, so an interactive loop can
    /// wait for the network and for the keyboard at once and then read with
    /// [`Connection::next_event_within`] and a zero wait.
    pub async fn wait_event(&mut self) {
        if self.buffered.is_none() {
            self.buffered = self.events.recv().await;
        }
    }

    /// True once the connection is gone and every frame it delivered was
    /// read (the server closed it, or the network dropped it).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.buffered.is_none() && self.events.is_closed() && self.events.is_empty()
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.out.send(Message::Close(None)).await;
        drop(self.out);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

fn encode(frame: &ClientFrame) -> Result<String> {
    serde_json::to_string(frame).map_err(|e| ClientError::Protocol(e.to_string()))
}

async fn read_frame<S>(stream: &mut S) -> Result<ServerFrame>
where
    S: futures_util::Stream<Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    loop {
        let message = tokio::time::timeout(REQUEST_TIMEOUT, stream.next())
            .await
            .map_err(|_| ClientError::Protocol("the server did not answer".into()))?
            .ok_or(ClientError::Closed)?
            .map_err(ws_error)?;
        match message {
            Message::Text(text) => {
                return serde_json::from_str(text.as_str()).map_err(|e| ClientError::Protocol(e.to_string()));
            }
            Message::Close(_) => return Err(ClientError::Closed),
            _ => continue,
        }
    }
}
