//! Failed anonymous attempts (authentications, enrollments) per source
//! address: a limit, and an audit log that records attacks without being
//! an amplifier.
//!
//! In each window (`limits.failure_window_secs`, from a source's first
//! failure) the first `limits.failures_per_source` failures of a source are
//! recorded one entry each, as before. Past that the source is refused with
//! `rate_limited` until the window ends, without its signature even being
//! checked, and what it tries (refused or failed) is counted instead: when
//! the window ends, one entry records how many attempts there were and
//! when the first and last came (`attempts`, `first_at_ms`, `last_at_ms`).
//!
//! IPv6 sources are counted per /64 network (one host has many addresses).
//! At most [`MAX_SOURCES`] sources are tracked at once: past that, new
//! sources share one count (recorded with no source address), so memory is
//! bounded whatever an attacker's address space.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use curbside_protocol::audit::{Action, Details};
use curbside_protocol::error::ErrorCode;

use crate::audit::{Actor, Event};
use crate::error::ApiError;

/// Most sources tracked at once.
pub(crate) const MAX_SOURCES: usize = 65_536;

/// What to do with a failure just noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Record it in the audit log, one entry.
    Record,
    /// It is counted, for the window's one aggregated entry.
    Counted,
}

#[derive(Debug)]
struct Window {
    started_ms: i64,
    recorded: u32,
    counted: u64,
    first_ms: i64,
    last_ms: i64,
}

/// The failures of every source in its current window.
#[derive(Debug)]
pub(crate) struct Failures {
    per_source: u32,
    window_ms: i64,
    /// `None`: the sources past [`MAX_SOURCES`].
    sources: Mutex<HashMap<Option<IpAddr>, Window>>,
}

impl Failures {
    pub(crate) fn new(per_source: u32, window: Duration) -> Self {
        Self {
            per_source,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1),
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses `source` with `rate_limited` (and counts the attempt) while
    /// it is over its limit; otherwise it may try.
    pub(crate) fn check(&self, source: Option<IpAddr>, now_ms: i64) -> Result<(), ApiError> {
        // 0: no limit (behind a proxy every client shares its address).
        if self.per_source == 0 {
            return Ok(());
        }
        let Some(source) = source else { return Ok(()) };
        let mut sources = self.lock();
        let key = key(&sources, source);
        let Some(window) = sources.get_mut(&key) else {
            return Ok(());
        };
        let ends = window.started_ms.saturating_add(self.window_ms);
        if window.recorded < self.per_source || now_ms >= ends {
            return Ok(());
        }
        count(window, now_ms);
        let secs = (ends - now_ms).max(0) / 1000 + 1;
        Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many failed attempts from your address: retry in {secs} s"),
        ))
    }

    /// Notes a failure of `source`: record it, or count it.
    pub(crate) fn failed(&self, source: Option<IpAddr>, now_ms: i64) -> Verdict {
        let Some(source) = source.filter(|_| self.per_source > 0) else {
            return Verdict::Record;
        };
        let mut sources = self.lock();
        let key = key(&sources, source);
        let window_ms = self.window_ms;
        let window = sources.entry(key).or_insert_with(|| Window {
            started_ms: now_ms,
            recorded: 0,
            counted: 0,
            first_ms: now_ms,
            last_ms: now_ms,
        });
        if now_ms >= window.started_ms.saturating_add(window_ms) && window.counted == 0 {
            // A window that ended with nothing counted needs no entry.
            window.started_ms = now_ms;
            window.recorded = 0;
        }
        if window.recorded < self.per_source && key.is_some() {
            window.recorded += 1;
            Verdict::Record
        } else {
            count(window, now_ms);
            Verdict::Counted
        }
    }

    /// The aggregated entries of the windows that ended by `now_ms` (of
    /// every window, if `all`: at shutdown), which are forgotten.
    pub(crate) fn take_ended(&self, now_ms: i64, all: bool) -> Vec<Event> {
        let mut sources = self.lock();
        let mut events = Vec::new();
        sources.retain(|source, w| {
            if !all && now_ms < w.started_ms.saturating_add(self.window_ms) {
                return true;
            }
            if w.counted > 0 {
                events.push(
                    Event::new(&Actor::anonymous(*source), Action::AuthFailed)
                        .failed(ErrorCode::RateLimited)
                        .details(Details {
                            attempts: Some(w.counted),
                            first_at_ms: Some(w.first_ms),
                            last_at_ms: Some(w.last_ms),
                            ..Details::default()
                        }),
                );
            }
            false
        });
        events
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, Window>> {
        // A panic while holding the lock leaves counts, not invariants.
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn count(window: &mut Window, now_ms: i64) {
    if window.counted == 0 {
        window.first_ms = now_ms;
    }
    window.counted += 1;
    window.last_ms = now_ms;
}

/// The key `source` is counted under: its address (IPv6: its /64), or the
/// shared overflow key once [`MAX_SOURCES`] others are tracked.
fn key(sources: &HashMap<Option<IpAddr>, Window>, source: IpAddr) -> Option<IpAddr> {
    let source = match source {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(source, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    if sources.contains_key(&Some(source)) || sources.len() < MAX_SOURCES {
        Some(source)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn past_the_limit_a_source_is_refused_and_counted_then_recorded_once() {
        let f = Failures::new(3, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        for t in 0..3 {
            assert!(f.check(a, t).is_ok());
            assert_eq!(f.failed(a, t), Verdict::Record);
        }
        assert_eq!(f.check(a, 10).unwrap_err().code, ErrorCode::RateLimited);
        assert_eq!(f.failed(a, 11), Verdict::Counted);
        // Another source is not affected.
        assert!(f.check(ip("192.0.2.2"), 12).is_ok());
        assert!(f.take_ended(59_999, false).is_empty(), "the window has not ended");
        let ended = f.take_ended(60_000, false);
        assert_eq!(ended.len(), 1);
        assert!(f.check(a, 60_001).is_ok(), "a new window");
        assert_eq!(f.failed(a, 60_002), Verdict::Record);
    }

    #[test]
    fn zero_is_no_limit() {
        let f = Failures::new(0, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        for t in 0..100 {
            assert!(f.check(a, t).is_ok());
            assert_eq!(f.failed(a, t), Verdict::Record);
        }
        assert!(f.take_ended(0, true).is_empty());
    }

    #[test]
    fn ipv6_is_counted_per_64_and_sources_are_bounded() {
        let f = Failures::new(1, Duration::from_secs(60));
        assert_eq!(f.failed(ip("2001:db8::1"), 0), Verdict::Record);
        assert_eq!(f.failed(ip("2001:db8::2"), 1), Verdict::Counted, "same /64");
        assert_eq!(f.failed(ip("2001:db8:0:1::1"), 2), Verdict::Record, "another /64");
        let mut sources = f.lock();
        for i in 0..MAX_SOURCES {
            let n = u32::try_from(i).unwrap();
            sources.insert(
                Some(IpAddr::V4(n.into())),
                Window {
                    started_ms: 0,
                    recorded: 1,
                    counted: 0,
                    first_ms: 0,
                    last_ms: 0,
                },
            );
        }
        let before = sources.len();
        drop(sources);
        assert_eq!(
            f.failed(ip("203.0.113.9"), 3),
            Verdict::Counted,
            "overflow: counted together"
        );
        assert_eq!(f.failed(ip("203.0.113.10"), 4), Verdict::Counted);
        let sources = f.lock();
        assert!(
            !sources.contains_key(&ip("203.0.113.9")),
            "not tracked on its own"
        );
        assert_eq!(sources.len(), before + 1, "one shared count");
        drop(sources);
        assert_eq!(
            f.take_ended(0, true).len(),
            2,
            "the /64 and the overflow had counts"
        );
    }
}
