//! Connected devices, so that a commit can wake the connection of each
//! recipient device at once. The queue in the database stays the source of
//! truth: a wake only tells a connection to read it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use curbside_protocol::frames::ServerFrame;
use curbside_protocol::ids::Address;
use tokio::sync::mpsc;

/// What a connection is told.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// New deliveries may be queued for the device.
    Wake,
    /// New delivery receipts may be waiting for the device.
    Receipts,
    /// A frame to forward as is (receipts, prekey warnings).
    Frame(Box<ServerFrame>),
    /// The device was revoked: close the connection.
    Revoked,
    /// Another connection of the same device authenticated: close this one.
    Replaced,
}

/// Capacity of each connection's event channel. When it is full, wakes are
/// dropped (one pending wake is enough) and so are forwarded frames.
pub const EVENT_CAPACITY: usize = 64;

type Registry = HashMap<Address, (u64, mpsc::Sender<HubEvent>)>;

/// The registry of connected devices.
#[derive(Clone, Default, Debug)]
pub struct Hub {
    inner: Arc<Mutex<Registry>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
    relay: Arc<std::sync::OnceLock<mpsc::UnboundedSender<(Address, HubEvent)>>>,
}

impl Hub {
    /// Registers a connection for `device`, replacing (and closing) an older one.
    pub fn register(&self, device: &Address) -> (u64, mpsc::Receiver<HubEvent>) {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(EVENT_CAPACITY);
        let old = self.lock().insert(device.clone(), (id, tx));
        if let Some((_, old)) = old {
            let _ = old.try_send(HubEvent::Replaced);
        }
        (id, rx)
    }

    /// Removes a connection (only if it is still the registered one).
    pub fn unregister(&self, device: &Address, id: u64) {
        let mut map = self.lock();
        if map.get(device).is_some_and(|(current, _)| *current == id) {
            map.remove(device);
        }
    }

    /// Sends an event to a device's connection: here if it is connected
    /// here, otherwise (with several nodes on PostgreSQL) to the other nodes.
    pub fn notify(&self, device: &Address, event: HubEvent) {
        if let Some((_, tx)) = self.lock().get(device) {
            let _ = tx.try_send(event);
            return;
        }
        if let Some(relay) = self.relay.get() {
            if !matches!(event, HubEvent::Replaced) {
                let _ = relay.send((device.clone(), event));
            }
        }
    }

    /// Sends an event to a device's connection on this node only.
    pub fn notify_local(&self, device: &Address, event: HubEvent) {
        if let Some((_, tx)) = self.lock().get(device) {
            let _ = tx.try_send(event);
        }
    }

    /// Also forwards every event to `relay` (for other nodes). Set once.
    pub fn set_relay(&self, relay: mpsc::UnboundedSender<(Address, HubEvent)>) {
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
