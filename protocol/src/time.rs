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

/// A length of time as a person says it: "1 day", "8 hours", "90 seconds".
#[must_use]
pub fn duration_words(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s >= 86_400 && s.is_multiple_of(86_400) => (s / 86_400, "day"),
        s if s >= 3_600 && s.is_multiple_of(3_600) => (s / 3_600, "hour"),
        s if s >= 60 && s.is_multiple_of(60) => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
