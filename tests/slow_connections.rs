//! Slow and idle connections (slowloris): a client that completes TLS and
//! then sends nothing, a request head a line at a time, a body that stops,
//! or nothing between requests, is closed within its configured timeout; a
//! body that keeps arriving is not; every TCP connection counts against the
//! connection limits, per source address and in total, while authenticated
//! devices keep working. Real server, real TLS, raw HTTP/1.1 on the wire.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use curbside_client::{Client, ServerInfo};
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::UserId;
use curbside_server::store::Backend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// The timeouts these tests configure: short, so the tests are quick.
const HEAD: Duration = Duration::from_millis(300);
const BODY: Duration = Duration::from_millis(300);
/// A connection the server must close is closed within this (its timeout
/// plus plenty of slack for a loaded machine); the old server never closed
/// them at all.
const CLOSED_WITHIN: Duration = Duration::from_secs(3);
/// …and not before this: it is the timeout that closed it.
const NOT_BEFORE: Duration = Duration::from_millis(200);

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn world_with(tweak: impl FnOnce(&mut curbside_server::Config)) -> World {
    World::start_with(Db::new(Backend::Sqlite).await.unwrap(), tweak).await
}

/// A world whose HTTP timeouts are short.
async fn short_timeouts() -> World {
    world_with(|c| {
        c.limits.request_head_timeout_ms = u64::try_from(HEAD.as_millis()).unwrap();
        c.limits.request_body_timeout_ms = u64::try_from(BODY.as_millis()).unwrap();
        c.limits.request_body_min_bytes = 1024;
    })
    .await
}

/// A TLS connection to the server from `source` (any 127.0.0.0/8 address
/// works on Linux's loopback), or the error that refused it.
async fn tls_from(info: &ServerInfo, source: IpAddr) -> std::io::Result<Tls> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(info.address.parse().unwrap()).await?;
    let connector =
        tokio_rustls::TlsConnector::from(curbside_client::tls::client_config(&info.cert_pem).unwrap());
    let name = rustls_pki_types::ServerName::try_from(info.server_name.clone()).unwrap();
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("TLS handshake timed out"))?
}

async fn tls(info: &ServerInfo) -> Tls {
    tls_from(info, LOOPBACK).await.unwrap()
}

/// Reads until the server closes the connection; returns what it sent and
/// how long after `since` it closed. Panics if it stays open past `bound`.
async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin),
    since: Instant,
    bound: Duration,
) -> (String, Duration) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = bound.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the connection is still open after {bound:?} (received {:?})",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), since.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// The status of the first response in `text`, if any.
fn status(text: &str) -> Option<u16> {
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_silent_after_tls_is_closed_at_the_head_timeout() {
    let world = short_timeouts().await;
    let mut stream = tls(&world.info).await;
    let (sent, after) = closed_within(&mut stream, Instant::now(), CLOSED_WITHIN).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}, before the head timeout"
    );
    assert_eq!(sent, "", "a head timeout closes without a response");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_tls_is_closed_at_the_handshake_timeout() {
    let world = world_with(|c| c.limits.tls_handshake_timeout_ms = 300).await;
    let mut tcp = TcpStream::connect(&world.info.address).await.unwrap();
    let (_, after) = closed_within(&mut tcp, Instant::now(), CLOSED_WITHIN).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}, before the handshake timeout"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_a_line_at_a_time_is_closed_at_the_head_timeout() {
    let world = short_timeouts().await;
    let stream = tls(&world.info).await;
    let (mut read, mut write) = tokio::io::split(stream);
    let start = Instant::now();
    // One header line every 100 ms, for far longer than the head timeout:
    // each line is progress, but the head is never complete.
    let trickle = tokio::spawn(async move {
        if write
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            .await
            .is_err()
        {
            return;
        }
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let (sent, after) = closed_within(&mut read, start, CLOSED_WITHIN).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}, before the head timeout"
    );
    assert_eq!(sent, "", "a head timeout closes without a response");
    trickle.abort();
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_that_stops_short_is_closed_at_the_body_timeout() {
    let world = short_timeouts().await;
    let mut stream = tls(&world.info).await;
    // Content-Length 1000, then 10 bytes and nothing more.
    stream
        .write_all(
            b"POST /v1/enroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"invite\":",
        )
        .await
        .unwrap();
    let (sent, after) = closed_within(&mut stream, Instant::now(), CLOSED_WITHIN).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}, before the body timeout"
    );
    if let Some(status) = status(&sent) {
        assert!(status >= 400, "a body cut off is refused: {sent}");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_upload_that_stops_is_closed_at_the_body_timeout() {
    let world = short_timeouts().await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let token = world.login(&alice).await;
    let mut stream = tls(&world.info).await;
    let head = format!(
        "POST /v1/attachments HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // One whole chunk of 1 KiB (the minimum progress: it restarts the
    // window), then nothing.
    let mut chunk = b"400\r\n".to_vec();
    chunk.extend_from_slice(&[b'x'; 1024]);
    chunk.extend_from_slice(b"\r\n");
    stream.write_all(&chunk).await.unwrap();
    let (sent, after) = closed_within(&mut stream, Instant::now(), CLOSED_WITHIN).await;
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}, before the body timeout"
    );
    assert_eq!(
        status(&sent),
        Some(400),
        "the upload is refused as interrupted: {sent}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_keeps_arriving_is_not_cut_however_long_it_takes() {
    let world = short_timeouts().await;
    let alice = world.clinician("Dr. Alice Adeyemi", NPIS[0], "Dermatology").await;
    let token = world.login(&alice).await;
    let mut stream = tls(&world.info).await;
    let pieces = 8;
    let head = format!(
        "POST /v1/attachments HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        pieces * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 1 KiB every 150 ms: the minimum in every 300 ms window, for 1.2 s in all
    // (four times the body timeout).
    let start = Instant::now();
    for _ in 0..pieces {
        tokio::time::sleep(Duration::from_millis(150)).await;
        stream.write_all(&[b'y'; 1024]).await.unwrap();
    }
    let (sent, _) = closed_within(&mut stream, start, CLOSED_WITHIN + Duration::from_secs(2)).await;
    assert_eq!(status(&sent), Some(200), "{sent}");
    assert!(sent.contains("\"size\":8192"), "{sent}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_at_the_head_timeout() {
    let world = short_timeouts().await;
    let mut stream = tls(&world.info).await;
    let start = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // The response comes at once; then the connection idles (keep-alive)
    // and is closed once the next head is overdue.
    let (sent, after) = closed_within(&mut stream, start, CLOSED_WITHIN).await;
    assert_eq!(status(&sent), Some(200), "{sent}");
    assert!(sent.ends_with("ok"), "exactly one response: {sent}");
    assert!(
        after >= NOT_BEFORE,
        "closed after {after:?}, before the keep-alive idle timeout"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_not_served() {
    let world = short_timeouts().await;
    let mut stream = tls(&world.info).await;
    // The HTTP/2 connection preface (prior knowledge, as without ALPN).
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    // Closed at once, without an answer: no HTTP/2 SETTINGS frame.
    let (sent, after) = closed_within(&mut stream, Instant::now(), CLOSED_WITHIN).await;
    assert_eq!(sent, "", "no HTTP/2 frames");
    assert!(
        after < HEAD,
        "closed at once, not at the head timeout ({after:?})"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_websocket_outlives_the_http_timeouts() {
    let world = short_timeouts().await;
    let (alice, bob_account) = world.alice_and_bob().await;
    let mut a = Client::connect(alice).await.unwrap();
    let bob = uid(&bob_account);
    let mut b = Client::connect(bob_account).await.unwrap();
    // Several times the head and body timeouts without a frame.
    tokio::time::sleep(HEAD * 4).await;
    a.send(&[bob], MessageKind::Message, &mid("after-idle"), b"still here")
        .await
        .unwrap();
    assert_eq!(texts(&mut b, 1).await[0].1, "still here");
    a.close().await;
    b.close().await;
    world.stop().await;
}

/// Silent TLS connections from `source` until one is refused (at most
/// `most` tried); returns the ones admitted.
async fn fill(info: &ServerInfo, source: IpAddr, most: usize) -> Vec<Tls> {
    let mut held = Vec::new();
    for _ in 0..most {
        match tls_from(info, source).await {
            Ok(stream) => held.push(stream),
            Err(_) => return held,
        }
    }
    panic!("{most} connections from {source} were all admitted");
}

/// A connection from `source` is admitted again within `WAIT`.
async fn admitted_again(info: &ServerInfo, source: IpAddr) -> Tls {
    let deadline = Instant::now() + WAIT;
    loop {
        match tls_from(info, source).await {
            Ok(stream) => return stream,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("still refused from {source}: {e}"),
        }
    }
}

/// Alice's connected device reaches Bob's.
async fn still_works(a: &mut Client, b: &mut Client, bob: &UserId, id: &str) {
    a.send(
        std::slice::from_ref(bob),
        MessageKind::Message,
        &mid(id),
        id.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(texts(b, 1).await[0].1, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_limit_are_refused() {
    // Long HTTP timeouts: the silent connections stay until dropped.
    let world = world_with(|c| c.limits.max_connections_per_address = 4).await;
    let (alice, bob_account) = world.alice_and_bob().await;
    let mut a = Client::connect(alice).await.unwrap();
    let bob = uid(&bob_account);
    let mut b = Client::connect(bob_account).await.unwrap();
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut silent = fill(&world.info, other, 10).await;
    assert_eq!(silent.len(), 4, "exactly the per-address limit is admitted");
    // Connected devices keep working, and other addresses still get in.
    still_works(&mut a, &mut b, &bob, "while-full").await;
    let health = world.http().get(format!(
        "https://localhost:{}/healthz",
        world.server().addr.port()
    ));
    assert_eq!(health.send().await.unwrap().status(), 200);
    // A silent connection gone, its address gets in again.
    silent.pop();
    silent.push(admitted_again(&world.info, other).await);
    assert!(
        tls_from(&world.info, other).await.is_err(),
        "and is at its limit again"
    );
    drop(silent);
    admitted_again(&world.info, other).await;
    a.close().await;
    b.close().await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_total_limit_are_refused_whatever_their_address() {
    let world = world_with(|c| {
        c.limits.max_connections = 8;
        c.limits.max_connections_per_address = 0;
    })
    .await;
    let (alice, bob_account) = world.alice_and_bob().await;
    let mut a = Client::connect(alice).await.unwrap();
    let bob = uid(&bob_account);
    let mut b = Client::connect(bob_account).await.unwrap();
    // The enrollment's HTTP connections are closed by now: Alice's and Bob's
    // WebSockets hold 2 of the 8 slots.
    tokio::time::sleep(QUIET).await;
    let silent = fill(&world.info, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 20).await;
    assert_eq!(
        silent.len(),
        6,
        "the two WebSockets and six silent connections fill the limit"
    );
    let fresh = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 20));
    assert!(
        tls_from(&world.info, fresh).await.is_err(),
        "a new address is refused once the total is reached"
    );
    still_works(&mut a, &mut b, &bob, "while-full").await;
    // The silent connections gone, new clients get in again.
    drop(silent);
    let mut stream = admitted_again(&world.info, fresh).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (sent, _) = closed_within(&mut stream, Instant::now(), CLOSED_WITHIN).await;
    assert_eq!(status(&sent), Some(200), "{sent}");
    still_works(&mut a, &mut b, &bob, "after").await;
    a.close().await;
    b.close().await;
    world.stop().await;
}
