//! The per-connection rate limit: a token bucket.

use std::time::Instant;

/// A token bucket: `rate` frames per second on average, `burst` at once.
pub(super) struct RateLimit {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimit {
    /// A full bucket.
    pub(super) fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// Takes one token, or returns how many milliseconds until one is available.
    pub(super) fn take(&mut self) -> Result<(), u64> {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            // Bounded: at most 1000 / rate ms.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let wait = ((1.0 - self.tokens) / self.rate * 1000.0).ceil() as u64;
            Err(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn a_burst_then_a_bounded_wait() {
        let mut rate = RateLimit::new(2, 3);
        for _ in 0..3 {
            assert_eq!(rate.take(), Ok(()));
        }
        let wait = rate.take().unwrap_err();
        assert!((1..=500).contains(&wait), "{wait}");
    }
}
