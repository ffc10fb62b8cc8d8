//! The urllib3 and AWS standard presets against those libraries' documented
//! defaults.

use std::time::Duration;

use steadfast::limits::BudgetState;
use steadfast::{
    replay, Action, Call, End, Limits, Method, NetworkError, Outcome, Policy, Reason, Request, Step,
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
    call.observe(Outcome::response(status, &headers.to_vec()), START)
        .unwrap();
    call.poll(START)
}

/// Headers written as (name, value) text pairs.
type Headers = &'static [(&'static str, &'static str)];

const GET: Request = Request::new(Method::Get);
const POST: Request = Request::new(Method::Post);

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
            Action::Done(steadfast::Completion::Success { status: 200 }),
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
        End::Finished(Action::GiveUp(Reason::RetriesExhausted { retries: 3 }))
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
        End::Finished(Action::GiveUp(Reason::UnsafeToRetry {
            error: NetworkError::Timeout
        }))
    );
}

#[test]
fn aws_standard_backoff_attempts_and_throttling() {
    let p = Policy::aws_standard();
    for seed in 0..200 {
        let trace = replay(&p, GET, START, seed, vec![Step::status(503); 4]);
        assert_eq!(trace.sends, 3, "three attempts");
        assert_eq!(
            trace.end,
            End::Finished(Action::GiveUp(Reason::RetriesExhausted { retries: 2 }))
        );
        assert!(
            trace.sleeps[0] <= secs(1) && trace.sleeps[1] <= secs(2),
            "{:?}",
            trace.sleeps
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

#[test]
fn aws_standard_shares_a_500_token_quota() {
    let p = Policy::aws_standard();
    let mut limits = Limits::new(&p);
    let mut retries = 0;
    for seed in 0..200 {
        let mut clock = START;
        let mut call = Call::new(&p, GET, clock, seed);
        loop {
            match call.poll_with(&mut limits, clock) {
                Action::Send { attempt } => {
                    retries += u32::from(attempt > 1);
                    call.observe_with(&mut limits, Outcome::status(503), clock)
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
    call.poll_with(&mut limits, START);
    call.observe_with(&mut limits, Outcome::status(200), START)
        .unwrap();
    assert_eq!(tokens(&limits), 1);
}

fn tokens(limits: &Limits) -> u32 {
    match limits.snapshot(START).budget {
        Some(BudgetState::Quota { tokens, .. }) => tokens,
        other => panic!("a quota, not {other:?}"),
    }
}

#[test]
fn presets_validate() {
    for p in [Policy::urllib3(), Policy::aws_standard()] {
        assert_eq!(Policy::new(p.spec().clone()), Ok(p));
    }
}
