//! Cross-call limits through calls (`poll` / `observe` with limits /
//! `abandon`): pacing, the budget and the breaker as calls meet them, and
//! properties over many calls sharing one `Limits` with cancellations and
//! vanished calls mixed in. The tracker, budget and breaker on their own are
//! tested in their modules.

use std::time::Duration;

use proptest::prelude::*;
use steadfast::limits::{BreakerSpec, BreakerState, BudgetSpec, BudgetState};
use steadfast::testing::strategies;
use steadfast::{
    Action, Basis, Call, Clock, Limits, LimitsSpec, Method, NetworkError, Observed, Outcome,
    Policy, PolicySpec, Pressure, Reason, Refresh, Request, Search,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn breaker_spec() -> BreakerSpec {
    BreakerSpec {
        failure_ratio: 0.5,
        window: secs(60),
        min_outcomes: 4,
        break_for: secs(30),
        probes: 2,
    }
}

fn policy_with(limits: LimitsSpec) -> Policy {
    Policy::new(PolicySpec {
        limits,
        ..PolicySpec::default()
    })
    .unwrap()
}

const START: Clock = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
const GET: Request = Request::new(Method::Get);

/// One call sends and reads `headers` (an exhausted window); then a second
/// call sharing the limits is polled once. Returns it and what it was told.
fn after_exhausted_window<'p>(
    policy: &'p Policy,
    limits: &mut Limits,
    headers: &[(&str, &str)],
) -> (Call<&'p Policy>, Action) {
    let mut first = Call::new(policy, GET, START, 1);
    assert!(matches!(
        first.poll(START, Some(limits)),
        Action::Send { .. }
    ));
    first
        .observe(
            Outcome::response(200, &headers.to_vec()),
            START,
            Some(limits),
        )
        .unwrap();
    let mut second = Call::new(policy, GET, START, 2);
    let action = second.poll(START, Some(limits));
    (second, action)
}

#[test]
fn calls_pace_before_sending_into_an_exhausted_window() {
    let policy = policy_with(LimitsSpec {
        reset_jitter: Duration::ZERO,
        ..LimitsSpec::default()
    });
    let mut limits = Limits::new(&policy);
    let headers = [
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Limit", "100"),
        ("RateLimit-Reset", "20"),
    ];
    // A second call, sharing the limits, waits for the reset instead of
    // drawing a 429; the wait is its event.
    let (mut second, first_poll) = after_exhausted_window(&policy, &mut limits, &headers);
    assert_eq!(first_poll, Action::Sleep(secs(20)));
    let event = second.last_event().copied().unwrap();
    assert_eq!(
        (event.observed, event.basis),
        (Observed::Nothing, Basis::Limits)
    );
    assert_eq!(
        event.rate_limit.and_then(|r| r.pressure),
        Some(Pressure::Exhausted)
    );
    assert_eq!(
        second.poll(START.advanced(secs(20)), Some(&mut limits)),
        Action::Send { attempt: 1 }
    );
}

/// The limits' own spec decides pacing, whatever the policy of the call
/// they are lent to says: a call that paces meets limits that do not, and
/// the other way round.
#[test]
fn the_limits_spec_decides_pacing_not_the_calls_policy() {
    let paces = policy_with(LimitsSpec {
        reset_jitter: Duration::ZERO,
        ..LimitsSpec::default()
    });
    let does_not = policy_with(LimitsSpec {
        pacing: false,
        ..LimitsSpec::default()
    });
    let headers = [
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Limit", "100"),
        ("RateLimit-Reset", "20"),
    ];
    for (limits_from, call_under, waits) in [(&does_not, &paces, false), (&paces, &does_not, true)]
    {
        let mut limits = Limits::new(limits_from);
        let (_, action) = after_exhausted_window(call_under, &mut limits, &headers);
        assert_eq!(matches!(action, Action::Sleep(_)), waits, "{action:?}");
    }
}

/// Calls waiting for an exhausted window wake spread over `reset_jitter`
/// after its reset (the default: one second), not all at once.
#[test]
fn calls_paced_to_a_reset_wake_spread_over_the_jitter() {
    let policy = policy_with(LimitsSpec::default());
    let mut limits = Limits::new(&policy);
    let headers = [
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Limit", "100"),
        ("RateLimit-Reset", "20"),
    ];
    after_exhausted_window(&policy, &mut limits, &headers);
    let waits: std::collections::BTreeSet<Duration> = (10..30)
        .map(
            |seed| match Call::new(&policy, GET, START, seed).poll(START, Some(&mut limits)) {
                Action::Sleep(d) => d,
                other => panic!("paced, not {other:?}"),
            },
        )
        .collect();
    assert!(
        waits.iter().all(|&d| (secs(20)..=secs(21)).contains(&d)),
        "{waits:?}"
    );
    assert!(waits.len() > 10, "spread: {waits:?}");
}

#[test]
fn an_empty_budget_gives_up_instead_of_sleeping() {
    let policy = policy_with(LimitsSpec {
        budget: Some(BudgetSpec::Quota {
            capacity: 10,
            retry_cost: 5,
            timeout_cost: 10,
            success_credit: 1,
        }),
        ..LimitsSpec::default()
    });
    let mut limits = Limits::new(&policy);
    let mut ends = Vec::new();
    for seed in 0..3 {
        let mut call = Call::new(&policy, GET, START, seed);
        call.poll(START, Some(&mut limits));
        let e = *call
            .observe(Outcome::status(503), START, Some(&mut limits))
            .unwrap();
        ends.push(e.action);
    }
    assert_eq!(ends[..2], [Action::Sleep(secs(3)), Action::Sleep(secs(3))]);
    assert_eq!(ends[2], Action::GiveUp(Reason::BudgetExhausted));
}

/// A policy with `breaker_spec`'s breaker and no other shared limit.
fn breaker_policy() -> Policy {
    policy_with(LimitsSpec {
        breaker: Some(breaker_spec()),
        ..LimitsSpec::default()
    })
}

/// Four calls, each sent once through `limits` and answered `outcome`
/// (the breaker's minimum of outcomes in `breaker_spec`).
fn four_calls_end_in(policy: &Policy, limits: &mut Limits, outcome: Outcome<'_>) {
    for seed in 0..4 {
        let mut call = Call::new(policy, GET, START, seed);
        call.poll(START, Some(limits));
        call.observe(outcome, START, Some(limits)).unwrap();
    }
}

#[test]
fn an_open_breaker_fails_calls_at_once() {
    let policy = breaker_policy();
    let mut limits = Limits::new(&policy);
    four_calls_end_in(&policy, &mut limits, Outcome::status(503));
    let mut call = Call::new(&policy, GET, START, 9);
    assert_eq!(
        call.poll(START, Some(&mut limits)),
        Action::GiveUp(Reason::CircuitOpen {
            retry_after: secs(30)
        })
    );
}

/// `reset` closes an open breaker (and forgets its counts) along with the
/// rest of the limits.
#[test]
fn reset_closes_an_open_breaker() {
    let policy = breaker_policy();
    let mut limits = Limits::new(&policy);
    four_calls_end_in(&policy, &mut limits, Outcome::status(503));
    assert!(matches!(
        limits.snapshot(START).breaker,
        Some(BreakerState::Open { .. })
    ));
    limits.reset();
    assert_eq!(limits.snapshot(START).breaker, Some(BreakerState::Closed));
    let mut call = Call::new(&policy, GET, START, 9);
    assert_eq!(
        call.poll(START, Some(&mut limits)),
        Action::Send { attempt: 1 }
    );
}

/// A send granted before `reset` is given back to nobody: it cannot take
/// off a send granted after.
#[test]
fn a_grant_from_before_a_reset_takes_nothing_off_a_later_one() {
    let policy = policy_with(LimitsSpec::default());
    let mut limits = Limits::new(&policy);
    let mut old = Call::new(&policy, GET, START, 1);
    old.poll(START, Some(&mut limits));
    limits.reset();
    let mut new = Call::new(&policy, GET, START, 2);
    new.poll(START, Some(&mut limits));
    assert_eq!(limits.snapshot(START).in_flight, 1);
    old.abandon(&mut limits, START);
    assert_eq!(
        limits.snapshot(START).in_flight,
        1,
        "the new send is still out"
    );
    new.abandon(&mut limits, START);
    assert_eq!(limits.snapshot(START).in_flight, 0);
}

/// Network failures count for the breaker as the server's when they say
/// it is struggling (refused before sending, timed out after): four of them
/// open it. TLS failures say nothing of the server: they never do.
#[test]
fn network_failures_open_the_breaker_when_they_speak_of_the_server() {
    let policy = breaker_policy();
    for (error, opens) in [
        (NetworkError::ConnectionRefused, true),
        (NetworkError::Timeout, true),
        (NetworkError::Tls, false),
    ] {
        let mut limits = Limits::new(&policy);
        four_calls_end_in(&policy, &mut limits, Outcome::Network(error));
        let mut call = Call::new(&policy, GET, START, 9);
        let refused = matches!(
            call.poll(START, Some(&mut limits)),
            Action::GiveUp(Reason::CircuitOpen { .. })
        );
        assert_eq!(refused, opens, "{error:?}");
    }
}

proptest! {
    // 1,000 cases, or more when PROPTEST_CASES asks for more (a long hunt).
    #![proptest_config(ProptestConfig::with_cases(ProptestConfig::default().cases.max(1000)))]

    #[test]
    fn a_burst_of_failures_retries_at_most_what_the_budget_allows(
        capacity in 1u32..300, cost in 1u32..20, calls in 1usize..60,
    ) {
        let policy = policy_with(LimitsSpec {
            budget: Some(BudgetSpec::Quota { capacity, retry_cost: cost, timeout_cost: cost, success_credit: 1 }),
            ..LimitsSpec::default()
        });
        let mut limits = Limits::new(&policy);
        let mut retries = 0u32;
        for seed in 0..calls {
            let mut clock = START;
            let mut call = Call::new(&policy, GET, clock, seed as u64);
            loop {
                match call.poll(clock, Some(&mut limits)) {
                    Action::Send { attempt } => {
                        retries += u32::from(attempt > 1);
                        call.observe(Outcome::status(503), clock, Some(&mut limits)).unwrap();
                    }
                    Action::Sleep(d) => clock = clock.advanced(d),
                    _ => break,
                }
            }
        }
        prop_assert!(retries <= capacity / cost, "{} retries, budget {}", retries, capacity / cost);
    }

}

#[test]
fn a_pacing_wait_is_capped_like_any_server_wait() {
    // Found by the call fuzz target: a far-off reset made a pacing sleep
    // longer than the policy allows.
    let policy = policy_with(LimitsSpec::default());
    let mut limits = Limits::new(&policy);
    let headers = [("RateLimit-Remaining", "0"), ("RateLimit-Reset", "86400")];
    let (second, first_poll) = after_exhausted_window(&policy, &mut limits, &headers);
    assert_eq!(first_poll, Action::Sleep(policy.spec().retry_after_cap));
    assert!(second
        .last_event()
        .unwrap()
        .notes
        .contains(steadfast::HintNotes::CAPPED));
}

/// One step of one call among many sharing the limits.
#[derive(Clone, Debug)]
enum Op {
    Poll,
    /// A response: status, and a rate-limit reading (limit, remaining,
    /// reset in seconds) that may be absurd.
    Answer(u16, Option<(u64, u64, u64)>),
    Network(NetworkError),
    Refreshed,
    NotFound,
    /// The caller gives up on the call and says so.
    Abandon,
    /// The call is dropped without a word (a custom executor's bug).
    Vanish,
}

fn op() -> impl Strategy<Value = Op> {
    let reading = prop::option::of((
        0u64..200,
        0u64..200,
        prop_oneof![0u64..120, Just(999_999_999)],
    ));
    prop_oneof![
        4 => Just(Op::Poll),
        4 => (prop::sample::select(vec![200u16, 201, 400, 401, 409, 429, 500, 503, 504]), reading)
            .prop_map(|(s, r)| Op::Answer(s, r)),
        1 => strategies::network().prop_map(Op::Network),
        1 => Just(Op::Refreshed),
        1 => Just(Op::NotFound),
        1 => Just(Op::Abandon),
        1 => Just(Op::Vanish),
    ]
}

fn rate_limit_headers(reading: Option<(u64, u64, u64)>) -> Vec<(&'static str, String)> {
    match reading {
        Some((limit, remaining, reset)) => vec![
            ("RateLimit-Limit", limit.to_string()),
            ("RateLimit-Remaining", remaining.to_string()),
            ("RateLimit-Reset", reset.to_string()),
        ],
        None => Vec::new(),
    }
}

fn tokens_within_capacity(limits: &Limits, now: Clock) -> Result<(), TestCaseError> {
    if let Some(BudgetState::Quota { tokens, capacity }) = limits.snapshot(now).budget {
        prop_assert!(tokens <= capacity, "{} tokens of {}", tokens, capacity);
    }
    Ok(())
}

/// Runs `ops` over `CALLS` calls; returns the clock at the end and whether
/// any call vanished without abandoning.
fn interleave(
    policy: &Policy,
    limits: &mut Limits,
    ops: &[(usize, Op, u64)],
) -> Result<(Clock, bool), TestCaseError> {
    const CALLS: usize = 6;
    let mut calls: Vec<Option<Call<&Policy>>> = (0..CALLS).map(|_| None).collect();
    let mut now = START;
    let mut vanished = false;
    for (n, (i, op, step)) in ops.iter().enumerate() {
        now = now.advanced(Duration::from_millis(*step));
        let slot = &mut calls[i % CALLS];
        let call = slot.get_or_insert_with(|| Call::new(policy, GET, now, n as u64));
        // A misfit (an answer the call did not ask for) is refused and
        // changes nothing; the properties hold either way.
        let _ = match op {
            Op::Poll => Ok(call.poll(now, Some(limits))),
            Op::Answer(status, reading) => {
                let headers = rate_limit_headers(*reading);
                call.observe(Outcome::response(*status, &headers), now, Some(limits))
                    .map(|e| e.action)
            }
            Op::Network(error) => call
                .observe(Outcome::Network(*error), now, Some(limits))
                .map(|e| e.action),
            Op::Refreshed => call
                .observe(Outcome::Refresh(Refresh::Refreshed), now, Some(limits))
                .map(|e| e.action),
            Op::NotFound => call
                .observe(Outcome::Search(Search::NotFound), now, Some(limits))
                .map(|e| e.action),
            Op::Abandon => {
                call.abandon(limits, now);
                *slot = None;
                Ok(Action::Send { attempt: 0 })
            }
            Op::Vanish => {
                vanished |= call.attempts() > 0;
                *slot = None;
                Ok(Action::Send { attempt: 0 })
            }
        };
        if slot.as_mut().is_some_and(|c| c.poll(now, None).is_final()) {
            *slot = None;
        }
        tokens_within_capacity(limits, now)?;
    }
    for call in calls.iter_mut().flatten() {
        call.abandon(limits, now);
    }
    Ok((now, vanished))
}

/// From `from`, healthy answers only: how long until a new call is let
/// through to send.
fn time_to_first_send(policy: &Policy, limits: &mut Limits, from: Clock) -> Duration {
    let healthy = [
        ("RateLimit-Limit", "1000"),
        ("RateLimit-Remaining", "999"),
        ("RateLimit-Reset", "60"),
    ];
    let mut now = from;
    for seed in 0..10_000 {
        let mut call = Call::new(policy, GET, now, seed);
        loop {
            match call.poll(now, Some(limits)) {
                Action::Send { .. } => {
                    call.observe(Outcome::response(200, &healthy), now, Some(limits))
                        .unwrap();
                    return now.mono - from.mono;
                }
                Action::Sleep(d) => now = now.advanced(d),
                Action::GiveUp(Reason::CircuitOpen { retry_after }) => {
                    now = now.advanced(retry_after.max(Duration::from_millis(1)));
                    break;
                }
                _ => {
                    now = now.advanced(secs(1));
                    break;
                }
            }
        }
    }
    Duration::MAX
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ProptestConfig::default().cases.max(1000)))]

    /// Many calls share one `Limits`; answers include absurd rate-limit
    /// readings, and calls are abandoned or simply dropped at any point.
    /// Afterwards nothing is held, the budget stayed within its capacity,
    /// and a healthy server is reached again in bounded time.
    #[test]
    fn interleaved_calls_leave_nothing_held_and_nothing_wedged(
        spec in strategies::limits(),
        ops in prop::collection::vec((0usize..6, op(), 0u64..20_000), 0..120),
    ) {
        let policy = policy_with(spec);
        let mut limits = Limits::new(&policy);
        let (end, vanished) = interleave(&policy, &mut limits, &ops)?;
        let stale = spec.stale_after;
        if !vanished {
            prop_assert_eq!(limits.snapshot(end).in_flight, 0);
        }
        prop_assert_eq!(limits.snapshot(end.advanced(stale)).in_flight, 0);
        let spec = policy.spec();
        let break_for = spec.limits.breaker.map_or(Duration::ZERO, |b| b.break_for);
        let mut bound = spec.retry_after_cap + spec.limits.reset_jitter + break_for;
        if vanished {
            bound += stale;
        }
        let waited = time_to_first_send(&policy, &mut limits, end);
        prop_assert!(waited <= bound, "a healthy server reached after {:?}, bound {:?}", waited, bound);
        tokens_within_capacity(&limits, end)?;
    }
}

#[test]
fn a_snapshot_reads_without_changing_anything() {
    let policy = policy_with(LimitsSpec {
        breaker: Some(breaker_spec()),
        budget: Some(BudgetSpec::AWS_STANDARD),
        ..LimitsSpec::default()
    });
    let mut limits = Limits::new(&policy);
    let mut call = Call::new(&policy, GET, START, 1);
    call.poll(START, Some(&mut limits));
    let before = limits.clone();
    let snapshot = limits.snapshot(START.advanced(secs(3600)));
    assert_eq!(limits, before);
    assert_eq!(
        snapshot.in_flight, 0,
        "an hour on, the silent send is forgotten"
    );
    assert_eq!(limits.snapshot(START).in_flight, 1);
    assert_eq!(snapshot.breaker, Some(BreakerState::Closed));
    assert_eq!(
        snapshot.budget,
        Some(BudgetState::Quota {
            tokens: 500,
            capacity: 500
        })
    );
    limits.reset();
    assert_eq!(limits.snapshot(START).in_flight, 0);
    // The call's grant belongs to the limits before the reset: giving it
    // back now changes nothing.
    call.abandon(&mut limits, START);
    assert_eq!(limits, {
        let mut fresh = Limits::new(&policy);
        fresh.reset();
        fresh
    });
}

/// A clone of a call holds nothing of what the limits granted the
/// original: abandoning the clone gives nothing back, and the original's
/// send stays counted until the original gives it back.
#[test]
fn a_cloned_call_holds_none_of_the_originals_grant() {
    let policy = policy_with(LimitsSpec::default());
    let mut limits = Limits::new(&policy);
    let mut call = Call::new(&policy, GET, START, 1);
    assert!(matches!(
        call.poll(START, Some(&mut limits)),
        Action::Send { .. }
    ));
    assert_eq!(limits.snapshot(START).in_flight, 1);
    let mut copy = call.clone();
    copy.abandon(&mut limits, START);
    assert_eq!(
        limits.snapshot(START).in_flight,
        1,
        "the clone gave nothing"
    );
    call.abandon(&mut limits, START);
    assert_eq!(limits.snapshot(START).in_flight, 0);
}
