//! Shared limits under hostile conditions: calls that are dropped without
//! reporting, headers that announce absurd windows, policies that redefine
//! failure. One test per fault found in review; each failed before the fix.

use std::time::Duration;

use steadfast::limits::{BreakerSpec, BudgetSpec};
use steadfast::{
    Action, Call, Clock, Limits, Method, Outcome, Policy, PolicySpec, RateLimitRule, Reason,
    Request, Rule,
};

const START: Clock = Clock::new(Duration::ZERO, Duration::from_secs(1_800_000_000));
const GET: Request = Request::new(Method::Get);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn at(s: Duration) -> Clock {
    START.advanced(s)
}

fn policy(f: impl FnOnce(&mut PolicySpec)) -> Policy {
    let mut spec = PolicySpec::default();
    f(&mut spec);
    Policy::new(spec).unwrap()
}

fn breaker() -> BreakerSpec {
    BreakerSpec {
        failure_ratio: 0.5,
        window: secs(60),
        min_outcomes: 4,
        break_for: secs(30),
        probes: 1,
    }
}

fn with_breaker(statuses: &[(u16, Rule)]) -> Policy {
    policy(|s| {
        s.limits.breaker = Some(breaker());
        s.statuses = statuses.iter().copied().collect();
    })
}

/// One call: admitted at `clock`, then answered with `status` and `headers`.
fn one_send(
    policy: &Policy,
    limits: &mut Limits,
    clock: Clock,
    status: u16,
    headers: &[(&str, &str)],
) -> Action {
    let mut call = Call::new(policy, GET, clock, 1);
    let action = call.poll(clock, Some(limits));
    assert!(matches!(action, Action::Send { .. }), "{action:?}");
    call.observe(
        Outcome::response(status, &headers.to_vec()),
        clock,
        Some(limits),
    )
    .unwrap()
    .action
}

fn first_poll(policy: &Policy, limits: &mut Limits, clock: Clock) -> Action {
    Call::new(policy, GET, clock, 7).poll(clock, Some(limits))
}

#[test]
fn a_probe_whose_call_is_dropped_does_not_wedge_the_breaker() {
    let policy = with_breaker(&[]);
    let mut limits = Limits::new(&policy);
    for _ in 0..4 {
        one_send(&policy, &mut limits, START, 503, &[]);
    }
    let open = first_poll(&policy, &mut limits, START);
    assert!(matches!(open, Action::GiveUp(Reason::CircuitOpen { .. })));
    // The one probe slot goes to a call that is then dropped unreported.
    let probe = first_poll(&policy, &mut limits, at(secs(31)));
    assert_eq!(probe, Action::Send { attempt: 1 });
    assert_eq!(
        first_poll(&policy, &mut limits, at(30 * DAY)),
        Action::Send { attempt: 1 },
        "a month later the API is called again"
    );
}

#[test]
fn an_abandoned_probe_gives_its_slot_back_at_once() {
    let policy = with_breaker(&[]);
    let mut limits = Limits::new(&policy);
    for _ in 0..4 {
        one_send(&policy, &mut limits, START, 503, &[]);
    }
    let mut probe = Call::new(&policy, GET, at(secs(31)), 1);
    assert_eq!(
        probe.poll(at(secs(31)), Some(&mut limits)),
        Action::Send { attempt: 1 }
    );
    probe.abandon(&mut limits, at(secs(31)));
    assert_eq!(
        first_poll(&policy, &mut limits, at(secs(31))),
        Action::Send { attempt: 1 }
    );
}

/// A dialect that gives no reset: `RateLimit-Limit` and `-Remaining` only.
const NO_RESET: [(&str, &str); 2] = [("RateLimit-Limit", "20"), ("RateLimit-Remaining", "19")];

#[test]
fn sends_admitted_but_never_reported_age_out() {
    let policy = policy(|_| {});
    let mut limits = Limits::new(&policy);
    one_send(&policy, &mut limits, START, 200, &NO_RESET);
    // 19 calls admitted and dropped mid-send, never observed.
    for _ in 0..19 {
        let action = first_poll(&policy, &mut limits, START);
        assert_eq!(action, Action::Send { attempt: 1 });
    }
    // An hour later the server still says 19 of 20 are left: nobody waits.
    let later = at(secs(3600));
    for i in 0..20 {
        let clock = later.advanced(Duration::from_millis(i));
        let mut call = Call::new(&policy, GET, clock, i);
        assert_eq!(
            call.poll(clock, Some(&mut limits)),
            Action::Send { attempt: 1 },
            "call {i}"
        );
        call.observe(Outcome::response(200, &NO_RESET), clock, Some(&mut limits))
            .unwrap();
    }
}

#[test]
fn abandoned_sends_give_their_place_back_at_once() {
    let policy = policy(|_| {});
    let mut limits = Limits::new(&policy);
    one_send(&policy, &mut limits, START, 200, &NO_RESET);
    for _ in 0..19 {
        let mut call = Call::new(&policy, GET, START, 1);
        assert_eq!(
            call.poll(START, Some(&mut limits)),
            Action::Send { attempt: 1 }
        );
        call.abandon(&mut limits, START);
    }
    assert_eq!(limits.snapshot(START).in_flight, 0);
    for _ in 0..5 {
        assert_eq!(
            one_send(&policy, &mut limits, START, 200, &NO_RESET),
            Action::Done(steadfast::Completion::Success(200))
        );
    }
}

const POISON: [(&str, &str); 3] = [
    ("RateLimit-Limit", "100"),
    ("RateLimit-Remaining", "0"),
    ("RateLimit-Reset", "999999999"),
];
const HEALTHY: [(&str, &str); 3] = [
    ("RateLimit-Limit", "100"),
    ("RateLimit-Remaining", "99"),
    ("RateLimit-Reset", "60"),
];

#[test]
fn an_absurd_reset_holds_calls_for_at_most_the_cap_from_when_it_was_read() {
    let policy = policy(|s| s.limits.reset_jitter = Duration::ZERO);
    let cap = policy.spec().retry_after_cap;
    let mut limits = Limits::new(&policy);
    one_send(&policy, &mut limits, START, 200, &POISON);
    assert_eq!(first_poll(&policy, &mut limits, START), Action::Sleep(cap));
    assert_eq!(
        first_poll(&policy, &mut limits, at(cap)),
        Action::Send { attempt: 1 },
        "the stored window ended {cap:?} after it was read"
    );
}

#[test]
fn a_fresher_reading_replaces_a_poisoned_window() {
    let policy = policy(|s| s.limits.reset_jitter = Duration::ZERO);
    let mut limits = Limits::new(&policy);
    // Two calls in flight together; the first answer is poison, the later
    // one healthy and for another window.
    let mut a = Call::new(&policy, GET, START, 1);
    let mut b = Call::new(&policy, GET, START, 2);
    a.poll(START, Some(&mut limits));
    b.poll(START, Some(&mut limits));
    b.observe(Outcome::response(200, &POISON), START, Some(&mut limits))
        .unwrap();
    let later = at(secs(1));
    a.observe(Outcome::response(200, &HEALTHY), later, Some(&mut limits))
        .unwrap();
    assert_eq!(
        first_poll(&policy, &mut limits, later),
        Action::Send { attempt: 1 }
    );
}

/// Whether six calls answered `status` open the breaker.
fn opens(policy: &Policy, status: u16) -> bool {
    let mut limits = Limits::new(policy);
    (0..=6).any(|_| {
        let mut call = Call::new(policy, GET, START, 1);
        match call.poll(START, Some(&mut limits)) {
            Action::GiveUp(Reason::CircuitOpen { .. }) => true,
            _ => {
                call.observe(Outcome::status(status), START, Some(&mut limits))
                    .unwrap();
                false
            }
        }
    })
}

#[test]
fn the_breaker_counts_failures_as_the_policy_defines_them() {
    let backoff = Rule::Backoff {
        retry_after: false,
        extra_steps: 0,
        throttle: false,
    };
    assert!(opens(&with_breaker(&[]), 500), "the table's 500 fails");
    assert!(
        !opens(&with_breaker(&[(500, Rule::Succeed)]), 500),
        "a 500 the policy calls success"
    );
    assert!(
        !opens(&with_breaker(&[(503, Rule::GiveUp)]), 503),
        "a 503 the policy will not retry"
    );
    assert!(
        opens(&with_breaker(&[(400, backoff)]), 400),
        "a 400 the policy retries"
    );
}

#[test]
fn a_refused_retry_leaves_the_counters_as_they_were() {
    let policy = policy(|s| {
        s.limits.budget = Some(BudgetSpec::Quota {
            capacity: 5,
            retry_cost: 5,
            timeout_cost: 5,
            success_credit: 1,
        })
    });
    let mut limits = Limits::new(&policy);
    assert_eq!(
        one_send(&policy, &mut limits, START, 503, &[]),
        Action::Sleep(secs(3))
    );
    let mut call = Call::new(&policy, GET, START, 1);
    call.poll(START, Some(&mut limits));
    let event = *call
        .observe(Outcome::status(503), START, Some(&mut limits))
        .unwrap();
    assert_eq!(event.action, Action::GiveUp(Reason::BudgetExhausted));
    assert_eq!((call.attempts(), call.retries()), (1, 0));
}

fn budgeted_429s(charge_uncounted: bool) -> Vec<Action> {
    let policy = policy(|s| {
        s.deadline = Some(secs(3600));
        s.rate_limit = RateLimitRule {
            counts_as_retry: false,
            ..RateLimitRule::default()
        };
        s.limits.budget = Some(BudgetSpec::Quota {
            capacity: 10,
            retry_cost: 5,
            timeout_cost: 10,
            success_credit: 1,
        });
        s.limits.charge_uncounted_waits = charge_uncounted;
    });
    let mut limits = Limits::new(&policy);
    let mut call = Call::new(&policy, GET, START, 1);
    let mut clock = START;
    let mut seen = Vec::new();
    for _ in 0..4 {
        match call.poll(clock, Some(&mut limits)) {
            Action::Send { .. } => {}
            other => {
                seen.push(other);
                break;
            }
        }
        let e = call
            .observe(
                Outcome::response(429, &[("Retry-After", "2")]),
                clock,
                Some(&mut limits),
            )
            .unwrap();
        seen.push(e.action);
        if matches!(e.action, Action::Done(_) | Action::GiveUp(_)) {
            break;
        }
        clock = clock.advanced(secs(2));
    }
    seen
}

#[test]
fn uncounted_rate_limit_waits_are_not_charged_unless_the_policy_says_so() {
    assert_eq!(budgeted_429s(false), vec![Action::Sleep(secs(2)); 4]);
    assert_eq!(
        budgeted_429s(true),
        [
            vec![Action::Sleep(secs(2)); 2],
            vec![Action::GiveUp(Reason::BudgetExhausted)]
        ]
        .concat()
    );
}
