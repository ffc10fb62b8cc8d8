//! What the engine's end-to-end tests share beyond the loopback crate's
//! scenario list: a policy with every shared limit on, and the check that
//! nothing is held.
#![allow(dead_code)]

pub use steadfast_loopback as fake_api;
pub use steadfast_loopback::scenarios::*;

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

/// A `redis-server` of the test's own on a free 127.0.0.1 port, without
/// persistence, stopped when dropped.
pub struct RedisServer {
    child: std::process::Child,
    port: u16,
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
}

impl RedisServer {
    /// Starts one and waits (up to 5 s) until it answers; `None`, with a
    /// line on stderr, when `redis-server` is not installed (`.ci/run`
    /// installs it).
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let Ok(child) = Self::spawn(port) else {
            eprintln!(
                "redis-server is not installed: this test needs it (apt-get install redis-server)"
            );
            return None;
        };
        let server = Self {
            child,
            port,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        server.wait_ready();
        Some(server)
    }

    fn spawn(port: u16) -> std::io::Result<std::process::Child> {
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
    }

    fn wait_ready(&self) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < until,
                "redis-server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port after [`kill`](Self::kill), empty.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(self.port).expect("redis-server ran before");
        self.wait_ready();
    }

    /// Stops it now (a crash, as far as its clients can tell).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
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
