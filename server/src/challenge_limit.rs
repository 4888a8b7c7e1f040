//! Login challenges issued per source address (`GET /v1/auth/challenge`
//! writes a row each): at most `limits.challenges_per_source` in any window
//! of the challenges' own lifetime, so a source never has more than that
//! many outstanding; past it `rate_limited` until its window ends.
//!
//! IPv6 sources are counted per /64 network, as failed attempts are. At
//! most [`MAX_SOURCES`] sources are tracked at once; past that, new sources
//! share one count, so memory is bounded whatever an attacker's address space.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use curbside_protocol::error::ErrorCode;

use crate::error::ApiError;

/// Most sources tracked at once.
const MAX_SOURCES: usize = 65_536;

/// The challenges each source was issued in its current window.
#[derive(Debug)]
pub(crate) struct ChallengeLimit {
    per_source: u32,
    window_ms: i64,
    /// `None`: the sources past [`MAX_SOURCES`]. Value: window start, count.
    sources: Mutex<HashMap<Option<IpAddr>, (i64, u32)>>,
}

impl ChallengeLimit {
    /// `per_source` challenges per `window_ms` (0: no limit).
    pub(crate) fn new(per_source: u32, window_ms: i64) -> Self {
        Self {
            per_source,
            window_ms,
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one challenge for `source`, or refuses it with `rate_limited`.
    pub(crate) fn take(&self, source: Option<IpAddr>, now_ms: i64) -> Result<(), ApiError> {
        if self.per_source == 0 {
            return Ok(());
        }
        let mut sources = self
            .sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if sources.len() >= MAX_SOURCES {
            sources.retain(|_, (start, _)| now_ms.saturating_sub(*start) < self.window_ms);
        }
        // A source that cannot be told apart (no address, or the map is full
        // of live windows) is let through uncounted: sharing one count would
        // let whoever fills the map lock every new source out.
        let Some(key) = source
            .map(network)
            .filter(|k| sources.contains_key(&Some(*k)) || sources.len() < MAX_SOURCES)
        else {
            return Ok(());
        };
        let entry = sources.entry(Some(key)).or_insert((now_ms, 0));
        if now_ms.saturating_sub(entry.0) >= self.window_ms {
            *entry = (now_ms, 0);
        }
        if entry.1 >= self.per_source {
            let wait = (entry.0.saturating_add(self.window_ms).saturating_sub(now_ms) + 999) / 1000;
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!("too many login challenges from this address; retry in {wait} s"),
            ));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The key `source` is counted under: its address, an IPv6 one's /64.
fn network(source: IpAddr) -> IpAddr {
    match source {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_count_per_window_and_then_again() {
        let limit = ChallengeLimit::new(2, 1000);
        let a = Some("192.0.2.1".parse().unwrap());
        let b = Some("192.0.2.2".parse().unwrap());
        limit.take(a, 0).unwrap();
        limit.take(a, 10).unwrap();
        assert_eq!(limit.take(a, 20).unwrap_err().code, ErrorCode::RateLimited);
        limit.take(b, 20).unwrap();
        limit.take(a, 1000).unwrap();
    }

    #[test]
    fn a_full_map_locks_no_new_source_out() {
        let limit = ChallengeLimit::new(1, 60_000);
        for i in 0..MAX_SOURCES {
            let ip = IpAddr::V4(u32::try_from(i).unwrap().into());
            limit.take(Some(ip), 0).unwrap();
        }
        let newcomer = Some("203.0.113.7".parse().unwrap());
        for t in 1..5 {
            limit.take(newcomer, t).unwrap();
        }
    }
}
