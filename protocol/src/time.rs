//! Time as the protocol counts it: milliseconds since the Unix epoch (every
//! `*_at` field of a frame or a body, expiries, audit entries).

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it,
/// `i64::MAX` past the year 292 million).
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
