//! Many calls sharing one `Limits`, with cancellations and vanished calls
//! mixed in: nothing stays held and nothing wedges.

use core::time::Duration;

use proptest::prelude::*;

use super::policies;
use crate::action::{Action, Reason};
use crate::call::Call;
use crate::limits::{BudgetState, Limits, LimitsSpec};
use crate::outcome::{Clock, Method, NetworkError, Outcome, Refresh, Request, Search};
use crate::policy::{Policy, PolicySpec};
use crate::testing::strategies;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
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
        spec in policies::limits(),
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
