//! Policy validation (every nonsense config named), presets, serde.

use std::collections::BTreeMap;
use std::time::Duration;

use steadfast::limits::{BreakerSpec, BudgetSpec};
use steadfast::{Jitter, Policy, PolicyError, PolicySpec, PressureThresholds, Rule, Schedule};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn with(f: impl FnOnce(&mut PolicySpec)) -> Result<Policy, PolicyError> {
    let mut spec = PolicySpec::default();
    f(&mut spec);
    Policy::new(spec)
}

/// A breaker that can open and close: the limits rows change one field.
fn breaker() -> BreakerSpec {
    BreakerSpec {
        failure_ratio: 0.5,
        window: secs(10),
        min_outcomes: 20,
        break_for: secs(30),
        probes: 2,
    }
}

fn exp(base: u64, factor: f64, cap: u64) -> Schedule {
    Schedule::Exponential {
        base: secs(base),
        factor,
        cap: secs(cap),
    }
}

#[test]
fn nonsense_is_rejected_with_the_field_named() {
    type Mutation = Box<dyn FnOnce(&mut PolicySpec)>;
    let rule = |status| BTreeMap::from([(status, Rule::GiveUp)]);
    let codes = |codes: &[&str]| {
        codes
            .iter()
            .map(|&c| (c.to_owned(), Rule::GiveUp))
            .collect::<BTreeMap<_, _>>()
    };
    let rows: Vec<(Mutation, PolicyError, &str)> = vec![
        (
            Box::new(|s| s.schedule = Schedule::Explicit { delays: vec![] }),
            PolicyError::EmptySchedule,
            "schedule.delays",
        ),
        (
            Box::new(|s| s.schedule = exp(3, 0.5, 300)),
            PolicyError::FactorBelowOne { factor: 0.5 },
            "schedule.factor",
        ),
        (
            Box::new(|s| s.schedule = exp(3, -2.0, 300)),
            PolicyError::FactorBelowOne { factor: -2.0 },
            "schedule.factor",
        ),
        (
            Box::new(|s| s.schedule = exp(3, f64::INFINITY, 300)),
            PolicyError::FactorBelowOne {
                factor: f64::INFINITY,
            },
            "schedule.factor",
        ),
        (
            Box::new(|s| s.schedule = exp(30, 2.0, 10)),
            PolicyError::CapBelowBase {
                base: secs(30),
                cap: secs(10),
            },
            "schedule.cap",
        ),
        (
            Box::new(|s| {
                s.schedule = Schedule::Staged {
                    first: secs(3),
                    first_retries: 5,
                    unit: secs(1),
                    factor: 3,
                    stage: Duration::ZERO,
                    max_power: 3,
                }
            }),
            PolicyError::ZeroStage,
            "schedule.stage",
        ),
        (
            Box::new(|s| s.retry_after_cap = Duration::ZERO),
            PolicyError::ZeroCap,
            "retry_after_cap",
        ),
        (
            Box::new(|s| s.min_server_wait = secs(301)),
            PolicyError::FloorAboveCap {
                min: secs(301),
                cap: secs(300),
            },
            "min_server_wait",
        ),
        (
            Box::new(|s| s.rate_limit.default_wait = Duration::ZERO),
            PolicyError::BadRateLimitDefault {
                wait: Duration::ZERO,
                cap: secs(300),
            },
            "rate_limit.default_wait",
        ),
        (
            Box::new(|s| s.rate_limit.default_wait = secs(3600)),
            PolicyError::BadRateLimitDefault {
                wait: secs(3600),
                cap: secs(300),
            },
            "rate_limit.default_wait",
        ),
        (
            Box::new(|s| {
                s.rate_limit.counts_as_retry = false;
                s.deadline = None;
            }),
            PolicyError::UnboundedRateLimitWaits,
            "rate_limit.counts_as_retry",
        ),
        (
            Box::new(move |s| s.statuses = rule(99)),
            PolicyError::InvalidStatus { status: 99 },
            "statuses",
        ),
        (
            Box::new(move |s| s.statuses = rule(600)),
            PolicyError::InvalidStatus { status: 600 },
            "statuses",
        ),
        (
            Box::new(move |s| s.codes = codes(&["Busy", "", "Slow"])),
            PolicyError::EmptyCode,
            "codes",
        ),
        (
            Box::new(|s| s.code_header = Some(String::new())),
            PolicyError::EmptyCodeHeader,
            "code_header",
        ),
        (
            Box::new(|s| {
                s.pressure = PressureThresholds {
                    warning: 0.05,
                    critical: 0.2,
                }
            }),
            PolicyError::BadPressure {
                critical: 0.2,
                warning: 0.05,
            },
            "pressure",
        ),
        (
            Box::new(|s| s.pressure.warning = f64::NAN),
            PolicyError::BadPressure {
                critical: 0.05,
                warning: f64::NAN,
            },
            "pressure",
        ),
        (
            Box::new(|s| s.limits.stale_after = Duration::ZERO),
            PolicyError::ZeroStaleAfter,
            "limits.stale_after",
        ),
        (
            Box::new(|s| {
                s.limits.budget = Some(BudgetSpec::Quota {
                    capacity: 0,
                    retry_cost: 5,
                    timeout_cost: 10,
                    success_credit: 1,
                })
            }),
            PolicyError::BadBudget("quota capacity is zero"),
            "limits.budget",
        ),
        (
            Box::new(|s| {
                s.limits.budget = Some(BudgetSpec::Percentage {
                    basis_points: 2000,
                    window: Duration::ZERO,
                    min_per_second: 1,
                })
            }),
            PolicyError::BadBudget("percentage window is zero"),
            "limits.budget",
        ),
    ];
    let ratio = PolicyError::BadBreaker("failure_ratio must be in (0, 1]");
    let spans = PolicyError::BadBreaker("window and break_for must be above zero");
    let probes = PolicyError::BadBreaker("probes must be at least 1");
    type Row<'a> = (fn(&mut BreakerSpec), Option<&'a PolicyError>);
    let breakers: [Row; 7] = [
        (|b| b.failure_ratio = 0.0, Some(&ratio)),
        (|b| b.failure_ratio = 1.01, Some(&ratio)),
        (|b| b.failure_ratio = f64::NAN, Some(&ratio)),
        (|b| b.window = Duration::ZERO, Some(&spans)),
        (|b| b.break_for = Duration::ZERO, Some(&spans)),
        (|b| b.probes = 0, Some(&probes)),
        // The edge that is allowed: a breaker opening only on all failures.
        (|b| b.failure_ratio = 1.0, None),
    ];
    for (change, want) in breakers {
        let mut spec = breaker();
        change(&mut spec);
        let got = with(|s| s.limits.breaker = Some(spec));
        assert_eq!(got.as_ref().err(), want, "{spec:?}");
    }
    for (mutate, want, field) in rows {
        let got = with(mutate).unwrap_err();
        // NaN != NaN, so compare the message, which also names the field.
        assert_eq!(got.to_string(), want.to_string());
        assert!(got.to_string().contains(field), "{got} names {field}");
    }
}

#[test]
fn presets_are_valid_and_the_default_is_the_guide() {
    for preset in [Policy::seed_guide(), Policy::genesys_sdk()] {
        assert_eq!(Policy::new(preset.spec().clone()), Ok(preset));
    }
    assert_eq!(Policy::new(PolicySpec::default()), Ok(Policy::seed_guide()));
    let guide = Policy::seed_guide();
    assert_eq!(guide.spec().max_retries, 4);
    assert_eq!(guide.spec().schedule, Schedule::seed_guide());
    assert_eq!(guide.max_sleep(), secs(300));
    assert_eq!(Policy::genesys_sdk().max_sleep(), secs(180));
}

#[test]
fn extreme_but_meaningful_policies_are_accepted() {
    let ok = [
        with(|s| s.max_retries = u32::MAX),
        with(|s| s.max_retries = 0),
        with(|s| s.schedule = exp(1, 1.0, 1)),
        with(|s| s.schedule = exp(1, 1e300, u64::MAX)),
        with(|s| s.retry_after_cap = Duration::MAX),
        with(|s| s.deadline = Some(Duration::ZERO)),
        with(|s| s.jitter = Jitter::Decorrelated),
        // Zero delays retry at once (urllib3's default), bounded by max_retries.
        with(|s| s.schedule = exp(0, 2.0, 0)),
        with(|s| {
            s.schedule = Schedule::Explicit {
                delays: vec![Duration::ZERO],
            }
        }),
    ];
    for p in ok {
        assert!(p.is_ok(), "{p:?}");
    }
}

#[test]
fn policies_round_trip_through_json_with_readable_durations() {
    for preset in [
        Policy::seed_guide(),
        Policy::genesys_sdk(),
        Policy::aws_standard(),
    ] {
        let json = serde_json::to_string_pretty(&preset).unwrap();
        let back: Policy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, preset);
    }
    let json = serde_json::to_value(Policy::seed_guide()).unwrap();
    assert_eq!(json["schedule"]["delays"][3], "5m");
    assert_eq!(json["rate_limit"]["default_wait"], "1m");
    // Overrides are keyed by what they override.
    let aws = serde_json::to_value(Policy::aws_standard()).unwrap();
    assert_eq!(aws["statuses"]["409"]["kind"], "give_up");
    assert_eq!(aws["codes"]["ThrottlingException"]["kind"], "backoff");
    let p: Policy = serde_json::from_str(r#"{"statuses": {"404": {"kind": "succeed"}}}"#).unwrap();
    assert_eq!(p.spec().statuses.get(&404), Some(&Rule::Succeed));

    // A factor written with more digits than an f64 holds must still read
    // back as the same number once written out (found by the policy_json
    // fuzz target; needs serde_json's float_roundtrip).
    let long =
        std::fs::read_to_string("fuzz/corpus/policy_json/regress-float-roundtrip.json").unwrap();
    let p: Policy = serde_json::from_str(&long).unwrap();
    let back: Policy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn a_policy_file_is_validated_and_partial_files_take_defaults() {
    let p: Policy = serde_json::from_str(r#"{"max_retries": 2, "jitter": "full"}"#).unwrap();
    assert_eq!(p.spec().max_retries, 2);
    assert_eq!(p.spec().schedule, Schedule::seed_guide());
    let p: Policy = serde_json::from_str(
        r#"{"schedule": {"kind": "exponential", "base": "500ms", "factor": 2, "cap": "20s"}}"#,
    )
    .unwrap();
    assert_eq!(p.spec().schedule.delay(10, Duration::ZERO), secs(20));

    let bad = serde_json::from_str::<Policy>(
        r#"{"schedule": {"kind": "exponential", "base": "3s", "factor": 0.5, "cap": "5m"}}"#,
    )
    .unwrap_err();
    assert!(bad.to_string().contains("schedule.factor"), "{bad}");
    let unknown = serde_json::from_str::<Policy>(r#"{"max_retry": 3}"#).unwrap_err();
    assert!(unknown.to_string().contains("max_retry"), "{unknown}");
    let garbage = serde_json::from_str::<Policy>(r#"{"deadline": "soon"}"#).unwrap_err();
    assert!(garbage.to_string().contains("soon"), "{garbage}");
}

#[test]
fn scaling_down_divides_every_duration() {
    let mut spec = Policy::seed_guide()
        .with_deadline(secs(600))
        .with_max_retry_time(secs(60))
        .spec()
        .clone();
    spec.rate_limit.give_up_above = Some(secs(120));
    spec.limits.budget = Some(BudgetSpec::Percentage {
        basis_points: 2000,
        window: secs(10),
        min_per_second: 3,
    });
    spec.limits.breaker = Some(breaker());
    let p = Policy::new(spec).unwrap().scaled_down(100).unwrap();
    let s = p.spec();
    let ms = Duration::from_millis;
    assert_eq!(s.limits.reset_jitter, ms(10));
    assert_eq!(s.limits.stale_after, ms(600));
    // A percentage budget's floor is per second: a window of a hundredth
    // still allows as many retries.
    assert_eq!(
        s.limits.budget,
        Some(BudgetSpec::Percentage {
            basis_points: 2000,
            window: ms(100),
            min_per_second: 300,
        })
    );
    let b = s.limits.breaker.unwrap();
    assert_eq!((b.window, b.break_for), (ms(100), ms(300)));
    assert_eq!((b.failure_ratio, b.min_outcomes, b.probes), (0.5, 20, 2));
    assert_eq!(
        s.schedule,
        Schedule::Explicit {
            delays: vec![
                Duration::from_millis(30),
                Duration::from_millis(90),
                Duration::from_millis(270),
                secs(3)
            ]
        }
    );
    assert_eq!(s.retry_after_cap, secs(3));
    assert_eq!(s.min_server_wait, Duration::from_millis(10));
    assert_eq!(s.rate_limit.default_wait, Duration::from_millis(600));
    assert_eq!(s.deadline, Some(secs(6)));
    assert_eq!(s.max_retry_time, Some(Duration::from_millis(600)));
    assert_eq!(
        s.rate_limit.give_up_above,
        Some(Duration::from_millis(1200))
    );
    assert_eq!(s.attempt_timeout, Some(Duration::from_millis(300)));
    let g = Policy::genesys_sdk().scaled_down(1000).unwrap();
    assert_eq!(g.spec().schedule.delay(5, ms(100)), ms(3));
    assert_eq!(g.spec().schedule.delay(5, ms(350)), ms(9));
    // Scaled past nanoseconds, delays become zero (allowed: immediate
    // retries); a default 429 wait that becomes zero is refused.
    let tiny = Policy::seed_guide().scaled_down(4_000_000_000).unwrap();
    assert_eq!(
        tiny.spec().schedule.delay(0, Duration::ZERO),
        Duration::ZERO
    );
    let short = Policy::new(PolicySpec {
        rate_limit: steadfast::RateLimitRule {
            default_wait: Duration::from_nanos(5),
            ..Default::default()
        },
        ..PolicySpec::default()
    })
    .unwrap();
    assert!(matches!(
        short.scaled_down(10),
        Err(PolicyError::BadRateLimitDefault { .. })
    ));
    assert_eq!(
        Policy::seed_guide().scaled_down(0).unwrap(),
        Policy::seed_guide()
    );
}
