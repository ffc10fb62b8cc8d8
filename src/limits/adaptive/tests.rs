//! The AWS SDKs' published test vectors for the adaptive rate, and what it
//! adds to them: no wedge, no panic, nothing lost.
//!
//! The vectors: botocore's `tests/unit/retries/test_throttling.py` (CUBIC)
//! and `test_adaptive.py` (the measured rate), and aws-smithy-runtime's
//! `src/client/retries/client_rate_limiter.rs` tests, ported there from
//! aws-sdk-go-v2's `aws/retry/adaptive_ratelimit_test.go`.

use core::time::Duration;

use super::*;

/// The vectors' starting state: every clock and rate at zero.
fn at_zero() -> AdaptiveRate {
    AdaptiveRate {
        measured: Measured::new(Some(0)),
        cubic: Cubic::new(0.0, 0.0),
        bucket: Bucket::new(1.0),
        pacing: Pacing::Off,
        settings: aws(Duration::from_secs(3600)),
    }
}

/// The SDKs' settings: every throttle drops the rate, a second's burst.
fn aws(calm_after: Duration) -> Settings {
    Settings {
        calm_after,
        gap: Duration::ZERO,
        burst: 1.0,
        yields: true,
        sdk: true,
    }
}

fn secs(t: f64) -> Duration {
    Duration::from_secs_f64(t)
}

fn close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

#[test]
fn cubic_zero_point_and_throttle_botocore() {
    // test_throttling.py: test_starting_params, test_error_response_decreases_rate_by_beta.
    let mut c = Cubic::new(10.0, 0.0);
    close(c.k, 1.957_433_820_584_431_7);
    close(c.success(c.k), 10.0);
    assert!(c.success(c.k / 2.0) <= 10.0 && c.success(c.k * 1.1) >= 10.0);
    close(c.throttle(8.0, 1.0), 8.0 * 0.7);
    assert_eq!((c.w_max, c.last_throttle), (8.0, 1.0));
    close(c.k, 1.817_120_592_832_139_7);
}

#[test]
fn cubic_starts_from_beta_of_the_throttled_rate_smithy() {
    // client_rate_limiter.rs: should_match_beta_decrease.
    let c = Cubic::new(10.0, 1.0);
    close(c.success(1.0), 7.0);
}

#[test]
fn cubic_successes_smithy() {
    // client_rate_limiter.rs: test_calculated_rate_with_successes.
    let c = Cubic::new(10.0, 5.0);
    let rows = [
        (5.0, 7.0),
        (6.0, 9.648_936_009_66),
        (7.0, 10.000_030_849_917_364),
        (8.0, 10.453_284_520_772_092),
        (9.0, 13.408_697_022_224_185),
        (10.0, 21.266_268_354_273_64),
        (11.0, 36.425_998_516_920_465),
    ];
    for (t, want) in rows {
        close(c.success(t), want);
    }
}

#[test]
fn cubic_throttles_and_successes_smithy() {
    // client_rate_limiter.rs: test_calculated_rate_with_throttles. The
    // vector (from aws-sdk-go-v2) sets W_max to the rate *after* the drop
    // and starts that drop from the previous row's rate, so the test does
    // the same around the curve.
    let mut c = Cubic::new(10.0, 5.0);
    let rows = [
        (false, 5.0, 7.0),
        (false, 6.0, 9.648_936_009_66),
        (true, 7.0, 6.754_255_206_761_999),
        (true, 8.0, 4.727_978_644_733_399),
        (false, 9.0, 4.670_125_557_970_046),
        (false, 10.0, 4.770_870_456_867_401),
        (false, 11.0, 6.011_819_748_005_445),
        (false, 12.0, 10.792_973_431_384_178),
    ];
    let mut rate = 0.0;
    for (throttled, t, want) in rows {
        if throttled {
            rate = c.throttle(rate, t);
            c = Cubic::new(rate, t);
        } else {
            rate = c.success(t);
        }
        close(rate, want);
    }
}

#[test]
fn sending_rates_smithy() {
    // client_rate_limiter.rs: test_client_sending_rates — a landing every
    // 200 ms, two of them throttled: the measured rate and the bucket's
    // fill rate after each.
    let rows = [
        (false, 0.2, 0.0, 0.5),
        (false, 0.4, 0.0, 0.5),
        (false, 0.6, 4.800_000_000_000_001, 0.5),
        (false, 0.8, 4.800_000_000_000_001, 0.5),
        (false, 1.0, 4.16, 0.5),
        (false, 1.2, 4.16, 0.6912),
        (false, 1.4, 4.16, 1.097_599_999_999_999_7),
        (false, 1.6, 5.632_000_000_000_001, 1.638_400_000_000_000_5),
        (false, 1.8, 5.632_000_000_000_001, 2.3328),
        (true, 2.0, 4.3264, 3.028_479_999_999_999_6),
        (false, 2.2, 4.3264, 3.486_639_173_470_26),
        (false, 2.4, 4.3264, 3.821_874_416_040_255),
        (false, 2.6, 5.66528, 4.053_385_727_709_987),
        (false, 2.8, 5.66528, 4.200_373_108_479_454),
        (false, 3.0, 4.333_056, 4.282_036_558_348_658),
        (true, 3.2, 4.333_056, 2.997_425_590_844_06),
        (false, 3.4, 4.333_056, 3.452_226_394_386_346_3),
    ];
    let mut a = at_zero();
    for (throttled, t, measured, fill) in rows {
        a.landed(secs(t), throttled);
        close(a.measured.rate, measured);
        close(a.bucket.fill_rate, fill);
    }
    assert!(matches!(a.pacing, Pacing::On { .. }));
}

#[test]
fn measured_rate_botocore() {
    // test_adaptive.py: TestRateClocker.
    let mut m = Measured::new(Some(0));
    m.record(secs(1.0));
    close(m.rate, 0.8);

    let mut m = Measured::new(Some(0));
    for t in 1..=20 {
        m.record(secs(f64::from(t)));
    }
    assert!((m.rate - 1.0).abs() < 1e-6, "{}", m.rate);

    let mut m = Measured::new(Some(0));
    for t in [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0] {
        m.record(secs(t));
    }
    assert!((1.99..=2.0).contains(&m.rate), "{}", m.rate);
    m.record(secs(14.0));
    assert!((0.1..=2.0).contains(&m.rate), "{}", m.rate);

    let mut m = Measured::new(Some(0));
    for t in [1.0, 1.0, 1.0, 2.0, 3.0] {
        m.record(secs(t));
    }
    assert!(m.rate >= 1.0);

    // Landings in one bucket move nothing until the next bucket begins.
    let mut m = Measured::new(Some(0));
    for t in [0.1, 0.2, 0.3, 0.4, 0.49] {
        assert!(!m.record(secs(t)));
        close(m.rate, 0.0);
    }
    assert!(m.record(secs(0.5)));
    close(m.rate, 12.0 * 0.8);
}

#[test]
fn paces_only_once_throttled_and_a_token_comes_back() {
    let mut a = AdaptiveRate::with(aws(Duration::from_secs(60)));
    assert_eq!(a.admit(0.0), Ok(false));
    for i in 0..20 {
        a.landed(secs(f64::from(i) * 0.1), false);
    }
    a.landed(secs(2.0), true);
    assert!(matches!(a.pacing, Pacing::On { .. }));
    // What the bucket filled before the throttle goes first, a token a send.
    let mut sent = 0;
    while a.admit(2.0) == Ok(true) {
        sent += 1;
    }
    assert!(
        sent <= a.bucket.capacity as u32,
        "{sent} sends from a full bucket"
    );
    let Err(wait) = a.admit(2.0) else {
        panic!("an empty bucket lets a send through")
    };
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
    let later = 2.0 + wait.as_secs_f64();
    assert_eq!(a.admit(later), Ok(true));
    assert!(a.admit(later).is_err(), "one token, one send");
    a.give_back();
    assert_eq!(
        a.admit(later),
        Ok(true),
        "a token given back is there again"
    );
}

#[test]
fn pacing_ends_calm_after_the_last_throttle() {
    let mut a = AdaptiveRate::with(aws(Duration::from_secs(30)));
    a.landed(secs(0.0), true);
    assert!(a.admit(1.0).is_err());
    let shown = |a: &mut AdaptiveRate, t: f64| {
        let mut snapshot =
            crate::limits::Limits::new(&crate::Policy::seed_guide()).snapshot(Default::default());
        crate::limits::limiter::Limiter::show(a, secs(t), &mut snapshot);
        snapshot.send_rate
    };
    assert!(shown(&mut a, 29.9).is_some());
    assert_eq!(
        shown(&mut a, 30.0),
        None,
        "a snapshot says when pacing is over"
    );
    assert_eq!(a.admit(29.9).map(|_| ()), Ok(()));
    assert_eq!(a.admit(30.0), Ok(false));
    assert_eq!(a.pacing, Pacing::Off);
}

#[test]
fn hostile_clocks_and_bursts_never_panic_nor_stop_sends() {
    let mut a = AdaptiveRate::with(aws(Duration::from_secs(60)));
    let times = [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_secs(5),
        Duration::from_secs(3),
        Duration::ZERO,
        Duration::from_secs(1 << 40),
        Duration::from_secs(4),
        Duration::from_secs(u64::from(u32::MAX)),
        Duration::MAX,
        Duration::ZERO,
    ];
    for (i, &t) in times.iter().enumerate() {
        for _ in 0..1_000 {
            a.landed(t, i % 2 == 0);
        }
        if let Err(wait) = a.admit(t.as_secs_f64()) {
            assert!(wait <= Duration::from_secs(2), "{wait:?} at {t:?}");
        }
        assert!(a.bucket.fill_rate >= MIN_RATE && a.bucket.fill_rate.is_finite());
        assert!(a.bucket.capacity >= MIN_CAPACITY && !a.bucket.tokens.is_nan());
    }
}

#[test]
fn throttles_within_the_gap_are_one_overload() {
    let steady = |gap| {
        let mut a = AdaptiveRate::with(Settings {
            gap,
            ..aws(Duration::from_secs(60))
        });
        for i in 0..40 {
            a.landed(secs(f64::from(i) * 0.05), false);
        }
        // A burst of throttles, sent before the first of them landed.
        for i in 0..10 {
            a.landed(secs(2.0 + f64::from(i) * 0.01), true);
        }
        a.bucket.fill_rate
    };
    let once = steady(Duration::from_millis(500));
    let every = steady(Duration::ZERO);
    assert!(once > every * 10.0, "one drop {once}, ten drops {every}");
    assert!(every >= MIN_RATE);
}

#[test]
fn the_bucket_holds_its_burst_of_the_rate() {
    for burst in [1.0, 0.1] {
        let mut a = AdaptiveRate::with(Settings {
            burst,
            ..aws(Duration::from_secs(60))
        });
        for i in 0..100 {
            a.landed(secs(f64::from(i) * 0.01), false);
        }
        a.landed(secs(1.0), true);
        let rate = a.bucket.fill_rate;
        assert!(rate > 20.0, "{rate}");
        close(a.bucket.capacity, (rate * burst).max(MIN_CAPACITY));
    }
}

#[test]
fn beside_a_reading_only_a_throttle_the_reading_let_through_counts() {
    use crate::headers::RateLimit;
    use crate::limits::limiter::{Landed, Limiter};
    use crate::limits::Alone;

    let reading = RateLimit {
        limit: Some(100),
        remaining: Some(0),
        ..RateLimit::default()
    };
    // (the tracker paces, the send was paced by a reading, paced after)
    let rows = [
        (true, false, false),
        (true, true, true),
        (false, false, true),
    ];
    for (yields, by_reading, paces) in rows {
        let mut a = AdaptiveRate::with(Settings {
            yields,
            ..aws(Duration::from_secs(60))
        });
        for i in 0..20 {
            a.landed(secs(f64::from(i) * 0.1), false);
        }
        let news = Landed {
            now: secs(2.0),
            reading: Some(&reading),
            health: Health::Throttled,
        };
        let mut hold = by_reading.then_some(BY_READING);
        Limiter::landed(&mut a, &mut Alone, &mut hold, &news);
        assert_eq!(hold, None, "a landing ends the hold");
        let paced = matches!(a.pacing, Pacing::On { .. });
        assert_eq!(paced, paces, "yields {yields}, by a reading {by_reading}");
    }
}

#[test]
fn only_a_token_taken_comes_back() {
    use crate::limits::limiter::Limiter;
    use crate::limits::Alone;

    let mut a = AdaptiveRate::with(aws(Duration::from_secs(60)));
    a.landed(secs(0.0), true);
    let before = a.bucket.tokens;
    Limiter::release(&mut a, &mut Alone, BY_READING, secs(0.0));
    close(a.bucket.tokens, before);
    Limiter::release(&mut a, &mut Alone, TOKEN | BY_READING, secs(0.0));
    close(a.bucket.tokens, (before + 1.0).min(a.bucket.capacity));
}

#[test]
fn a_first_burst_is_a_seconds_sends_unless_the_sdks_rules_hold() {
    // 500 sends land at once, then a throttle, before any bucket closed.
    for sdk in [true, false] {
        let mut a = AdaptiveRate::with(Settings {
            sdk,
            gap: Duration::from_millis(if sdk { 0 } else { 500 }),
            ..aws(Duration::from_secs(60))
        });
        for _ in 0..500 {
            a.landed(secs(0.05), false);
        }
        a.landed(secs(0.05), true);
        if sdk {
            close(a.bucket.fill_rate, MIN_RATE);
        } else {
            close(a.bucket.fill_rate, 501.0 * BETA);
            close(a.cubic.w_max, 501.0);
        }
    }
}

#[test]
fn the_curve_is_followed_when_the_measure_moves_or_a_token_is_short() {
    let mut a = AdaptiveRate::with(Settings {
        sdk: false,
        gap: Duration::from_millis(500),
        ..aws(Duration::from_secs(60))
    });
    for i in 0..40 {
        a.landed(secs(f64::from(i) * 0.05), false);
    }
    a.landed(secs(2.0), true);
    let dropped = a.bucket.fill_rate;
    let on_the_curve = |a: &AdaptiveRate, t: f64| {
        lesser(a.cubic.success(t), MAX_GROWTH * a.measured.rate).max(MIN_RATE)
    };
    // Successes inside the throttle's bucket leave the rate where it fell.
    for t in [2.1, 2.2, 2.3, 2.4] {
        a.landed(secs(t), false);
        close(a.bucket.fill_rate, dropped);
    }
    // The next bucket's first landing moves it along the curve.
    a.landed(secs(2.6), false);
    close(a.bucket.fill_rate, on_the_curve(&a, 2.6));
    // A send that finds the bucket empty follows the curve before it waits.
    while a.admit(2.7) == Ok(true) {}
    let before = a.bucket.fill_rate;
    let _ = a.admit(2.71);
    close(a.bucket.fill_rate, on_the_curve(&a, 2.71));
    assert!(a.bucket.fill_rate > before);
    assert!(a.bucket.fill_rate > dropped);
}
