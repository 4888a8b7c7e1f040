//! Message keys skipped over by out-of-order delivery, bounded by
//! [`super::MAX_SKIPPED_KEYS`] with the oldest evicted first.

use std::collections::VecDeque;

use super::message_key::MessageKey;
use super::ratchet_key::RemoteRatchetKey;
use super::MAX_SKIPPED_KEYS;

#[derive(Clone, Default)]
pub(crate) struct SkippedKeys {
    keys: VecDeque<(RemoteRatchetKey, MessageKey)>,
}

impl SkippedKeys {
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(RemoteRatchetKey, MessageKey)> {
        self.keys.iter()
    }

    /// Position of the key for message `index` of the chain of `ratchet_key`.
    pub(crate) fn find(&self, ratchet_key: &RemoteRatchetKey, index: u32) -> Option<usize> {
        self.keys
            .iter()
            .position(|(k, mk)| k == ratchet_key && mk.index() == index)
    }

    pub(crate) fn get(&self, position: usize) -> Option<&MessageKey> {
        self.keys.get(position).map(|(_, mk)| mk)
    }

    /// Deletes a key once it has been used.
    pub(crate) fn remove(&mut self, position: usize) {
        drop(self.keys.remove(position));
    }

    /// Stores keys of one chain, evicting the oldest beyond the cap.
    pub(crate) fn extend(&mut self, ratchet_key: RemoteRatchetKey, keys: Vec<MessageKey>) {
        for mk in keys {
            self.keys.push_back((ratchet_key, mk));
        }
        while self.keys.len() > MAX_SKIPPED_KEYS {
            drop(self.keys.pop_front());
        }
    }
}
