//! Cross-call limits: the tracker, the budget and the breaker on their own
//! (tables), through calls (`poll_with` / `observe_with`), and the four
//! properties the issue names.

use std::time::Duration;

use proptest::prelude::*;
use steadfast::limits::{
    Admit, BreakerSpec, BreakerState, BudgetSpec, CircuitBreaker, RateTracker, RetryBudget,
};
use steadfast::schedule::Rng;
use steadfast::testing::strategies;
use steadfast::{
    Action, Basis, Call, Clock, Limits, LimitsSpec, Method, Observed, Outcome, Policy, PolicySpec,
    Pressure, PressureThresholds, RateLimit, Reason, Request,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn reading(limit: u64, remaining: u64, reset: u64) -> RateLimit {
    RateLimit {
        limit: Some(limit),
        remaining: Some(remaining),
        reset: Some(secs(reset)),
        pressure: None,
    }
}

#[test]
fn tracker_pressure_and_pacing() {
    let mut rng = Rng::with_seed(1);
    let mut t = RateTracker::new(PressureThresholds::default());
    assert_eq!(
        t.admit(secs(0), Duration::ZERO, &mut rng),
        Admit::Go,
        "nothing known"
    );
    t.observe(&reading(100, 50, 60), secs(0));
    assert_eq!(t.pressure(secs(0)), Some(Pressure::Normal));
    t.observe(&reading(100, 10, 60), secs(0));
    assert_eq!(t.pressure(secs(0)), Some(Pressure::Warning));
    // A later response of the same window reporting more left is stale.
    t.observe(&reading(100, 30, 60), secs(0));
    assert_eq!(t.pressure(secs(0)), Some(Pressure::Warning));
    // Critical: 4 left over 60 s -> one send every 15 s.
    t.observe(&reading(100, 4, 60), secs(0));
    assert_eq!(t.pressure(secs(0)), Some(Pressure::Critical));
    assert_eq!(t.admit(secs(0), Duration::ZERO, &mut rng), Admit::Go);
    assert_eq!(
        t.admit(secs(1), Duration::ZERO, &mut rng),
        Admit::Wait(secs(14), Pressure::Critical)
    );
    assert_eq!(t.admit(secs(15), Duration::ZERO, &mut rng), Admit::Go);
    // Exhausted: wait for the reset, plus at most the jitter.
    t.observe(&reading(100, 0, 45), secs(15));
    match t.admit(secs(15), secs(2), &mut rng) {
        Admit::Wait(d, Pressure::Exhausted) => assert!(d >= secs(45) && d <= secs(47), "{d:?}"),
        other => panic!("{other:?}"),
    }
    // Once the window has reset, a fresh one holds the whole limit.
    assert_eq!(t.pressure(secs(60)), Some(Pressure::Normal));
    assert_eq!(t.reset_in(secs(60)), None);
    // Sends use it up; with the end of the new window unknown, the next
    // send waits for an answer (at most a second), then probes.
    for _ in 0..100 {
        assert_eq!(t.admit(secs(60), secs(2), &mut rng), Admit::Go);
    }
    assert_eq!(
        t.admit(secs(60), secs(2), &mut rng),
        Admit::Wait(secs(1), Pressure::Exhausted)
    );
    assert_eq!(t.admit(secs(61), secs(2), &mut rng), Admit::Go);
}

#[test]
fn aws_quota_arithmetic() {
    let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
    assert_eq!(b.tokens(), 500);
    assert_eq!(b.withdraw(secs(0), false), Some(5));
    assert_eq!(b.withdraw(secs(0), true), Some(10));
    assert_eq!(b.tokens(), 485);
    b.deposit(Some(10));
    assert_eq!(b.tokens(), 495);
    b.deposit(None);
    b.deposit(None);
    assert_eq!(b.tokens(), 497);
    for _ in 0..10 {
        b.deposit(None);
    }
    assert_eq!(b.tokens(), 500, "never above capacity");
    let mut drained = RetryBudget::new(BudgetSpec::AWS_STANDARD);
    let retries = (0..1000)
        .filter(|_| drained.withdraw(secs(0), false).is_some())
        .count();
    assert_eq!(retries, 100);
    assert_eq!(drained.withdraw(secs(0), false), None);
}

#[test]
fn percentage_budget_is_exact_for_fractional_percentages() {
    // 12.5 % of 80 requests = exactly 10 retries, no minimum.
    let spec = BudgetSpec::Percentage {
        basis_points: 1250,
        window: secs(10),
        min_per_second: 0,
    };
    let mut b = RetryBudget::new(spec);
    for _ in 0..80 {
        b.on_request(secs(1));
    }
    let allowed = (0..100)
        .filter(|_| b.withdraw(secs(1), false).is_some())
        .count();
    assert_eq!(allowed, 10);
    // Once the window has passed, the counts are gone.
    let allowed = (0..100)
        .filter(|_| b.withdraw(secs(30), false).is_some())
        .count();
    assert_eq!(allowed, 0);
    // A minimum of 1 per second over a 10 s window: 10 retries, no traffic.
    let mut floor = RetryBudget::new(BudgetSpec::Percentage {
        basis_points: 0,
        window: secs(10),
        min_per_second: 1,
    });
    assert_eq!(
        (0..100)
            .filter(|_| floor.withdraw(secs(5), false).is_some())
            .count(),
        10
    );
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

#[test]
fn breaker_opens_probes_and_closes() {
    let mut b = CircuitBreaker::new(breaker_spec());
    for ok in [true, false, false] {
        assert_eq!(b.admit(secs(1)), Ok(()));
        b.record(secs(1), ok);
    }
    assert!(!b.is_open(secs(1)), "3 outcomes are below the minimum");
    b.record(secs(2), false);
    assert_eq!(b.admit(secs(2)), Err(secs(30)), "3 of 4 failed");
    assert_eq!(b.admit(secs(20)), Err(secs(12)));
    // Half-open: two probes, no third.
    assert_eq!(b.admit(secs(32)), Ok(()));
    assert_eq!(b.admit(secs(32)), Ok(()));
    assert!(b.admit(secs(32)).is_err());
    b.record(secs(33), true);
    b.record(secs(33), true);
    assert_eq!(
        b.admit(secs(33)),
        Ok(()),
        "closed after both probes succeeded"
    );
    // A failed probe reopens it.
    let mut b = CircuitBreaker::new(breaker_spec());
    for _ in 0..4 {
        b.record(secs(1), false);
    }
    assert_eq!(b.admit(secs(31)), Ok(()));
    b.record(secs(31), false);
    assert_eq!(b.admit(secs(31)), Err(secs(30)));
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
        first.poll_with(limits, START),
        Action::Send { .. }
    ));
    first
        .observe_with(limits, Outcome::response(200, &headers.to_vec()), START)
        .unwrap();
    let mut second = Call::new(policy, GET, START, 2);
    let action = second.poll_with(limits, START);
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
        second.poll_with(&mut limits, START.advanced(secs(20))),
        Action::Send { attempt: 1 }
    );
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
        call.poll_with(&mut limits, START);
        let e = *call
            .observe_with(&mut limits, Outcome::status(503), START)
            .unwrap();
        ends.push(e.action);
    }
    assert_eq!(ends[..2], [Action::Sleep(secs(3)), Action::Sleep(secs(3))]);
    assert_eq!(ends[2], Action::GiveUp(Reason::BudgetExhausted));
}

#[test]
fn an_open_breaker_fails_calls_at_once() {
    let policy = policy_with(LimitsSpec {
        breaker: Some(breaker_spec()),
        ..LimitsSpec::default()
    });
    let mut limits = Limits::new(&policy);
    for seed in 0..4 {
        let mut call = Call::new(&policy, GET, START, seed);
        call.poll_with(&mut limits, START);
        call.observe_with(&mut limits, Outcome::status(503), START)
            .unwrap();
    }
    let mut call = Call::new(&policy, GET, START, 9);
    assert_eq!(
        call.poll_with(&mut limits, START),
        Action::GiveUp(Reason::CircuitOpen {
            retry_after: secs(30)
        })
    );
}

proptest! {
    // 1,000 cases, or more when PROPTEST_CASES asks for more (a long hunt).
    #![proptest_config(ProptestConfig::with_cases(ProptestConfig::default().cases.max(1000)))]

    #[test]
    fn the_budget_never_goes_negative_or_over_capacity(
        spec in strategies::budget(),
        ops in prop::collection::vec((0u8..4, 0u64..120_000, any::<bool>()), 0..200),
    ) {
        let mut b = RetryBudget::new(spec);
        let cap = match spec { BudgetSpec::Quota { capacity, .. } => capacity, BudgetSpec::Percentage { .. } => 0 };
        for (op, at, timeout) in ops {
            let now = Duration::from_millis(at);
            let before = b.tokens();
            match op {
                0 => b.on_request(now),
                1 => { if let Some(cost) = b.withdraw(now, timeout) { prop_assert!(cost <= before); } }
                2 => b.deposit(None),
                _ => b.deposit(Some(7)),
            }
            prop_assert!(b.tokens() <= cap);
        }
    }

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
                match call.poll_with(&mut limits, clock) {
                    Action::Send { attempt } => {
                        retries += u32::from(attempt > 1);
                        call.observe_with(&mut limits, Outcome::status(503), clock).unwrap();
                    }
                    Action::Sleep(d) => clock = clock.advanced(d),
                    _ => break,
                }
            }
        }
        prop_assert!(retries <= capacity / cost, "{} retries, budget {}", retries, capacity / cost);
    }

    #[test]
    fn no_send_while_exhausted_before_the_reset(
        readings in prop::collection::vec((0u64..50, 0u64..20, 0u64..120, 0u64..30_000), 1..40),
        jitter in 0u64..2_000,
    ) {
        let mut rng = Rng::with_seed(3);
        let mut t = RateTracker::new(PressureThresholds::default());
        let mut now = Duration::ZERO;
        let mut exhausted_until: Option<Duration> = None;
        for (limit, remaining, reset, step) in readings {
            now += Duration::from_millis(step);
            if let Admit::Go = t.admit(now, Duration::from_millis(jitter), &mut rng) {
                if let Some(until) = exhausted_until {
                    prop_assert!(now >= until, "sent at {:?} before the reset at {:?}", now, until);
                }
            }
            let r = reading(limit.max(remaining), remaining, reset);
            t.observe(&r, now);
            exhausted_until = (remaining == 0).then(|| now + secs(reset));
        }
    }

    #[test]
    fn half_open_lets_through_at_most_the_probes(
        spec in strategies::breaker(),
        events in prop::collection::vec((any::<bool>(), any::<bool>(), 0u64..10_000), 0..200),
    ) {
        let mut b = CircuitBreaker::new(spec);
        let mut now = Duration::ZERO;
        // Sends let through in the current half-open episode.
        let mut probes = 0u32;
        for (admit, ok, step) in events {
            now += Duration::from_millis(step);
            match b.state(now) {
                BreakerState::HalfOpen { .. } => {}
                _ => probes = 0,
            }
            if admit {
                let half_open = matches!(b.state(now), BreakerState::HalfOpen { .. });
                if b.admit(now).is_ok() && half_open {
                    probes += 1;
                    prop_assert!(probes <= spec.probes, "{} probes, {} allowed", probes, spec.probes);
                }
            } else {
                b.record(now, ok);
                // A failed probe reopens it: the next half-open starts over.
                if !matches!(b.state(now), BreakerState::HalfOpen { .. }) {
                    probes = 0;
                }
            }
        }
    }
}

#[test]
fn a_cancelled_admission_gives_its_place_back_and_resets_clear_leaks() {
    let mut rng = Rng::with_seed(1);
    let mut t = RateTracker::new(PressureThresholds::default());
    t.observe(&reading(10, 1, 5), secs(0));
    assert_eq!(t.admit(secs(0), Duration::ZERO, &mut rng), Admit::Go);
    assert_eq!(t.pressure(secs(0)), Some(Pressure::Exhausted));
    t.cancel();
    assert_eq!(
        t.admit(secs(0), Duration::ZERO, &mut rng),
        Admit::Go,
        "the place came back"
    );
    // A send that never lands is forgotten when the window resets: the new
    // window's first reading is not lowered by it.
    t.landed(Some(&reading(10, 9, 5)), secs(6));
    assert_eq!(t.pressure(secs(6)), Some(Pressure::Normal));
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
