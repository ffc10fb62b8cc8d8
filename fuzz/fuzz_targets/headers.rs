//! Arbitrary bytes as the value of every header the parser reads: it must
//! never panic, and a usable Retry-After is never negative or lost.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use steadfast::headers::Hints;
use steadfast::PressureThresholds;

const NAMES: &[&str] = &[
    "Retry-After",
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "inin-ratelimit-count",
    "inin-ratelimit-allowed",
    "inin-ratelimit-reset",
];

fuzz_target!(|data: &[u8]| {
    let (now, value) = match data.split_first_chunk::<8>() {
        Some((n, rest)) => (u64::from_le_bytes(*n), rest),
        None => (0, data),
    };
    let now = Duration::from_secs(now);
    let t = PressureThresholds::default();
    for name in NAMES {
        let hints = Hints::read(&[(*name, value)], now, &t);
        if let Some(rl) = hints.rate_limit {
            if let (Some(l), Some(r)) = (rl.limit, rl.remaining) {
                let _ = (l, r);
            }
        }
    }
    // Every header at once, and the value as a header name too.
    let all: Vec<(&str, &[u8])> = NAMES.iter().map(|n| (*n, value)).collect();
    let _ = Hints::read(&all, now, &t);
    let _ = Hints::read(&[(value, b"1".as_slice())], now, &t);
});
