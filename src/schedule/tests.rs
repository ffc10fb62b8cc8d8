//! Schedules and jitter: exact values, saturation at any step, caps that
//! hold after jitter, and jitter that does not collapse onto the cap.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Jitter, Schedule};
use crate::{Action, Call, Clock, Method, Outcome, Policy, Request};
use fastrand::Rng;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn the_guides_table() {
    let s = Schedule::seed_guide();
    let got: Vec<Duration> = (0..6).map(|n| s.delay(n, Duration::ZERO)).collect();
    assert_eq!(got, [3, 9, 27, 300, 300, 300].map(secs));
    assert_eq!(s.delay(u32::MAX, Duration::MAX), secs(300));
    assert_eq!((s.base(), s.cap()), (secs(3), secs(300)));
}

#[test]
fn the_guides_formula_differs_from_its_table_at_the_fourth_retry() {
    // docs/design.md, contradiction 1: 3^n capped at 5 minutes gives 81 s, not 300 s.
    let s = Schedule::Exponential {
        base: secs(3),
        factor: 3.0,
        cap: secs(300),
    };
    let got: Vec<Duration> = (0..7).map(|n| s.delay(n, Duration::ZERO)).collect();
    assert_eq!(got, [3, 9, 27, 81, 243, 300, 300].map(secs));
}

#[test]
fn exponential_saturates_at_any_step_and_factor() {
    let rows = [
        (secs(3), 3.0, secs(300)),
        (secs(1), 1.0, secs(10)),
        (Duration::from_millis(100), 1.5, secs(20)),
        (secs(1), 2.0, Duration::MAX),
        (Duration::MAX, 2.0, Duration::MAX),
        (secs(1), 1e300, Duration::MAX),
        (Duration::from_nanos(1), 4_294_967_296.0, secs(1)),
    ];
    for (base, factor, cap) in rows {
        let s = Schedule::Exponential { base, factor, cap };
        let mut prev = Duration::ZERO;
        for step in [0, 1, 2, 3, 10, 64, 100, 1000, u32::MAX / 2, u32::MAX] {
            let d = s.delay(step, Duration::ZERO);
            assert!(d <= cap && d >= base.min(cap), "{base:?}×{factor}^{step}");
            assert!(d >= prev, "monotone at {step}");
            prev = d;
        }
    }
    let frac = Schedule::Exponential {
        base: Duration::from_millis(100),
        factor: 1.5,
        cap: secs(20),
    };
    assert_eq!(frac.delay(2, Duration::ZERO), Duration::from_millis(225));
}

/// urllib3's `get_backoff_time`, at any step and any factor: no wait for
/// the first retry, `factor × 2^step` after, never above the max.
#[test]
fn urllib3_backoff_saturates_at_any_step() {
    let rows = [
        (Duration::from_millis(100), secs(120)),
        (Duration::ZERO, secs(120)),
        (secs(1), Duration::ZERO),
        (Duration::MAX, Duration::MAX),
        (Duration::from_nanos(1), Duration::MAX),
    ];
    for (factor, max) in rows {
        let s = Schedule::Urllib3 { factor, max };
        assert_eq!(s.delay(0, Duration::ZERO), Duration::ZERO);
        let mut prev = Duration::ZERO;
        for step in [1, 2, 3, 10, 64, 127, 128, 1000, u32::MAX] {
            let d = s.delay(step, Duration::ZERO);
            assert!(
                d <= max && d <= s.cap() && d >= prev,
                "{factor:?} step {step}"
            );
            prev = d;
        }
        if factor.is_zero() {
            assert_eq!(s.cap(), Duration::ZERO, "a zero factor never waits");
        } else {
            assert_eq!(s.delay(u32::MAX, Duration::ZERO), max);
        }
    }
    let s = Schedule::Urllib3 {
        factor: Duration::from_millis(500),
        max: secs(120),
    };
    let at = |step| s.delay(step, Duration::ZERO);
    assert_eq!(
        [at(1), at(2), at(3), at(8)],
        [secs(1), secs(2), secs(4), secs(120)]
    );
}

#[test]
fn the_genesys_stages() {
    let s = Schedule::Staged {
        first: secs(3),
        first_retries: 5,
        unit: secs(1),
        factor: 3,
        stage: secs(300),
        max_power: 3,
    };
    let rows = [
        (0, 0, 3),
        (4, 0, 3),
        (4, 10_000, 3),
        (5, 0, 3),
        (5, 299, 3),
        (5, 300, 9),
        (9, 599, 9),
        (9, 600, 27),
        (99, 3600, 27),
        (u32::MAX, u64::MAX, 27),
    ];
    for (step, elapsed, want) in rows {
        assert_eq!(
            s.delay(step, secs(elapsed)),
            secs(want),
            "{step} at {elapsed}s"
        );
    }
    assert!(s.honours_retry_after(4) && !s.honours_retry_after(5));
    assert_eq!((s.base(), s.cap()), (secs(3), secs(27)));
}

fn draws(
    jitter: Jitter,
    delay: Duration,
    prev: Duration,
    base: Duration,
    cap: Duration,
) -> Vec<Duration> {
    let mut rng = Rng::with_seed(1);
    (0..500)
        .map(|_| jitter.apply(delay, prev, base, cap, rng.u64(..)))
        .collect()
}

#[test]
fn jitter_bounds_hold_and_do_not_collapse_onto_the_cap() {
    let (base, cap) = (secs(3), secs(300));
    // At the cap: full, equal and decorrelated still spread below it.
    for (jitter, lo) in [
        (Jitter::Full, Duration::ZERO),
        (Jitter::Equal, secs(150)),
        (Jitter::Decorrelated, base),
    ] {
        let got = draws(jitter, cap, cap, base, cap);
        assert!(got.iter().all(|d| *d >= lo && *d <= cap), "{jitter:?}");
        let distinct: BTreeSet<_> = got.iter().collect();
        assert!(
            distinct.len() > 400,
            "{jitter:?}: {} distinct",
            distinct.len()
        );
        let at_cap = got.iter().filter(|d| **d == cap).count();
        assert!(at_cap < 5, "{jitter:?}: {at_cap} draws on the cap");
    }
    assert!(draws(Jitter::None, secs(27), cap, base, cap)
        .iter()
        .all(|d| *d == secs(27)));
}

/// urllib3's `backoff_jitter`: up to `max` more, cut to the cap; a zero
/// delay (urllib3's first retry) gets none.
#[test]
fn added_jitter_adds_up_to_max_below_the_cap() {
    let (base, cap) = (secs(3), secs(300));
    let added = Jitter::Added { max: secs(1) };
    let got = draws(added, secs(27), secs(27), base, cap);
    assert!(got.iter().all(|d| (secs(27)..=secs(28)).contains(d)));
    assert!(got.iter().collect::<BTreeSet<_>>().len() > 400);
    assert!(draws(added, cap, cap, base, cap).iter().all(|d| *d == cap));
    assert!(draws(added, Duration::ZERO, Duration::ZERO, base, cap)
        .iter()
        .all(|d| d.is_zero()));
    let huge = Jitter::Added { max: Duration::MAX };
    assert!(draws(huge, secs(27), secs(27), base, cap)
        .iter()
        .all(|d| (secs(27)..=cap).contains(d)));
}

#[test]
fn decorrelated_grows_from_base_within_three_times_the_previous() {
    let (base, cap) = (secs(3), secs(300));
    let got = draws(Jitter::Decorrelated, base, base, base, cap);
    assert!(got.iter().all(|d| *d >= base && *d <= secs(9)));
    let got = draws(Jitter::Decorrelated, base, secs(50), base, cap);
    assert!(got.iter().all(|d| *d >= base && *d <= secs(150)));
    // A previous delay near Duration::MAX saturates instead of overflowing.
    let got = draws(
        Jitter::Decorrelated,
        base,
        Duration::MAX,
        base,
        Duration::MAX,
    );
    assert!(got.iter().all(|d| *d >= base));
}

/// Through a call, jitter is bounded by the policy's own schedule: a
/// decorrelated first wait is drawn from 3 to 9 s (the guide's base, three
/// times it), later ones from 3 s up to the 300 s cap; an added jitter
/// never lifts a wait past the cap.
#[test]
fn a_calls_jitter_is_bounded_by_its_policys_schedule() {
    let waits = |policy: &Policy, seed: u64| -> Vec<Duration> {
        let mut clock = Clock::default();
        let mut call = Call::new(policy, Request::new(Method::Get), clock, seed);
        let mut waits = Vec::new();
        loop {
            match call.poll(clock, None) {
                Action::Send { .. } => {
                    call.observe(Outcome::status(500), clock, None).unwrap();
                }
                Action::Sleep(d) => {
                    waits.push(d);
                    clock = clock.advanced(d);
                }
                _ => break waits,
            }
        }
    };
    let decorrelated = Policy::seed_guide().with_jitter(Jitter::Decorrelated);
    let added = Policy::seed_guide().with_jitter(Jitter::Added { max: secs(60) });
    let mut firsts = BTreeSet::new();
    for seed in 0..200 {
        let got = waits(&decorrelated, seed);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!((secs(3)..=secs(9)).contains(&got[0]), "{got:?}");
        firsts.insert(got[0]);
        assert!(
            got.iter().all(|d| (secs(3)..=secs(300)).contains(d)),
            "{got:?}"
        );
        let got = waits(&added, seed);
        assert!(got[3] == secs(300), "{got:?}");
        assert!((secs(27)..=secs(87)).contains(&got[2]), "{got:?}");
    }
    assert!(firsts.len() > 150, "{} distinct first waits", firsts.len());
}

#[test]
fn same_seed_same_draws() {
    assert_eq!(
        draws(Jitter::Full, secs(300), secs(3), secs(3), secs(300)),
        draws(Jitter::Full, secs(300), secs(3), secs(3), secs(300))
    );
}
