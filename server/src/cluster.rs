//! Several nodes on one PostgreSQL database. Each node relays the events of
//! its [`Hub`] (a device has new deliveries, receipts, a pushed frame, a
//! revocation) to the others with `pg_notify` on the channel
//! `curbside_events`, and listens on it to wake its own connections. No
//! polling and no extra infrastructure: the database stays the source of
//! truth (a wake only tells a connection to read its queue), so a lost
//! notification delays a push until the device's next event or reconnect,
//! and never loses a message.

use curbside_protocol::frames::ServerFrame;
use curbside_protocol::ids::{Address, DeviceId, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::hub::{Hub, HubEvent};
use crate::store::Store;

/// The PostgreSQL notification channel.
pub(crate) const CHANNEL: &str = "curbside_events";

#[derive(Serialize, Deserialize)]
struct Notice {
    node: String,
    user: UserId,
    device: DeviceId,
    event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frame: Option<Box<ServerFrame>>,
}

fn encode(node: &str, address: &Address, event: HubEvent) -> Option<String> {
    let (name, frame) = match event {
        HubEvent::Wake => ("wake", None),
        HubEvent::Receipts => ("receipts", None),
        HubEvent::Revoked => ("revoked", None),
        HubEvent::Frame(f) => ("frame", Some(f)),
        HubEvent::Replaced => return None,
    };
    serde_json::to_string(&Notice {
        node: node.to_owned(),
        user: address.user_id.clone(),
        device: address.device_id,
        event: name.to_owned(),
        frame,
    })
    .ok()
}

fn decode(node: &str, payload: &str) -> Option<(Address, HubEvent)> {
    let n: Notice = serde_json::from_str(payload).ok()?;
    if n.node == node {
        return None;
    }
    let event = match (n.event.as_str(), n.frame) {
        ("wake", _) => HubEvent::Wake,
        ("receipts", _) => HubEvent::Receipts,
        ("revoked", _) => HubEvent::Revoked,
        ("frame", Some(f)) => HubEvent::Frame(f),
        _ => return None,
    };
    Some((
        Address {
            user_id: n.user,
            device_id: n.device,
        },
        event,
    ))
}

/// Starts relaying `hub`'s events through PostgreSQL; returns the two tasks.
pub(crate) fn start(hub: &Hub, store: Store, url: String, node: String) -> Vec<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = mpsc::channel::<(Address, HubEvent)>(crate::hub::RELAY_CAPACITY);
    hub.set_relay(tx);
    let notifier = {
        let node = node.clone();
        tokio::spawn(async move {
            while let Some((address, event)) = rx.recv().await {
                if let Some(payload) = encode(&node, &address, event) {
                    if let Err(e) = store.notify_nodes(CHANNEL, &payload).await {
                        tracing::warn!(error = %e, "could not notify the other nodes");
                    }
                }
            }
        })
    };
    let listener = {
        let hub = hub.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::warn!(error = %e, "could not listen for other nodes");
                        } else {
                            tracing::info!(node = %node, "listening for the other nodes");
                            // `recv` reconnects by itself after a lost connection.
                            while let Ok(n) = listener.recv().await {
                                if let Some((address, event)) = decode(&node, n.payload()) {
                                    hub.notify_local(&address, event);
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not connect the node listener"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    };
    vec![notifier, listener]
}
