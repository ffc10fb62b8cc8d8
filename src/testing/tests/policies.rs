//! Random valid policies of every shape, requests and limits: the crate's
//! own properties range over them.

use core::time::Duration;

use proptest::prelude::*;

use crate::limits::{BreakerSpec, BudgetSpec, LimitsSpec};
use crate::outcome::{Method, Request};
use crate::policy::{OnConflict, Policy, PolicySpec, RateLimitRule, Rule, StatusRetries};
use crate::schedule::{Jitter, Schedule};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Explicit, exponential (integral and fractional factors), staged and
/// urllib3 schedules.
fn schedule() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        prop::collection::vec(1u64..600_000, 1..6).prop_map(|d| Schedule::Explicit {
            delays: d.into_iter().map(ms).collect()
        }),
        (1u64..10_000, 1.0f64..5.0, 1u64..1_000).prop_map(|(b, f, k)| Schedule::Exponential {
            base: ms(b),
            factor: f.floor().max(1.0) + if k % 2 == 0 { 0.0 } else { f.fract() },
            cap: ms(b.saturating_mul(k))
        }),
        (
            1u64..10_000,
            0u32..8,
            1u64..5_000,
            1u32..5,
            1u64..600_000,
            0u32..5
        )
            .prop_map(
                |(first, n, unit, factor, stage, max_power)| Schedule::Staged {
                    first: ms(first),
                    first_retries: n,
                    unit: ms(unit),
                    factor,
                    stage: ms(stage),
                    max_power,
                }
            ),
        (0u64..10_000, 0u64..600_000).prop_map(|(factor, max)| Schedule::Urllib3 {
            factor: ms(factor),
            max: ms(max),
        }),
    ]
}

/// Every kind of jitter.
fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        (0u64..60_000).prop_map(|max| Jitter::Added { max: ms(max) }),
    ]
}

/// Any per-status rule.
fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        Just(Rule::Succeed),
        Just(Rule::GiveUp),
        Just(Rule::RefreshToken),
        Just(Rule::SearchExisting),
        Just(Rule::RateLimited),
        Just(Rule::RetryAfterOnly),
        (any::<bool>(), 0u32..3, any::<bool>()).prop_map(|(retry_after, extra_steps, throttle)| {
            Rule::Backoff {
                retry_after,
                extra_steps,
                throttle,
            }
        }),
    ]
}

prop_compose! {
    /// Valid policies over every knob; uncounted 429 waits always come with
    /// a deadline (validation demands it).
    pub(super) fn policy()(
        max_retries in prop_oneof![0u32..8, Just(u32::MAX)],
        schedule in schedule(),
        jitter in jitter(),
        deadline in prop::option::of(0u64..7_200_000),
        cap in 1u64..3_600_000,
        floor_pct in 0u64..=100,
        default_pct in 1u64..=100,
        use_reset in any::<bool>(),
        give_up_above in prop::option::of(0u64..600_000),
        counts in any::<bool>(),
        on_conflict in prop_oneof![Just(OnConflict::ReturnExisting), Just(OnConflict::Update), Just(OnConflict::GiveUp)],
        retry_network_errors in any::<bool>(),
        overrides in prop::collection::btree_map(100u16..600, rule(), 0..4),
        other_server_errors in rule(),
        limits in limits(),
        idempotent_only in any::<bool>(),
        max_retry_time in prop::option::of(0u64..3_600_000),
        code_rules in prop::collection::btree_map(
            prop::sample::select(&["Throttling", "Busy", "Gone"][..]),
            rule(),
            0..3,
        ),
    ) -> Policy {
        // Without a deadline, uncounted 429 waits are refused by validation,
        // so such draws get a deadline instead of being thrown away.
        let deadline = match (counts, deadline) {
            (false, None) => Some(ms(3_600_000)),
            (_, d) => d.map(ms),
        };
        let spec = PolicySpec {
            max_retries,
            schedule,
            jitter,
            deadline,
            max_retry_time: max_retry_time.map(ms),
            attempt_timeout: None,
            retry_after_cap: ms(cap),
            min_server_wait: ms(cap * floor_pct / 100),
            rate_limit: RateLimitRule {
                default_wait: ms((cap * default_pct / 100).max(1)),
                use_reset,
                give_up_above: give_up_above.map(ms),
                counts_as_retry: counts,
            },
            on_conflict,
            retry_network_errors,
            status_retries: if idempotent_only { StatusRetries::IdempotentOnly } else { StatusRetries::All },
            statuses: overrides.into_iter().collect(),
            codes: code_rules.into_iter().map(|(code, rule)| (code.to_owned(), rule)).collect(),
            code_header: Some("X-Error-Code".to_owned()),
            other_server_errors,
            pressure: Default::default(),
            limits,
        };
        Policy::new(spec).expect("the strategy builds valid policies")
    }
}

/// Any method, with or without external id and idempotency key.
pub(super) fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![
            Just(Method::Get),
            Just(Method::Put),
            Just(Method::Post),
            Just(Method::Patch),
            Just(Method::Other)
        ],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(m, external_id, idempotency_key)| Request {
            method: m,
            external_id,
            idempotency_key,
        })
}

/// Retry budgets in both modes, with valid numbers.
fn budget() -> impl Strategy<Value = BudgetSpec> {
    prop_oneof![
        (1u32..1000, 0u32..20, 0u32..40, 0u32..5).prop_map(
            |(capacity, retry_cost, timeout_cost, success_credit)| {
                BudgetSpec::Quota {
                    capacity,
                    retry_cost,
                    timeout_cost,
                    success_credit,
                }
            }
        ),
        (0u32..20_000, 1u64..120_000, 0u32..5).prop_map(
            |(basis_points, window, min_per_second)| {
                BudgetSpec::Percentage {
                    basis_points,
                    window: ms(window),
                    min_per_second,
                }
            }
        ),
    ]
}

/// Circuit breakers with valid numbers.
fn breaker() -> impl Strategy<Value = BreakerSpec> {
    (1u32..=100, 1u64..120_000, 0u32..20, 1u64..120_000, 1u32..5).prop_map(
        |(pct, window, min_outcomes, break_for, probes)| BreakerSpec {
            failure_ratio: f64::from(pct) / 100.0,
            window: ms(window),
            min_outcomes,
            break_for: ms(break_for),
            probes,
        },
    )
}

/// Limits with and without pacing, adaptive rate, budget and breaker.
pub(super) fn limits() -> impl Strategy<Value = LimitsSpec> {
    (
        (any::<bool>(), any::<bool>()),
        0u64..5_000,
        prop::option::of(budget()),
        prop::option::of(breaker()),
        any::<bool>(),
        1u64..120_000,
    )
        .prop_map(
            |((pacing, adaptive), jitter, budget, breaker, charge_uncounted_waits, stale)| {
                LimitsSpec {
                    pacing,
                    reset_jitter: ms(jitter),
                    adaptive,
                    // Zero (AWS's) to the whole of `stale_after`.
                    throttle_gap: ms(jitter.min(stale)),
                    adaptive_burst: ms(jitter),
                    budget,
                    breaker,
                    charge_uncounted_waits,
                    stale_after: ms(stale),
                }
            },
        )
}
