//! What the engine's end-to-end tests share beyond the loopback crate's
//! scenario list: a policy with every shared limit on, and the check that
//! nothing is held.
#![allow(dead_code)]

#[allow(unused_imports)] // Only the fleet tests start one.
pub use redis_server::{RedisCluster, RedisServer};
#[allow(unused_imports)] // Not every test talks to the loopback API.
pub use steadfast_loopback as fake_api;
pub use steadfast_loopback::scenarios::*;

mod redis_server;

use std::sync::Arc;

use steadfast::{Policy, PolicySpec};
use steadfast_loopback::{FakeApi, Fault};

/// The loopback API allowing 40 creates per 200 ms, with 40 % of requests
/// failing at random (seeded): 503, 500, a short 429, and `extra`.
pub fn flaky_api(seed: u64, extra: &[Fault]) -> Arc<FakeApi> {
    let api = Arc::new(FakeApi::start());
    api.rate_limit(40, ms(200));
    let mut faults = vec![
        Fault::status(503),
        Fault::status(500),
        Fault::with(429, &[("Retry-After", "0")]),
    ];
    faults.extend_from_slice(extra);
    api.random_faults(seed, 0.4, faults);
    api
}

/// The e2e policy with every shared limit on: pacing (trusting a window for
/// up to a second), a small AWS-style quota, and a breaker that opens after
/// four failures, breaks for 100 ms and sends one probe.
pub fn guarded_policy() -> Policy {
    use steadfast::limits::{BreakerSpec, BudgetSpec};
    let spec = policy().spec().clone();
    Policy::new(PolicySpec {
        retry_after_cap: ms(1000),
        limits: steadfast::LimitsSpec {
            reset_jitter: ms(10),
            budget: Some(BudgetSpec::Quota {
                capacity: 100,
                retry_cost: 5,
                timeout_cost: 10,
                success_credit: 1,
            }),
            breaker: Some(BreakerSpec {
                failure_ratio: 0.5,
                window: ms(10_000),
                min_outcomes: 4,
                break_for: ms(100),
                probes: 1,
            }),
            ..Default::default()
        },
        ..spec
    })
    .expect("valid guarded policy")
}

/// Nothing is held: no send in flight, no probe slot taken, the budget
/// within its capacity.
pub fn assert_nothing_held(limits: &std::sync::Mutex<steadfast::Limits>) {
    use steadfast::limits::{BreakerState, BudgetState};
    let snapshot = limits.lock().unwrap().snapshot(steadfast::driver::now());
    assert_eq!(snapshot.in_flight, 0, "{snapshot:?}");
    if let Some(BreakerState::HalfOpen { probes_left }) = snapshot.breaker {
        assert_eq!(probes_left, 1, "a probe slot is held: {snapshot:?}");
    }
    if let Some(BudgetState::Quota { tokens, capacity }) = snapshot.budget {
        assert!(tokens <= capacity, "{snapshot:?}");
    }
}

/// How a create through a seam that hands back responses (the middleware,
/// the tower layer) ended, from the final status and its `RetryInfo`.
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
pub fn got(status: u16, info: steadfast::driver::RetryInfo) -> Got {
    match info.gave_up {
        None if status == 201 => Got::Created,
        None => panic!("a success with {status}"),
        Some(reason) => Got::Failed(reason.to_string()),
    }
}

/// The e2e policy for fleet tests: pacing on, fast backoff, room for twenty
/// retries in a 30 s deadline, windows trusted for up to 4 s.
pub fn fleet_policy() -> Policy {
    let spec = policy().spec().clone();
    Policy::new(PolicySpec {
        max_retries: 20,
        retry_after_cap: std::time::Duration::from_secs(4),
        deadline: Some(std::time::Duration::from_secs(30)),
        limits: steadfast::LimitsSpec {
            reset_jitter: ms(20),
            ..spec.limits
        },
        ..spec
    })
    .expect("valid fleet policy")
}

/// What `f` logs (DEBUG and up) through a subscriber of this thread's own,
/// beside what `f` returns.
pub fn captured<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let log = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (out, log)
}
