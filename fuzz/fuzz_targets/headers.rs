//! Arbitrary bytes as the value of every header the parser reads, seen by a
//! call as a 429 and as a 503: it must never panic, and the wait it asks
//! for stays within what the policy allows.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use steadfast::{Action, Call, Clock, Method, Outcome, Policy, Request};

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

/// One call observing `headers` on `status`: whatever it decides, a sleep
/// is never longer than the policy's longest.
fn observe(policy: &Policy, status: u16, headers: &[(&str, &[u8])], now: Clock) {
    let mut call = Call::new(policy, Request::new(Method::Get), now, 0);
    assert!(matches!(call.poll(now, None), Action::Send { attempt: 1 }));
    call.observe(Outcome::response(status, &headers), now, None)
        .expect("a response is what a send waits for");
    if let Action::Sleep(d) = call.poll(now, None) {
        assert!(d <= policy.max_sleep(), "slept {d:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let (unix, value) = match data.split_first_chunk::<8>() {
        Some((n, rest)) => (u64::from_le_bytes(*n), rest),
        None => (0, data),
    };
    let now = Clock::new(Duration::from_secs(1_000), Duration::from_secs(unix));
    let policy = Policy::seed_guide();
    for status in [429, 503] {
        for name in NAMES {
            observe(&policy, status, &[(*name, value)], now);
        }
        // Every header at once, and the value as a header name too.
        let all: Vec<(&str, &[u8])> = NAMES.iter().map(|n| (*n, value)).collect();
        observe(&policy, status, &all, now);
        let name = String::from_utf8_lossy(value);
        observe(&policy, status, &[(name.as_ref(), b"1".as_slice())], now);
    }
});
