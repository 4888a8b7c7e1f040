//! `pairs --real-crypto`: the client library end to end. Each clinician is a
//! real account (enrolled with 100 one-time prekeys), each sender opens an
//! X3DH session and encrypts every 1 KiB message with the Double Ratchet,
//! each recipient decrypts and acknowledges it. A `Client` sends one message
//! at a time (it waits for `accepted`), so the window is 1 per sender.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use curbside_client::Client;
use curbside_protocol::frames::MessageKind;
use curbside_protocol::ids::MessageId;
use tokio::sync::watch;

use crate::load::{stamp, Latencies, Shared};
use crate::scenarios::{load_text, measure_window, report, wait_until, Cluster, Report, Setup, Timing};

async fn sender(
    mut client: Client,
    me: usize,
    to: curbside_protocol::ids::UserId,
    shared: Arc<Shared>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::new()?;
    let mut seq = 0u64;
    while !shared.stop_sending.load(Ordering::Relaxed) {
        let t = shared.micros();
        let id = MessageId::new(format!("m-{me}-{seq}-{t}"))?;
        seq += 1;
        let mut plaintext = t.to_string().into_bytes();
        plaintext.resize(1024, b' ');
        shared.sent.fetch_add(1, Ordering::Relaxed);
        match client
            .send(std::slice::from_ref(&to), MessageKind::Message, &id, &plaintext)
            .await
        {
            Ok(_) => {
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                shared.expected.fetch_add(1, Ordering::Relaxed);
                if shared.recording.load(Ordering::Relaxed) {
                    let _ = latencies.accept.record(shared.micros().saturating_sub(t).max(1));
                }
            }
            Err(e) => shared.error(format!("send: {e}")),
        }
        // Take in (and acknowledge) the receipts that arrived meanwhile.
        client.next_message(Duration::ZERO).await?;
    }
    Ok(latencies)
}

async fn recipient(
    mut client: Client,
    shared: Arc<Shared>,
    mut done: watch::Receiver<bool>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::new()?;
    while !*done.borrow_and_update() {
        let Some(received) = client.next_message(Duration::from_millis(50)).await? else {
            continue;
        };
        let now = shared.micros();
        let content = received.content.map_err(|e| anyhow::anyhow!("decrypt: {e}"))?;
        let sent: u64 = std::str::from_utf8(&content)?.trim_end().parse()?;
        if stamp(received.message_id.as_str()) != Some(sent) {
            shared.error("a decrypted message does not match its id".into());
        }
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        if shared.recording.load(Ordering::Relaxed) {
            let _ = latencies.delivery.record(now.saturating_sub(sent).max(1));
        }
        client.ack(&[received.delivery_id]).await?;
    }
    Ok(latencies)
}

/// `pairs` with the real ratchet.
pub async fn pairs(setup: &Setup, n: usize, timing: Timing) -> anyhow::Result<Report> {
    let mut cluster = Cluster::start(setup).await?;
    let accounts = cluster.accounts(2 * n).await?;
    let shared = Shared::new(0);
    let (done_tx, done) = watch::channel(false);
    let mut senders = Vec::new();
    let mut recipients = Vec::new();
    let mut accounts = accounts.into_iter();
    for i in 0..n {
        let (Some(a), Some(b)) = (accounts.next(), accounts.next()) else {
            break;
        };
        let to = b.address.as_ref().context("enrolled")?.user_id.clone();
        let sending = Client::connect(a).await?;
        let receiving = Client::connect(b).await?;
        senders.push(tokio::spawn(sender(sending, i, to, shared.clone())));
        recipients.push(tokio::spawn(recipient(receiving, shared.clone(), done.clone())));
    }
    let mut m = measure_window(&cluster, &shared, timing).await?;
    let mut errors = 0;
    for task in senders {
        match task.await? {
            Ok(l) => m.latencies.merge(&l)?,
            Err(e) => {
                errors += 1;
                shared.error(format!("sender: {e:#}"));
            }
        }
    }
    let drained = wait_until(Duration::from_secs(60), || {
        shared.delivered.load(Ordering::Relaxed) >= shared.expected.load(Ordering::Relaxed)
    })
    .await;
    let _ = done_tx.send(true);
    for task in recipients {
        match task.await? {
            Ok(l) => m.latencies.merge(&l)?,
            Err(e) => {
                errors += 1;
                shared.error(format!("recipient: {e:#}"));
            }
        }
    }
    if !drained {
        shared.error("not everything accepted was delivered within 60 s".into());
    }
    m.errors = shared.errors.load(Ordering::Relaxed).max(errors);
    m.first_error = shared.first_error.lock().ok().and_then(|f| f.clone());
    let timing = Timing { window: 1, ..timing };
    let load = load_text(
        &timing,
        &format!("{n} pairs, real X3DH + Double Ratchet end to end"),
    );
    let mut r = report("pairs --real-crypto", setup, &cluster, 2 * n, load, m);
    r.scenario = "pairs --real-crypto".into();
    cluster.stop().await?;
    Ok(r)
}
