//! One table-driven test per row of the decision table in docs/design.md, plus the
//! knobs that change a row.

use std::collections::BTreeMap;
use std::time::Duration;

use steadfast::{
    replay, Action, Call, Completion, Jitter, Method, NetworkError, OnConflict, Outcome, Policy,
    PolicySpec, RateLimitRule, Reason, Refresh, Request, Rule, Search, Step,
};

/// Monotonic zero; wall clock 2027-01-15 08:00:00 UTC.
const START: steadfast::Clock =
    steadfast::Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
/// Every call's jitter seed.
const SEED: u64 = 0x5eed;

/// Headers written as (name, value) text pairs.
type Headers = &'static [(&'static str, &'static str)];

const GET: Request = Request::new(Method::Get);
const POST: Request = Request::new(Method::Post);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The action after one response.
fn after(policy: &Policy, request: Request, status: u16, headers: &[(&str, &str)]) -> Action {
    let mut call = Call::new(policy, request, START, SEED);
    assert_eq!(call.poll(START, None), Action::Send { attempt: 1 });
    call.observe(Outcome::response(status, &headers.to_vec()), START, None)
        .expect("a response answers a send");
    call.poll(START, None)
}

/// How a scripted run ends.
fn ends(policy: &Policy, request: Request, steps: Vec<Step>) -> Action {
    match replay(policy, request, START, SEED, steps).end {
        Some(action) => action,
        other => panic!("script did not finish the call: {other:?}"),
    }
}

fn policy(f: impl FnOnce(&mut PolicySpec)) -> Policy {
    let mut spec = PolicySpec::default();
    f(&mut spec);
    Policy::new(spec).expect("valid test policy")
}

#[test]
fn row_2xx_is_done() {
    let p = Policy::seed_guide();
    for status in [200, 201, 202, 204, 299] {
        assert_eq!(
            after(&p, GET, status, &[]),
            Action::Done(Completion::Success(status)),
            "{status}"
        );
    }
}

#[test]
fn row_client_errors_give_up() {
    let p = Policy::seed_guide();
    for status in [400, 402, 403, 404, 405, 410, 413, 418, 422, 451, 499] {
        assert_eq!(
            after(&p, POST, status, &[("Retry-After", "1")]),
            Action::GiveUp(Reason::NotRetryable { status }),
            "{status}"
        );
    }
}

#[test]
fn nonsense_and_unexpected_statuses_give_up() {
    let p = Policy::seed_guide();
    for status in [
        0,
        1,
        99,
        100,
        101,
        199,
        301,
        302,
        304,
        399,
        600,
        999,
        u16::MAX,
    ] {
        assert_eq!(
            after(&p, GET, status, &[]),
            Action::GiveUp(Reason::NotRetryable { status }),
            "{status}"
        );
    }
}

#[test]
fn row_401_refreshes_once() {
    let p = Policy::seed_guide();
    assert_eq!(after(&p, GET, 401, &[]), Action::RefreshToken);
    let rows = [
        (
            vec![
                Step::status(401),
                Step::Refresh(Refresh::Refreshed),
                Step::status(200),
            ],
            Action::Done(Completion::Success(200)),
        ),
        (
            vec![
                Step::status(401),
                Step::Refresh(Refresh::Refreshed),
                Step::status(401),
            ],
            Action::GiveUp(Reason::ReauthRequired),
        ),
        (
            vec![Step::status(401), Step::Refresh(Refresh::Failed)],
            Action::GiveUp(Reason::ReauthRequired),
        ),
        // One refresh per call, even with a success-free stretch between.
        (
            vec![
                Step::status(401),
                Step::Refresh(Refresh::Refreshed),
                Step::status(503),
                Step::status(401),
            ],
            Action::GiveUp(Reason::ReauthRequired),
        ),
    ];
    for (steps, want) in rows {
        assert_eq!(ends(&p, GET, steps.clone()), want, "{steps:?}");
    }
}

#[test]
fn refresh_resend_is_immediate_and_uncounted() {
    let trace = replay(
        &Policy::seed_guide(),
        GET,
        START,
        SEED,
        [
            Step::status(401),
            Step::Refresh(Refresh::Refreshed),
            Step::status(200),
        ],
    );
    assert!(trace.sleeps.is_empty());
    assert_eq!(trace.sends, 2);
    assert_eq!(trace.events[1].action, Action::Send { attempt: 2 });
}

#[test]
fn row_409_searches_by_external_id() {
    let create = POST.with_external_id();
    let update = policy(|s| s.on_conflict = OnConflict::Update);
    let give_up = policy(|s| s.on_conflict = OnConflict::GiveUp);
    let p = Policy::seed_guide();
    assert_eq!(after(&p, create, 409, &[]), Action::SearchExisting);
    // Without an external id there is nothing to search by.
    assert_eq!(
        after(&p, POST.with_idempotency_key(), 409, &[]),
        Action::GiveUp(Reason::ConflictUnresolved)
    );
    assert_eq!(
        after(&give_up, create, 409, &[]),
        Action::GiveUp(Reason::ConflictUnresolved)
    );
    let found = || vec![Step::status(409), Step::Search(Search::Found(()))];
    let rows = [
        (&p, found(), Action::Done(Completion::Existing(()))),
        (&update, found(), Action::Done(Completion::Update(()))),
        (
            &p,
            vec![
                Step::status(409),
                Step::Search(Search::NotFound),
                Step::status(201),
            ],
            Action::Done(Completion::Success(201)),
        ),
        // The create is re-sent once only.
        (
            &p,
            vec![
                Step::status(409),
                Step::Search(Search::NotFound),
                Step::status(409),
                Step::Search(Search::NotFound),
            ],
            Action::GiveUp(Reason::ConflictUnresolved),
        ),
        (
            &p,
            vec![
                Step::status(409),
                Step::Search(Search::NotFound),
                Step::status(409),
                Step::Search(Search::Found(())),
            ],
            Action::Done(Completion::Existing(())),
        ),
        (
            &p,
            vec![Step::status(409), Step::Search(Search::Failed)],
            Action::GiveUp(Reason::SearchFailed),
        ),
    ];
    for (policy, steps, want) in rows {
        assert_eq!(ends(policy, create, steps.clone()), want, "{steps:?}");
    }
}

#[test]
fn row_429_waits_retry_after_else_reset_else_60s() {
    let p = Policy::seed_guide();
    let epoch_reset = ("X-Rate-Limit-Reset", "1800000045");
    let rows: &[(&[(&str, &str)], Duration)] = &[
        (&[("Retry-After", "120")], secs(120)),
        (
            &[("Retry-After", "Fri, 15 Jan 2027 08:02:00 GMT")],
            secs(120),
        ),
        (&[("Retry-After", "20"), epoch_reset], secs(20)),
        (&[epoch_reset], secs(45)),
        (&[("Retry-After", "soon"), epoch_reset], secs(45)),
        (&[("RateLimit-Reset", "12")], secs(12)),
        (&[("inin-ratelimit-reset", "7")], secs(7)),
        (&[], secs(60)),
        (&[("Retry-After", "-1")], secs(60)),
        (&[("X-Rate-Limit-Reset", "garbage")], secs(60)),
        // A server's "now" is raised to the 1 s floor: no zero-delay hammering.
        (&[("Retry-After", "0")], secs(1)),
        (&[("Retry-After", "Fri, 15 Jan 2027 07:00:00 GMT")], secs(1)),
        (&[("X-Rate-Limit-Reset", "1799999999")], secs(1)),
        // A hostile wait is cut to retry_after_cap (300 s).
        (&[("Retry-After", "86400")], secs(300)),
        (&[("Retry-After", "99999999999999999999999")], secs(300)),
    ];
    for (headers, want) in rows {
        assert_eq!(
            after(&p, POST, 429, headers),
            Action::Sleep(*want),
            "{headers:?}"
        );
    }
}

#[test]
fn rate_limit_knobs() {
    let no_reset = policy(|s| s.rate_limit.use_reset = false);
    assert_eq!(
        after(&no_reset, GET, 429, &[("RateLimit-Reset", "12")]),
        Action::Sleep(secs(60))
    );
    let strict = policy(|s| s.rate_limit.give_up_above = Some(secs(180)));
    assert_eq!(
        after(&strict, GET, 429, &[("Retry-After", "181")]),
        Action::GiveUp(Reason::RetryAfterTooLong { wait: secs(181) })
    );
    assert_eq!(
        after(&strict, GET, 429, &[("Retry-After", "180")]),
        Action::Sleep(secs(180))
    );
    // Uncounted 429 waits leave every retry to the schedule.
    let uncounted = policy(|s| {
        s.rate_limit.counts_as_retry = false;
        s.deadline = Some(secs(3600));
    });
    let mut steps = vec![Step::status(429).header("Retry-After", "5"); 10];
    steps.extend(vec![Step::status(503); 5]);
    let trace = replay(&uncounted, GET, START, SEED, steps.clone());
    assert_eq!(
        trace.end,
        Some(Action::GiveUp(Reason::RetriesExhausted { retries: 4 }))
    );
    assert_eq!(trace.sends, 15);
    let counted = replay(&Policy::seed_guide(), GET, START, SEED, steps);
    assert_eq!(counted.sends, 5);
}

#[test]
fn row_5xx_backs_off() {
    let p = Policy::seed_guide();
    let ra = &[("Retry-After", "10")][..];
    let rows: &[(u16, Headers, Action)] = &[
        (500, &[], Action::Sleep(secs(3))),
        (502, &[], Action::Sleep(secs(3))),
        (503, &[], Action::Sleep(secs(3))),
        // 503 honours Retry-After; 500 and 502 follow the schedule.
        (503, ra, Action::Sleep(secs(10))),
        (500, ra, Action::Sleep(secs(3))),
        (502, ra, Action::Sleep(secs(3))),
        // 504 looks one step ahead.
        (504, &[], Action::Sleep(secs(9))),
        (504, ra, Action::Sleep(secs(9))),
        // Cannot change by retrying.
        (
            501,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 501 }),
        ),
        (
            505,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 505 }),
        ),
        (
            511,
            &[],
            Action::GiveUp(Reason::NotRetryable { status: 511 }),
        ),
        // Other 5xx back off by default.
        (507, &[], Action::Sleep(secs(3))),
        (520, &[], Action::Sleep(secs(3))),
        (599, &[], Action::Sleep(secs(3))),
    ];
    for (status, headers, want) in rows {
        assert_eq!(
            after(&p, POST, *status, headers),
            *want,
            "{status} {headers:?}"
        );
    }
    // The knob for other 5xx leaves the named rows alone.
    let strict = policy(|s| s.other_server_errors = steadfast::Rule::GiveUp);
    for (status, want) in [
        (500, Action::Sleep(secs(3))),
        (502, Action::Sleep(secs(3))),
        (503, Action::Sleep(secs(3))),
        (504, Action::Sleep(secs(9))),
        (507, Action::GiveUp(Reason::NotRetryable { status: 507 })),
    ] {
        assert_eq!(after(&strict, POST, status, &[]), want, "{status}");
    }
}

#[test]
fn schedule_steps_and_504_at_every_step() {
    // 503 n times, then a 504: the 504 waits the step after the current one,
    // and past the end of the table the last entry repeats.
    let p = Policy::seed_guide();
    for (before, want) in [(0, 9), (1, 27), (2, 300), (3, 300)] {
        let mut steps = vec![Step::status(503); before];
        steps.push(Step::status(504));
        steps.push(Step::status(200));
        let trace = replay(&p, GET, START, SEED, steps);
        assert_eq!(
            lengths(&trace).last(),
            Some(&secs(want)),
            "{before} 503s then 504"
        );
    }
}

#[test]
fn row_network_errors_and_idempotency() {
    use NetworkError::*;
    let p = Policy::seed_guide();
    let retry = Action::Sleep(secs(3));
    let requests = [
        (Request::new(Method::Get), true),
        (Request::new(Method::Head), true),
        (Request::new(Method::Put), true),
        (Request::new(Method::Delete), true),
        (Request::new(Method::Options), true),
        (Request::new(Method::Post), false),
        (Request::new(Method::Patch), false),
        (Request::new(Method::Other), false),
        (Request::new(Method::Post).with_external_id(), true),
        (Request::new(Method::Patch).with_idempotency_key(), true),
    ];
    for (request, may_repeat) in requests {
        for error in [ConnectionRefused, Dns, ConnectTimeout] {
            assert_eq!(net(&p, request, error), retry, "{request:?} {error:?}");
        }
        for error in [Timeout, ConnectionReset] {
            let want = if may_repeat {
                retry
            } else {
                Action::GiveUp(Reason::UnsafeToRetry { error })
            };
            assert_eq!(net(&p, request, error), want, "{request:?} {error:?}");
        }
        for error in [Tls, Protocol, Other] {
            assert_eq!(
                net(&p, request, error),
                Action::GiveUp(Reason::NetworkFatal { error }),
                "{request:?} {error:?}"
            );
        }
    }
}

fn net(policy: &Policy, request: Request, error: NetworkError) -> Action {
    let mut call = Call::new(policy, request, START, SEED);
    call.observe(Outcome::Network(error), START, None).unwrap();
    call.poll(START, None)
}

#[test]
fn row_retries_exhausted() {
    let p = Policy::seed_guide();
    let trace = replay(&p, GET, START, SEED, vec![Step::status(503); 6]);
    assert_eq!(lengths(&trace), [3, 9, 27, 300].map(secs));
    assert_eq!(trace.sends, 5);
    assert_eq!(
        trace.end,
        Some(Action::GiveUp(Reason::RetriesExhausted { retries: 4 }))
    );
    let none = policy(|s| s.max_retries = 0);
    assert_eq!(
        after(&none, GET, 503, &[]),
        Action::GiveUp(Reason::RetriesExhausted { retries: 0 })
    );
}

#[test]
fn row_deadline_never_starts_a_sleep_past_it() {
    let rows = [(secs(11), 2), (secs(12), 3), (secs(39), 4), (secs(338), 4)];
    for (deadline, sends) in rows {
        let p = Policy::seed_guide().with_deadline(deadline);
        let trace = replay(&p, GET, START, SEED, vec![Step::status(503); 6]);
        assert_eq!(trace.sends, sends, "deadline {deadline:?}");
        assert_eq!(trace.end, Some(Action::GiveUp(Reason::DeadlineExceeded)));
        assert!(trace.slept() <= deadline);
    }
    // Slow responses count too: with 50 s attempts the third 503 arrives at
    // 162 s, when even a 27 s wait would end past 120 s.
    let p = Policy::seed_guide().with_deadline(secs(120));
    let slow = Step::status(503).after(secs(50));
    let trace = replay(&p, GET, START, SEED, vec![slow; 3]);
    assert_eq!(lengths(&trace), [secs(3), secs(9)]);
    assert_eq!(trace.elapsed, secs(162));
    assert_eq!(trace.end, Some(Action::GiveUp(Reason::DeadlineExceeded)));
}

#[test]
fn status_overrides_replace_rows() {
    let p = policy(|s| {
        s.statuses = BTreeMap::from([
            (404, Rule::Succeed),
            (500, Rule::GiveUp),
            (
                408,
                Rule::Backoff {
                    retry_after: true,
                    extra_steps: 2,
                    throttle: false,
                },
            ),
        ])
    });
    assert_eq!(
        after(&p, Request::new(Method::Delete), 404, &[]),
        Action::Done(Completion::Success(404))
    );
    assert_eq!(
        after(&p, GET, 500, &[]),
        Action::GiveUp(Reason::NotRetryable { status: 500 })
    );
    assert_eq!(after(&p, GET, 408, &[]), Action::Sleep(secs(27)));
    assert_eq!(
        after(&p, GET, 408, &[("Retry-After", "4")]),
        Action::Sleep(secs(4))
    );
}

/// The Genesys Cloud SDKs' retry check (`ApiClient`, `Retry.ShouldRetry` in
/// the .NET SDK): retryable statuses 429, 502, 503, 504; `Retry-After` or
/// `retryAfterDefaultMs` (3 s); 5xx follow `Retry-After` for
/// `maxRetriesBeforeBackoff` (5) retries only.
#[test]
fn genesys_sdk_rows() {
    let p = Policy::genesys_sdk();
    for status in [400, 401, 404, 409, 500, 501, 505, 507] {
        assert_eq!(
            after(&p, POST.with_external_id(), status, &[]),
            Action::GiveUp(Reason::NotRetryable { status }),
            "{status}"
        );
    }
    for status in [502, 503, 504] {
        assert_eq!(after(&p, GET, status, &[]), Action::Sleep(secs(3)));
        assert_eq!(
            after(&p, GET, status, &[("Retry-After", "11")]),
            Action::Sleep(secs(11))
        );
    }
    assert_eq!(after(&p, GET, 429, &[]), Action::Sleep(secs(3)));
    assert_eq!(
        after(&p, GET, 429, &[("Retry-After", "180")]),
        Action::Sleep(secs(180))
    );
    assert_eq!(
        after(&p, GET, 429, &[("Retry-After", "181")]),
        Action::GiveUp(Reason::RetryAfterTooLong { wait: secs(181) })
    );
    // No reset-header reading, and Retry-After: 0 taken at its word.
    assert_eq!(
        after(&p, GET, 429, &[("RateLimit-Reset", "50")]),
        Action::Sleep(secs(3))
    );
    assert_eq!(
        after(&p, GET, 429, &[("Retry-After", "0")]),
        Action::Send { attempt: 2 }
    );
    assert_eq!(
        net(&p, GET, NetworkError::ConnectionRefused),
        Action::GiveUp(Reason::NetworkFatal {
            error: NetworkError::ConnectionRefused
        })
    );
    // Past five 5xx retries Retry-After is ignored and the stage applies.
    let steps: Vec<Step> = (0..7)
        .map(|_| Step::status(503).header("Retry-After", "1"))
        .collect();
    let trace = replay(&p, GET, START, SEED, steps);
    assert_eq!(lengths(&trace), [1, 1, 1, 1, 1, 3, 3].map(secs));
}

/// The same check, past five 5xx retries: `3^min(3, floor(elapsed /
/// backoffIntervalMs) + 1)` seconds with `backoffIntervalMs` 300 000; retries
/// only while the elapsed time is below `maxRetryTimeSec`.
#[test]
fn genesys_sdk_stages_by_elapsed_time() {
    let p = Policy::genesys_sdk();
    // A response every 100 s: step 5 onwards depends on elapsed time only.
    let slow = Step::status(503).after(secs(100));
    let trace = replay(&p, GET, START, SEED, vec![slow; 20]);
    let waits: Vec<u64> = lengths(&trace).iter().map(Duration::as_secs).collect();
    // Elapsed at each decision: 100, 203, 306, ... (100 s + 3 s per round
    // while in the first stage).
    assert_eq!(&waits[..5], &[3, 3, 3, 3, 3]);
    for (event, wait) in trace.events.iter().zip(&waits).skip(5) {
        let k = (event.elapsed.as_secs() / 300 + 1).min(3) as u32;
        assert_eq!(*wait, 3u64.pow(k), "at {:?}", event.elapsed);
    }
    assert!(waits.contains(&27));
    // The 30-minute max retry time ends it.
    assert_eq!(trace.end, Some(Action::GiveUp(Reason::RetryTimeExceeded)));
}

/// The SDKs compare the elapsed time with the max retry time when a failure
/// arrives, so a wait that starts just before it may end well past it; a
/// deadline would refuse that wait.
#[test]
fn max_retry_time_is_checked_when_a_failure_arrives() {
    let p = Policy::genesys_sdk();
    let at = |t: u64| Step::status(503).header("Retry-After", "60").at(secs(t));
    // A failure at 29:59 is retried after 60 s, a wait ending past 30:00;
    // the failure after it, at 31:00, ends the call.
    let trace = replay(&p, GET, START, SEED, [at(1_799), at(1_860)]);
    assert_eq!(lengths(&trace), [secs(60)]);
    assert_eq!(trace.end, Some(Action::GiveUp(Reason::RetryTimeExceeded)));
    // A failure at exactly 30:00 is not retried.
    let trace = replay(&p, GET, START, SEED, [at(1_800)]);
    assert!(trace.sleeps.is_empty());
    assert_eq!(trace.end, Some(Action::GiveUp(Reason::RetryTimeExceeded)));
    // The same policy with a deadline instead refuses the long last wait.
    let mut spec = p.spec().clone();
    spec.deadline = spec.max_retry_time.take();
    let p = Policy::new(spec).unwrap();
    let trace = replay(&p, GET, START, SEED, [at(1_798)]);
    assert_eq!(trace.end, Some(Action::GiveUp(Reason::DeadlineExceeded)));
    // Refreshes and re-creates are not failures: a 401 is still refreshed
    // after the max retry time under a policy that refreshes.
    let p = Policy::seed_guide().with_max_retry_time(secs(10));
    let trace = replay(
        &p,
        GET,
        START,
        SEED,
        [
            Step::status(401).at(secs(20)),
            Step::Refresh(steadfast::Refresh::Refreshed),
            Step::status(200).at(secs(21)),
        ],
    );
    assert_eq!(trace.sends, 2);
    assert!(matches!(trace.end, Some(Action::Done(_))));
}

#[test]
fn jitter_keeps_rows_but_varies_waits() {
    let p = Policy::seed_guide().with_jitter(Jitter::Full);
    let waits: Vec<Action> = (0..20)
        .map(|seed| {
            let mut call = Call::new(&p, GET, START, seed);
            call.observe(Outcome::status(503), START, None).unwrap();
            call.poll(START, None)
        })
        .collect();
    assert!(waits
        .iter()
        .all(|a| matches!(a, Action::Sleep(d) if *d <= secs(3))));
    assert!(waits.windows(2).any(|w| w[0] != w[1]), "{waits:?}");
}

#[test]
fn rate_limit_rule_default_matches_guide() {
    let r = RateLimitRule::default();
    assert_eq!(r.default_wait, secs(60));
    assert!(r.use_reset && r.counts_as_retry && r.give_up_above.is_none());
}

/// The event's notes say what was odd about a server's wait, and only
/// then: cut to the cap, raised to the floor (a wait exactly at either is
/// not), ignored by the schedule; the policy's own default wait for a bare
/// 429 is neither cut nor raised.
#[test]
fn notes_say_when_a_servers_wait_was_changed() {
    use steadfast::HintNotes as N;
    let p = policy(|s| {
        s.retry_after_cap = secs(100);
        s.min_server_wait = secs(5);
        s.rate_limit.default_wait = Duration::from_millis(500);
    });
    let step = |p: &Policy, status: u16, headers: &[(&str, &str)]| {
        let mut call = Call::new(p, GET, START, SEED);
        let event = *call
            .observe(Outcome::response(status, &headers.to_vec()), START, None)
            .unwrap();
        (event.action, event.notes)
    };
    type Row<'a> = (u16, &'a [(&'a str, &'a str)], Action, N);
    let rows: &[Row] = &[
        (
            503,
            &[("Retry-After", "1000")],
            Action::Sleep(secs(100)),
            N::CAPPED,
        ),
        (
            503,
            &[("Retry-After", "100")],
            Action::Sleep(secs(100)),
            N::empty(),
        ),
        (
            503,
            &[("Retry-After", "1")],
            Action::Sleep(secs(5)),
            N::RAISED_TO_FLOOR,
        ),
        (
            503,
            &[("Retry-After", "5")],
            Action::Sleep(secs(5)),
            N::empty(),
        ),
        (
            429,
            &[("Retry-After", "1000")],
            Action::Sleep(secs(100)),
            N::CAPPED,
        ),
        (
            429,
            &[],
            Action::Sleep(Duration::from_millis(500)),
            N::empty(),
        ),
    ];
    for &(status, headers, want, notes) in rows {
        assert_eq!(
            step(&p, status, headers),
            (want, notes),
            "{status} {headers:?}"
        );
    }
    // The Genesys SDKs honour Retry-After for the first five retries only.
    let genesys = Policy::genesys_sdk();
    let mut call = Call::new(&genesys, GET, START, SEED);
    let mut clock = START;
    let mut ignored = Vec::new();
    for _ in 0..7 {
        let outcome = Outcome::response(503, &[("Retry-After", "2")]);
        let event = *call.observe(outcome, clock, None).unwrap();
        ignored.push(event.notes.contains(N::RETRY_AFTER_IGNORED));
        if let Action::Sleep(d) = call.poll(clock, None) {
            clock = clock.advanced(d);
            call.poll(clock, None);
        }
    }
    assert_eq!(ignored, [false, false, false, false, false, true, true]);
}

/// The lengths of a trace's sleeps, in order.
fn lengths(trace: &steadfast::Trace) -> Vec<Duration> {
    trace.sleeps.iter().map(|&(_, d)| d).collect()
}
