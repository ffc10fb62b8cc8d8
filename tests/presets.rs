//! The urllib3 and AWS standard presets against their sources. Each test
//! names the part of the source it checks:
//! - urllib3 2.x, `src/urllib3/util/retry.py`: the `Retry` class docstring,
//!   `Retry.DEFAULT`, `RETRY_AFTER_STATUS_CODES`, `DEFAULT_ALLOWED_METHODS`,
//!   `DEFAULT_BACKOFF_MAX`, `DEFAULT_RETRY_AFTER_MAX`, `get_backoff_time`,
//!   `is_retry`, `increment`;
//! - AWS: the AWS SDKs and Tools Reference Guide, "Retry behavior"
//!   (standard mode: attempts, backoff, retry quota), and the AWS SDK for
//!   Rust's error-code classifier (`aws-runtime`, `retries/classifiers.rs`:
//!   `THROTTLING_ERRORS`, `TRANSIENT_ERRORS`).
//!
//! The Genesys Cloud SDK preset's rows are in `tests/decision_table.rs`.

use std::time::Duration;

use steadfast::limits::BudgetState;
use steadfast::{
    replay, Action, Call, Jitter, Limits, Method, NetworkError, Outcome, Policy, Reason, Request,
    Schedule, Step,
};

/// Monotonic zero; wall clock 2027-01-15 08:00:00 UTC.
const START: steadfast::Clock =
    steadfast::Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
/// Every call's jitter seed.
const SEED: u64 = 0x5eed;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn after(policy: &Policy, request: Request, status: u16, headers: &[(&str, &str)]) -> Action {
    let mut call = Call::new(policy, request, START, SEED);
    call.observe(Outcome::response(status, &headers.to_vec()), START, None)
        .unwrap();
    call.poll(START, None)
}

/// Headers written as (name, value) text pairs.
type Headers = &'static [(&'static str, &'static str)];

const GET: Request = Request::new(Method::Get);
const POST: Request = Request::new(Method::Post);

/// urllib3 `is_retry`: with `status_forcelist` empty, a status is retried
/// only when it is in `RETRY_AFTER_STATUS_CODES` (413, 429, 503) and carries
/// `Retry-After`, and only for `DEFAULT_ALLOWED_METHODS`; `sleep_for_retry`
/// / `parse_retry_after`: the wait is the header's, capped at
/// `DEFAULT_RETRY_AFTER_MAX`.
#[test]
fn urllib3_status_retries_need_retry_after_and_an_allowed_method() {
    let p = Policy::urllib3();
    let ra = &[("Retry-After", "5")][..];
    let rows: &[(Request, u16, Headers, Action)] = &[
        (GET, 503, ra, Action::Sleep(secs(5))),
        (GET, 429, ra, Action::Sleep(secs(5))),
        (GET, 413, ra, Action::Sleep(secs(5))),
        (Request::new(Method::Put), 503, ra, Action::Sleep(secs(5))),
        (
            GET,
            503,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 503 }),
        ),
        (
            GET,
            429,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 429 }),
        ),
        (
            POST,
            503,
            ra,
            Action::GiveUp(Reason::NotRetryable { status: 503 }),
        ),
        (
            GET,
            500,
            ra,
            Action::GiveUp(Reason::NotRetryable { status: 500 }),
        ),
        (
            GET,
            502,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 502 }),
        ),
        (
            GET,
            504,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 504 }),
        ),
        (
            GET,
            401,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 401 }),
        ),
        (
            GET,
            200,
            &[],
            Action::Done(steadfast::Completion::Success(200)),
        ),
        // Retry-After as sent: a past date is now, six hours are six hours,
        // and a day is cut to urllib3's DEFAULT_RETRY_AFTER_MAX (6 h).
        (
            GET,
            503,
            &[("Retry-After", "Thu, 01 Jan 1970 00:00:00 GMT")],
            Action::Send { attempt: 2 },
        ),
        (
            GET,
            503,
            &[("Retry-After", "21600")],
            Action::Sleep(secs(21_600)),
        ),
        (
            GET,
            503,
            &[("Retry-After", "86400")],
            Action::Sleep(secs(21_600)),
        ),
    ];
    for (request, status, headers, want) in rows {
        assert_eq!(
            after(&p, *request, *status, headers),
            *want,
            "{request:?} {status} {headers:?}"
        );
    }
}

/// urllib3 `increment`: connection errors are retried for any method, read
/// errors only for allowed methods (`_is_method_retryable`); `Retry.DEFAULT`
/// is `Retry(3)`; `backoff_factor` 0 means no sleep (`get_backoff_time`).
#[test]
fn urllib3_network_errors_and_total() {
    let p = Policy::urllib3();
    // Connection errors: any method, no backoff, three retries in all.
    let trace = replay(
        &p,
        POST,
        START,
        SEED,
        vec![Step::network(NetworkError::ConnectionRefused); 5],
    );
    assert_eq!(trace.sends, 4);
    assert!(trace.sleeps.is_empty(), "backoff_factor 0");
    assert_eq!(
        trace.end,
        Some(Action::GiveUp(Reason::RetriesExhausted { retries: 3 }))
    );
    // Read errors only for allowed (idempotent) methods.
    let trace = replay(
        &p,
        GET,
        START,
        SEED,
        [Step::network(NetworkError::Timeout), Step::status(200)],
    );
    assert_eq!(trace.sends, 2);
    let trace = replay(
        &p,
        POST,
        START,
        SEED,
        [Step::network(NetworkError::Timeout)],
    );
    assert_eq!(
        trace.end,
        Some(Action::GiveUp(Reason::UnsafeToRetry {
            error: NetworkError::Timeout
        }))
    );
}

/// AWS "Retry behavior", standard mode: 3 attempts, transient and
/// throttling errors retried, backoff `min(b × 2^i, 20 s)` with `b` drawn in
/// [0, 1] (full jitter).
#[test]
fn aws_standard_backoff_attempts_and_throttling() {
    let p = Policy::aws_standard();
    for seed in 0..200 {
        let trace = replay(&p, GET, START, seed, vec![Step::status(503); 4]);
        assert_eq!(trace.sends, 3, "three attempts");
        assert_eq!(
            trace.end,
            Some(Action::GiveUp(Reason::RetriesExhausted { retries: 2 }))
        );
        assert!(
            lengths(&trace)[0] <= secs(1) && lengths(&trace)[1] <= secs(2),
            "{:?}",
            lengths(&trace)
        );
    }
    // Throttling backs off like any transient error; Retry-After is not read.
    let a = after(&p, GET, 429, &[("Retry-After", "30")]);
    assert!(matches!(a, Action::Sleep(d) if d <= secs(1)), "{a:?}");
    for status in [500, 502, 504] {
        assert!(
            matches!(after(&p, GET, status, &[]), Action::Sleep(_)),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 409, 501] {
        assert_eq!(
            after(&p, GET, status, &[]),
            Action::GiveUp(Reason::NotRetryable { status })
        );
    }
    // The 20 s max backoff holds at any step, jitter included.
    assert_eq!(p.spec().schedule.delay(30, Duration::ZERO), secs(20));
    assert_eq!(p.max_sleep(), secs(20));
}

/// AWS "Retry behavior", standard mode: the retry quota starts at 500, a
/// retry costs 5, a success without retry returns 1.
#[test]
fn aws_standard_shares_a_500_token_quota() {
    let p = Policy::aws_standard();
    let mut limits = Limits::new(&p);
    let mut retries = 0;
    for seed in 0..200 {
        let mut clock = START;
        let mut call = Call::new(&p, GET, clock, seed);
        loop {
            match call.poll(clock, Some(&mut limits)) {
                Action::Send { attempt } => {
                    retries += u32::from(attempt > 1);
                    call.observe(Outcome::status(503), clock, Some(&mut limits))
                        .unwrap();
                }
                Action::Sleep(d) => clock = clock.advanced(d),
                _ => break,
            }
        }
    }
    assert_eq!(retries, 100, "500 tokens / 5 per retry");
    assert_eq!(tokens(&limits), 0);
    // A success without a retry earns a token back.
    let mut call = Call::new(&p, GET, START, 1);
    call.poll(START, Some(&mut limits));
    call.observe(Outcome::status(200), START, Some(&mut limits))
        .unwrap();
    assert_eq!(tokens(&limits), 1);
}

/// urllib3 `get_backoff_time`: 0 after the first consecutive error, then
/// `backoff_factor × 2^(n − 1)` capped at `backoff_max`; the docstring's own
/// example, `backoff_factor=0.1`, sleeps 0.0, 0.2, 0.4, 0.8, ... seconds.
#[test]
fn urllib3_backoff_factor_reproduces_the_docstring() {
    let mut spec = Policy::urllib3().spec().clone();
    spec.max_retries = 12;
    spec.schedule = Schedule::Urllib3 {
        factor: Duration::from_millis(100),
        max: secs(120),
    };
    let p = Policy::new(spec.clone()).unwrap();
    let trace = replay(
        &p,
        GET,
        START,
        SEED,
        vec![Step::network(NetworkError::ConnectionRefused); 13],
    );
    let ms: Vec<u128> = lengths(&trace).iter().map(Duration::as_millis).collect();
    // The first retry goes at once (no Sleep); then 0.2 s doubling, until
    // 0.1 × 2^11 = 204.8 s is cut to DEFAULT_BACKOFF_MAX's 120 s.
    assert_eq!(
        ms,
        [200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 102_400, 120_000]
    );
    assert_eq!(trace.sends, 13);
    // backoff_jitter adds up to its value before the cap, never to a zero.
    spec.jitter = Jitter::Added {
        max: Duration::from_millis(50),
    };
    let p = Policy::new(spec).unwrap();
    for seed in 0..100 {
        let trace = replay(
            &p,
            GET,
            START,
            seed,
            vec![Step::network(NetworkError::ConnectionRefused); 4],
        );
        assert_eq!(trace.sleeps.len(), 3, "the first retry is immediate");
        for (d, want) in lengths(&trace).iter().zip([200, 400, 800]) {
            let d = d.as_millis();
            assert!((want..=want + 50).contains(&d), "{d} ms for {want} ms");
        }
    }
}

/// The AWS SDK for Rust's error-code classifier (aws-smithy-runtime,
/// `client/retries/classifiers.rs`): the codes of `THROTTLING_ERRORS` are
/// retried as throttling and those of `TRANSIENT_ERRORS` as transient,
/// whatever the status.
const AWS_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Every code of [`AWS_CODES`] is retried, from `x-amzn-ErrorType` (the code
/// of a JSON-protocol error, up to its first colon) or from the body.
#[test]
fn aws_standard_retries_throttling_and_transient_codes() {
    let p = Policy::aws_standard();
    assert_eq!(
        p.spec().codes.len(),
        AWS_CODES.len(),
        "the preset lists no other code"
    );
    let backs_off = |a: Action| matches!(a, Action::Sleep(d) if d <= secs(1));
    for code in AWS_CODES {
        let header = format!("{code}:http://internal.amazon.com/coral/com.amazon.coral.service/");
        let a = after(&p, GET, 400, &[("x-amzn-ErrorType", &header)]);
        assert!(backs_off(a), "{code} in the header: {a:?}");
        let mut call = Call::new(&p, GET, START, SEED);
        call.observe(Outcome::status(400).with_code(code), START, None)
            .unwrap();
        let a = call.poll(START, None);
        assert!(backs_off(a), "{code} from the body: {a:?}");
    }
    // Other codes, and a code on a success, leave the status rule alone.
    let rows: &[(u16, &str, Action)] = &[
        (
            400,
            "ValidationException",
            Action::GiveUp(Reason::NotRetryable { status: 400 }),
        ),
        (
            400,
            "throttling",
            Action::GiveUp(Reason::NotRetryable { status: 400 }),
        ),
        (
            200,
            "ThrottlingException",
            Action::Done(steadfast::Completion::Success(200)),
        ),
    ];
    for &(status, code, want) in rows {
        assert_eq!(
            after(&p, GET, status, &[("x-amzn-ErrorType", code)]),
            want,
            "{status} {code}"
        );
    }
    // The code is the named header's only: other headers, before or after
    // it or without it, carry none.
    let others = |code: &'static str| {
        [
            ("Content-Type", "ThrottlingException"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", "ThrottlingException"),
        ]
    };
    assert_eq!(
        after(&p, GET, 400, &others("ValidationException")),
        Action::GiveUp(Reason::NotRetryable { status: 400 })
    );
    let unnamed = [("Content-Type", "ThrottlingException")];
    assert_eq!(
        after(&p, GET, 400, &unnamed),
        Action::GiveUp(Reason::NotRetryable { status: 400 })
    );
    assert!(backs_off(after(&p, GET, 400, &others("SlowDown"))));
    // The body's code wins over the header's.
    let mut call = Call::new(&p, GET, START, SEED);
    let headers = [("x-amzn-ErrorType", "ValidationException")];
    call.observe(
        Outcome::response(400, &headers).with_code("SlowDown"),
        START,
        None,
    )
    .unwrap();
    assert!(backs_off(call.poll(START, None)));
}

fn tokens(limits: &Limits) -> u32 {
    match limits.snapshot(START).budget {
        Some(BudgetState::Quota { tokens, .. }) => tokens,
        other => panic!("a quota, not {other:?}"),
    }
}

#[test]
fn presets_validate() {
    for p in [
        Policy::urllib3(),
        Policy::aws_standard(),
        Policy::genesys_sdk(),
        Policy::seed_guide(),
    ] {
        assert_eq!(Policy::new(p.spec().clone()), Ok(p));
    }
}

/// The lengths of a trace's sleeps, in order.
fn lengths(trace: &steadfast::Trace) -> Vec<Duration> {
    trace.sleeps.iter().map(|&(_, d)| d).collect()
}

/// The longest wait before each of a call's `retries` when it always meets
/// `fail`, over 200 seeds.
fn longest_waits(policy: &Policy, fail: Outcome<'_>, retries: usize) -> Vec<Duration> {
    let mut longest = vec![Duration::ZERO; retries];
    for seed in 0..200 {
        let mut call = Call::new(policy, GET, START, seed);
        let mut now = START;
        for slot in &mut longest {
            call.observe(fail, now, None).unwrap();
            let Action::Sleep(d) = call.poll(now, None) else {
                panic!("no retry");
            };
            *slot = (*slot).max(d);
            now = now.advanced(d);
            assert!(matches!(call.poll(now, None), Action::Send { .. }));
        }
    }
    longest
}

/// Under the recommended policy the adaptive rate spaces throttled sends:
/// each retry of a 503 waits within the schedule's first step (3 s, fully
/// jittered), where a refused connection backs off along the schedule.
/// AWS's adaptive mode keeps backing off its throttles.
#[test]
fn recommended_throttled_retries_stay_on_the_first_step() {
    let none: &[(&str, &str)] = &[];
    let rec = Policy::recommended();
    let flat = longest_waits(&rec, Outcome::response(503, &none), 4);
    assert!(flat.iter().all(|&d| d <= secs(3)), "{flat:?}");
    let grows = longest_waits(&rec, Outcome::Network(NetworkError::ConnectionRefused), 4);
    assert!(grows[2] > secs(9), "{grows:?}");
    let aws = longest_waits(&Policy::aws_adaptive(), Outcome::response(503, &none), 2);
    assert!(aws[1] > secs(1), "{aws:?}");
}
