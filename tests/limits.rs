//! Cross-call limits through calls (`poll` / `observe` with limits /
//! `abandon`): pacing, the budget and the breaker as calls meet them. The
//! tracker, budget and breaker on their own are tested in their modules;
//! many calls sharing one `Limits` with cancellations and vanished calls
//! mixed in, in the testing kit's own properties.

use std::time::Duration;

use proptest::prelude::*;
use steadfast::limits::{BreakerSpec, BreakerState, BudgetSpec, BudgetState};
use steadfast::{
    Action, Basis, Call, Clock, Limits, LimitsSpec, Method, NetworkError, Observed, Outcome,
    Policy, PolicySpec, Pressure, Reason, Request,
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
