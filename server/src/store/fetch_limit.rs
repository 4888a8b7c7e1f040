//! The limit on bundle fetches, so that no one can drain another device's
//! one-time prekeys (each fetch claims one per device of the target).
//!
//! In each window (`limits.bundle_fetch_window_secs`, from the first fetch
//! counted) one requesting device may fetch one target user's bundles
//! `limits.bundle_fetches_per_requester` times, and everyone together may
//! fetch one target's `limits.bundle_fetches_per_target` times (0: no
//! limit). A fetch past either is refused with `rate_limited` and the time
//! until its window ends, claims nothing, and is not counted (a refused
//! requester does not use up the target's allowance for others). The first
//! refusal of a requester for a target in a window is recorded in the audit
//! log (one entry, not one per attempt). A user's fetches of their own
//! devices are not limited.
//!
//! Counts are kept in memory on each node: behind several nodes a client
//! that spreads its fetches over them gets up to the limit on each. At most
//! [`MAX_KEYS`] requester/target pairs and targets are tracked at once
//! (windows that ended are dropped first); past that, the others share one
//! count, so memory is bounded whatever the number of users.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use curbside_protocol::ids::{Address, UserId};

/// Most requester/target pairs, and most targets, tracked at once.
pub(crate) const MAX_KEYS: usize = 65_536;

/// The limits (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BundleFetchLimit {
    /// Fetches of one target user by one requesting device per window.
    pub per_requester: u32,
    /// Fetches of one target user by everyone per window.
    pub per_target: u32,
    /// The window.
    pub window: Duration,
}

impl BundleFetchLimit {
    /// No limit (a bare store's default).
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            per_requester: 0,
            per_target: 0,
            window: Duration::from_secs(3600),
        }
    }
}

/// A fetch refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FetchRefused {
    /// Milliseconds until the window that refused it ends.
    pub(crate) retry_after_ms: u64,
    /// Whether to record it (the first refusal of this requester for this
    /// target in the window).
    pub(crate) record: bool,
}

#[derive(Debug)]
struct Window {
    started_ms: i64,
    count: u32,
    /// A refusal of this pair was recorded in this window.
    recorded: bool,
}

impl Window {
    fn new(now_ms: i64) -> Self {
        Self {
            started_ms: now_ms,
            count: 0,
            recorded: false,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// `None`: the pairs past [`MAX_KEYS`].
    pairs: HashMap<Option<(Address, UserId)>, Window>,
    /// `None`: the targets past [`MAX_KEYS`].
    targets: HashMap<Option<UserId>, Window>,
}

/// The fetches of every requester and target in their current windows.
#[derive(Debug)]
pub(crate) struct BundleFetches {
    limit: BundleFetchLimit,
    window_ms: i64,
    counts: Mutex<Counts>,
}

impl BundleFetches {
    pub(crate) fn new(limit: BundleFetchLimit) -> Self {
        Self {
            limit,
            window_ms: i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX).max(1),
            counts: Mutex::new(Counts::default()),
        }
    }

    /// Counts a fetch of `target`'s bundles by `requester`, or refuses it.
    pub(crate) fn admit(
        &self,
        requester: &Address,
        target: &UserId,
        now_ms: i64,
    ) -> Result<(), FetchRefused> {
        let limit = self.limit;
        if requester.user_id == *target || (limit.per_requester == 0 && limit.per_target == 0) {
            return Ok(());
        }
        let window_ms = self.window_ms;
        let mut counts = self.lock();
        let Counts { pairs, targets } = &mut *counts;
        let pair_key = key(pairs, (requester.clone(), target.clone()), now_ms, window_ms);
        let target_key = key(targets, target.clone(), now_ms, window_ms);
        let pair = current(
            pairs.entry(pair_key).or_insert_with(|| Window::new(now_ms)),
            now_ms,
            window_ms,
        );
        let total = current(
            targets.entry(target_key).or_insert_with(|| Window::new(now_ms)),
            now_ms,
            window_ms,
        );
        let over_pair = limit.per_requester > 0 && pair.count >= limit.per_requester;
        let over_target = limit.per_target > 0 && total.count >= limit.per_target;
        if !over_pair && !over_target {
            pair.count = pair.count.saturating_add(1);
            total.count = total.count.saturating_add(1);
            return Ok(());
        }
        let pair_ends = pair.started_ms.saturating_add(window_ms);
        let target_ends = total.started_ms.saturating_add(window_ms);
        let ends = match (over_pair, over_target) {
            (true, true) => pair_ends.max(target_ends),
            (true, false) => pair_ends,
            _ => target_ends,
        };
        let record = !pair.recorded;
        pair.recorded = true;
        Err(FetchRefused {
            retry_after_ms: u64::try_from(ends.saturating_sub(now_ms)).unwrap_or(0).max(1),
            record,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // A panic while holding the lock leaves counts, not invariants.
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A window, restarted if it ended.
fn current(window: &mut Window, now_ms: i64, window_ms: i64) -> &mut Window {
    if now_ms >= window.started_ms.saturating_add(window_ms) {
        *window = Window::new(now_ms);
    }
    window
}

/// The key `k` is counted under: its own while there is room (after
/// dropping the windows that ended), else the shared overflow key.
fn key<K: std::hash::Hash + Eq>(
    map: &mut HashMap<Option<K>, Window>,
    k: K,
    now_ms: i64,
    window_ms: i64,
) -> Option<K> {
    let k = Some(k);
    if map.contains_key(&k) || map.len() < MAX_KEYS {
        return k;
    }
    map.retain(|key, w| key.is_none() || now_ms < w.started_ms.saturating_add(window_ms));
    if map.len() < MAX_KEYS {
        k
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curbside_protocol::ids::DeviceId;

    fn at(user: &str, device: u32) -> Address {
        Address {
            user_id: UserId::new(user).unwrap(),
            device_id: DeviceId(device),
        }
    }

    fn user(name: &str) -> UserId {
        UserId::new(name).unwrap()
    }

    fn limiter(per_requester: u32, per_target: u32) -> BundleFetches {
        BundleFetches::new(BundleFetchLimit {
            per_requester,
            per_target,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn per_requester_then_per_target_recorded_once_and_a_new_window() {
        let f = limiter(2, 3);
        let (mallory, carol, bob) = (at("mallory", 1), at("carol", 1), user("bob"));
        assert!(f.admit(&mallory, &bob, 0).is_ok());
        assert!(f.admit(&mallory, &bob, 1).is_ok());
        let refused = f.admit(&mallory, &bob, 10).unwrap_err();
        assert!(refused.record, "the first refusal is recorded");
        assert_eq!(refused.retry_after_ms, 59_990);
        assert!(
            !f.admit(&mallory, &bob, 11).unwrap_err().record,
            "…once per window"
        );
        // Mallory's refusals did not use up Bob's allowance: Carol gets the
        // last fetch of it, then the target's total refuses her.
        assert!(f.admit(&carol, &bob, 12).is_ok());
        let refused = f.admit(&carol, &bob, 13).unwrap_err();
        assert!(refused.record);
        // Another target is not affected, nor one's own devices.
        assert!(f.admit(&mallory, &user("dan"), 14).is_ok());
        for t in 0..10 {
            assert!(f.admit(&at("bob", 2), &bob, 15 + t).is_ok());
        }
        // A new window.
        assert!(f.admit(&mallory, &bob, 60_001).is_ok());
        assert!(f.admit(&mallory, &bob, 60_002).is_ok());
        assert!(f.admit(&mallory, &bob, 60_003).unwrap_err().record);
    }

    #[test]
    fn zero_is_unlimited_and_keys_are_bounded() {
        let free = limiter(0, 0);
        for t in 0..1000 {
            assert!(free.admit(&at("mallory", 1), &user("bob"), t).is_ok());
        }
        assert!(free.lock().pairs.is_empty(), "nothing tracked without a limit");
        let f = limiter(1, 0);
        {
            let mut counts = f.lock();
            for i in 0..MAX_KEYS {
                counts.pairs.insert(
                    Some((at("mallory", u32::try_from(i).unwrap()), user("bob"))),
                    Window::new(0),
                );
            }
        }
        // Full of live windows: a new pair shares the overflow count.
        assert!(f.admit(&at("eve", 1), &user("bob"), 1).is_ok());
        assert!(f.admit(&at("eve", 2), &user("bob"), 2).is_err(), "shared count");
        assert_eq!(f.lock().pairs.len(), MAX_KEYS + 1);
        // Once those windows ended they are dropped for new pairs.
        assert!(f.admit(&at("eve", 3), &user("bob"), 60_000).is_ok());
        assert!(f.lock().pairs.len() <= 3);
    }
}
