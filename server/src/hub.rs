//! Connected devices, so that a commit can wake the connection of each
//! recipient device at once. The queue in the database stays the source of
//! truth: a wake only tells a connection to read it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use curbside_protocol::frames::ServerFrame;
use curbside_protocol::ids::Address;
use tokio::sync::{mpsc, Notify};

/// What a connection is told.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// New deliveries may be queued for the device.
    Wake,
    /// New delivery receipts may be waiting for the device.
    Receipts,
    /// A frame to forward as is (prekey warnings, referral updates; receipts
    /// are read from the store on [`HubEvent::Receipts`]).
    Frame(Box<ServerFrame>),
    /// The device was revoked: close the connection.
    Revoked,
    /// Another connection of the same device authenticated: close this one.
    Replaced,
}

/// Capacity of each connection's channel of frames and closing events. When
/// it is full, forwarded frames (prekey warnings, referral updates) are
/// dropped; wakes and receipts never are (see [`Subscription`]).
pub const EVENT_CAPACITY: usize = 64;

/// Wakes and receipt notices coalesce into two flags: any number of them
/// before the connection looks is one read of its queue, and none is lost
/// however busy the connection is.
#[derive(Debug, Default)]
struct Signals {
    wake: AtomicBool,
    receipts: AtomicBool,
    notify: Notify,
}

/// What a registered connection reads its events from.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<HubEvent>,
    signals: Arc<Signals>,
}

impl Subscription {
    /// The next event; `None` once the hub dropped this connection.
    pub async fn recv(&mut self) -> Option<HubEvent> {
        loop {
            if let Ok(event) = self.rx.try_recv() {
                return Some(event);
            }
            if self.signals.receipts.swap(false, Ordering::AcqRel) {
                return Some(HubEvent::Receipts);
            }
            if self.signals.wake.swap(false, Ordering::AcqRel) {
                return Some(HubEvent::Wake);
            }
            tokio::select! {
                event = self.rx.recv() => return event,
                // `notify_one` stores a permit when nobody waits: no lost wake-up.
                () = self.signals.notify.notified() => {}
            }
        }
    }
}

#[derive(Debug)]
struct Registered {
    id: u64,
    tx: mpsc::Sender<HubEvent>,
    signals: Arc<Signals>,
}

impl Registered {
    fn deliver(&self, event: HubEvent) {
        let flag = match event {
            HubEvent::Wake => &self.signals.wake,
            HubEvent::Receipts => &self.signals.receipts,
            other => {
                let _ = self.tx.try_send(other);
                return;
            }
        };
        flag.store(true, Ordering::Release);
        self.signals.notify.notify_one();
    }
}

type Registry = HashMap<Address, Registered>;

/// The registry of connected devices.
#[derive(Clone, Default, Debug)]
pub struct Hub {
    inner: Arc<Mutex<Registry>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
    relay: Arc<std::sync::OnceLock<mpsc::Sender<(Address, HubEvent)>>>,
    /// True while relayed events are being dropped (logged once per episode).
    relay_full: Arc<AtomicBool>,
}

/// Events waiting to be relayed to the other nodes, at most. Past it (the
/// database does not take notifications fast enough, or is down) events
/// are dropped: a lost notification delays a push until the device's next
/// event or reconnect, it never loses a message (the queue is in the
/// database).
pub const RELAY_CAPACITY: usize = 4096;

impl Hub {
    /// Registers a connection for `device`, replacing (and closing) an older one.
    pub fn register(&self, device: &Address) -> (u64, Subscription) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(EVENT_CAPACITY);
        let signals = Arc::new(Signals::default());
        let registered = Registered {
            id,
            tx,
            signals: signals.clone(),
        };
        let old = self.lock().insert(device.clone(), registered);
        if let Some(old) = old {
            let _ = old.tx.try_send(HubEvent::Replaced);
        }
        (id, Subscription { rx, signals })
    }

    /// Removes a connection (only if it is still the registered one).
    pub fn unregister(&self, device: &Address, id: u64) {
        let mut map = self.lock();
        if map.get(device).is_some_and(|r| r.id == id) {
            map.remove(device);
        }
    }

    /// Sends an event to a device's connection: here if it is connected
    /// here, otherwise (with several nodes on PostgreSQL) to the other nodes.
    pub fn notify(&self, device: &Address, event: HubEvent) {
        if let Some(registered) = self.lock().get(device) {
            registered.deliver(event);
            return;
        }
        if let Some(relay) = self.relay.get() {
            if !matches!(event, HubEvent::Replaced) {
                match relay.try_send((device.clone(), event)) {
                    Ok(()) => {
                        if self.relay_full.swap(false, Ordering::Relaxed) {
                            tracing::info!("relaying events to the other nodes again");
                        }
                    }
                    Err(_) => {
                        if !self.relay_full.swap(true, Ordering::Relaxed) {
                            tracing::warn!(capacity = RELAY_CAPACITY, "the relay to the other nodes is full: events are dropped (pushes wait for the device's next event or reconnect; nothing is lost)");
                        }
                    }
                }
            }
        }
    }

    /// Sends an event to a device's connection on this node only.
    pub fn notify_local(&self, device: &Address, event: HubEvent) {
        if let Some(registered) = self.lock().get(device) {
            registered.deliver(event);
        }
    }

    /// Sends a frame to every device connected to this node (best effort,
    /// like every forwarded frame).
    pub fn broadcast_local(&self, frame: &ServerFrame) {
        for registered in self.lock().values() {
            registered.deliver(HubEvent::Frame(Box::new(frame.clone())));
        }
    }

    /// Also forwards every event to `relay` (for other nodes). Set once.
    pub fn set_relay(&self, relay: mpsc::Sender<(Address, HubEvent)>) {
        let _ = self.relay.set(relay);
    }

    /// Number of connected devices.
    #[must_use]
    pub fn connected(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every operation is a single insert/remove/get), so recover from poisoning.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
