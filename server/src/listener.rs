//! The TLS listener: accepts TCP connections, counts each against the
//! connection limits, performs the TLS handshake and serves HTTP/1.1 on it
//! (WebSocket upgrades included), each step bounded in time.
//!
//! A client can hold a connection only while it makes progress:
//! - **Admission.** Every accepted TCP connection takes a slot of
//!   `max_connections` and of `max_connections_per_address` (its IPv4
//!   address or IPv6 /64), held by the connection's stream until it closes,
//!   through the TLS handshake, every request, keep-alive idleness and a
//!   WebSocket after its upgrade. Over either limit the TCP connection is
//!   closed at once, before TLS: refusing costs no handshake, and nothing
//!   can be said to a peer not yet past TLS anyway.
//! - **TLS handshake** within `tls_handshake_timeout_ms`.
//! - **Request head** (request line and headers) complete within
//!   `request_head_timeout_ms` of the handshake's end or of the previous
//!   response (hyper's header read timeout): this also ends idle keep-alive
//!   connections. Past it the connection is closed without a response.
//! - **Request body**: while a handler reads it, at least
//!   `request_body_min_bytes` (or its end) must arrive in every
//!   `request_body_timeout_ms` ([`Progress`]); otherwise reading it fails, the
//!   handler answers its error, and the connection closes (hyper does not
//!   keep a connection whose request body was not read to its end). A body
//!   no handler reads is drained as far as it has arrived, and the
//!   connection closed after the response.
//! - After a WebSocket upgrade none of these apply: the connection is the
//!   WebSocket's (`ws`), with its authentication deadline, write timeout and
//!   shutdown. The slot stays taken until the WebSocket closes.
//!
//! Only HTTP/1.1 is served (ALPN offers `http/1.1` alone, and an HTTP/2
//! preface is not understood): no client uses HTTP/2, and one protocol is
//! one set of limits to get right.
//!
//! Shutdown ([`Listener::serve`] sees `stop`): the listening socket closes,
//! handshakes in progress are dropped, each connection finishes the request
//! in flight and closes (an idle one at once); `kill` drops what remains.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::{BoxError, Router};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::config::Limits;

/// The time bounds of one connection, from `limits`.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    handshake: Duration,
    head: Duration,
    body: Duration,
    body_min_bytes: u64,
}

impl Timeouts {
    fn from_limits(limits: &Limits) -> Self {
        Self {
            handshake: Duration::from_millis(limits.tls_handshake_timeout_ms),
            head: Duration::from_millis(limits.request_head_timeout_ms),
            body: Duration::from_millis(limits.request_body_timeout_ms),
            body_min_bytes: limits.request_body_min_bytes,
        }
    }
}

/// The listening socket, the limits, and what every connection needs.
pub(crate) struct Listener {
    tcp: TcpListener,
    connections: Arc<Semaphore>,
    addresses: Arc<Addresses>,
    refusals: Refusals,
    shared: Arc<Shared>,
}

/// What every connection needs.
struct Shared {
    tls: TlsAcceptor,
    app: Router,
    timeouts: Timeouts,
}

impl Listener {
    /// A listener on `tcp` serving `app` over TLS; `connections` holds the
    /// `max_connections` slots.
    pub(crate) fn new(
        tcp: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        app: Router,
        connections: Arc<Semaphore>,
        limits: &Limits,
    ) -> Self {
        Self {
            tcp,
            connections,
            addresses: Arc::new(Addresses {
                limit: limits.max_connections_per_address,
                counts: Mutex::default(),
            }),
            refusals: Refusals::default(),
            shared: Arc::new(Shared {
                tls: TlsAcceptor::from(tls),
                app,
                timeouts: Timeouts::from_limits(limits),
            }),
        }
    }

    /// Accepts connections until `stop` becomes true (then closes the
    /// listening socket and returns); each connection runs in its own task,
    /// finishes gracefully after `stop`, and is dropped on `kill`.
    pub(crate) async fn serve(self, stop: watch::Receiver<bool>, kill: CancellationToken) {
        let mut watch = stop.clone();
        loop {
            let accepted = tokio::select! {
                biased;
                () = stopping(&mut watch) => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset while
                    // queued: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed; retrying in 50 ms");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = self.admit(peer.ip()) else {
                self.refusals.note();
                drop(tcp);
                continue;
            };
            tokio::spawn(connection(
                tcp,
                peer,
                slot,
                Arc::clone(&self.shared),
                stop.clone(),
                kill.clone(),
            ));
        }
        tracing::info!("listener closed: no new connections");
    }

    /// A slot for a connection from `ip`, or `None` over a limit.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let total = Arc::clone(&self.connections).try_acquire_owned().ok()?;
        let address = self.addresses.take(ip)?;
        Some(Slot {
            _total: total,
            _address: address,
        })
    }
}

/// Returns once `stop` is true (or its sender is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// One connection's place under the limits, released when it is dropped
/// (with the connection's stream).
struct Slot {
    _total: OwnedSemaphorePermit,
    _address: AddressSlot,
}

/// How many connections each source address has open.
struct Addresses {
    /// 0: no limit (nothing is counted).
    limit: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl Addresses {
    /// Counts one more connection from `ip`, or `None` at the limit.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        if self.limit == 0 {
            return Some(AddressSlot(None));
        }
        let key = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot(Some((Arc::clone(self), key))))
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&key);
            }
        }
    }
}

/// One connection counted for its address (`None` when there is no
/// per-address limit).
struct AddressSlot(Option<(Arc<Addresses>, IpAddr)>);

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some((addresses, key)) = &self.0 {
            addresses.release(*key);
        }
    }
}

/// What the per-address limit counts: an IPv4 address (an IPv4-mapped IPv6
/// address is that IPv4 address), or the /64 network of an IPv6 address
/// (one host commonly has a whole /64 to choose addresses from).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// Refused connections, logged at most once a second (a flood of refusals
/// must not become a flood of log lines).
#[derive(Default)]
struct Refusals {
    since_logged: std::sync::atomic::AtomicU64,
    logged_at: Mutex<Option<Instant>>,
}

impl Refusals {
    fn note(&self) {
        use std::sync::atomic::Ordering;
        self.since_logged.fetch_add(1, Ordering::Relaxed);
        let mut logged_at = self.logged_at.lock().unwrap_or_else(PoisonError::into_inner);
        if logged_at.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *logged_at = Some(Instant::now());
        let refused = self.since_logged.swap(0, Ordering::Relaxed);
        tracing::warn!(
            refused,
            "connections refused: connection limit reached (max_connections or max_connections_per_address)"
        );
    }
}

/// The TLS stream of an admitted connection, holding its slot: whoever owns
/// the stream (the HTTP connection, or the WebSocket after an upgrade)
/// holds the slot, and dropping it frees the slot.
struct Admitted {
    stream: TlsStream<TcpStream>,
    _slot: Slot,
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// One connection: TLS handshake, then HTTP/1.1 until the peer, a timeout,
/// an upgrade or shutdown ends it.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    kill: CancellationToken,
) {
    let timeouts = shared.timeouts;
    // TCP_NODELAY stays off: measured with it, latency at 1 000 messages/s
    // got worse, not better (BENCHMARKS.md, profiles, item 6).
    let handshake = tokio::time::timeout(timeouts.handshake, shared.tls.accept(tcp));
    let stream = tokio::select! {
        biased;
        () = stopping(&mut stop) => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
    };
    let io = TokioIo::new(Admitted { stream, _slot: slot });
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(peer));
        let body = Body::new(Progress::new(body, timeouts.body, timeouts.body_min_bytes));
        shared.app.clone().call(Request::from_parts(parts, body))
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.head)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(http);
    let ended = tokio::select! {
        biased;
        () = kill.cancelled() => return,
        () = stopping(&mut stop) => {
            http.as_mut().graceful_shutdown();
            tokio::select! {
                biased;
                () = kill.cancelled() => return,
                ended = http.as_mut() => ended,
            }
        }
        ended = http.as_mut() => ended,
    };
    if let Err(e) = ended {
        // A head timeout, a malformed request, a peer gone mid-request.
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// A request body that must keep arriving: at least `min_bytes` (or its
/// end) in every `window` while it is read; otherwise reading fails with
/// [`BodyStalled`]. The first window starts when the body is first read.
struct Progress {
    inner: Incoming,
    window: Duration,
    min_bytes: u64,
    /// Bytes arrived in the current window.
    arrived: u64,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    stalled: bool,
}

impl Progress {
    fn new(inner: Incoming, window: Duration, min_bytes: u64) -> Self {
        Self {
            inner,
            window,
            min_bytes,
            arrived: 0,
            deadline: None,
            stalled: false,
        }
    }
}

/// A request body stopped arriving (`request_body_timeout_ms`).
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving (less than the minimum within request_body_timeout_ms); send it without pauses")]
struct BodyStalled;

impl http_body::Body for Progress {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.stalled {
            return Poll::Ready(Some(Err(Box::new(BodyStalled))));
        }
        let window = this.window;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(window)));
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.arrived = this.arrived.saturating_add(data.len() as u64);
                    if this.arrived >= this.min_bytes {
                        this.arrived = 0;
                        deadline.as_mut().reset(tokio::time::Instant::now() + window);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.stalled = true;
                    tracing::info!(
                        arrived = this.arrived,
                        "request body stalled (request_body_timeout_ms); the connection closes"
                    );
                    Poll::Ready(Some(Err(Box::new(BodyStalled))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn addresses_are_counted_per_ipv4_address_and_ipv6_network() {
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        assert_eq!(address_key(v6("2001:db8:1:2:aaaa::1")), v6("2001:db8:1:2::"));
        assert_eq!(address_key(v6("2001:db8:1:2:bbbb::9")), v6("2001:db8:1:2::"));
        assert_ne!(address_key(v6("2001:db8:1:3::1")), v6("2001:db8:1:2::"));
        assert_eq!(
            address_key(v6("::ffff:192.0.2.7")),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))
        );
    }

    #[test]
    fn an_address_slot_is_given_back_when_dropped() {
        let addresses = Arc::new(Addresses {
            limit: 2,
            counts: Mutex::default(),
        });
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let first = addresses.take(ip).unwrap();
        let second = addresses.take(ip).unwrap();
        assert!(addresses.take(ip).is_none(), "a third is over the limit");
        assert!(addresses.take(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))).is_some());
        drop(first);
        let third = addresses.take(ip).unwrap();
        drop((second, third));
        assert!(
            addresses.counts.lock().unwrap().is_empty(),
            "nothing is left counted"
        );
    }
}
