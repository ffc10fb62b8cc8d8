//! The adaptive send rate, for servers that throttle without saying how
//! fast to go: the client-side rate limiter of the AWS SDKs' adaptive
//! retry mode. Every landing measures the rate at which sends come back
//! (half-second buckets, smoothed); a throttle drops the allowed rate to
//! β = 0.7 of what was being sent and starts pacing; from there the rate
//! grows back along CUBIC's curve, `C·(t − K)³ + W_max` with C = 0.4, never
//! above twice the measured rate and never below half a send per second.
//! Paced sends take a token from a bucket that fills at the allowed rate.
//!
//! Where it departs from the SDKs:
//! - so that no state can wedge, pacing stops once `stale_after` passes
//!   without a throttle (the SDKs pace for good once throttled, and a
//!   client that went quiet comes back at their floor);
//! - where the tracker paces, a throttle it let through on the server's
//!   reading says the reading is shared with senders this process cannot
//!   see (other processes of a fleet, each with its own limits): the rate
//!   drops and paces too. Any other throttle that carries a reading is the
//!   tracker's to answer, and only counted;
//! - unless the SDKs' rules are asked for ([`LimitsSpec::sdk_adaptive`]),
//!   throttles within the gap of a drop drop nothing more, and a throttle
//!   before the first bucket closes takes the landings so far as a
//!   second's sends, and a success moves the rate along the curve only
//!   when the measured rate moves (twice a second) or a send finds no
//!   token, not at every landing.
//!
//! The rate is this process's: calls of one process share it through their
//! `Limits`; processes of a fleet each find their own share, as congestion
//! control does.

use core::time::Duration;

use super::limiter::{Ask, Landed, Limiter};
use super::{Admission, Health, LimitsSnapshot, LimitsSpec, Steps};

/// How far a throttle drops the rate (CUBIC's β).
const BETA: f64 = 0.7;
/// How fast the rate grows back (CUBIC's C).
const SCALE: f64 = 0.4;
/// The slowest the bucket fills, sends per second.
const MIN_RATE: f64 = 0.5;
/// The fewest tokens the bucket holds when full.
const MIN_CAPACITY: f64 = 1.0;
/// The weight of the latest bucket in the measured rate.
const SMOOTHING: f64 = 0.8;
/// Measurement buckets per second.
const BUCKETS_PER_SECOND: f64 = 2.0;
/// The allowed rate is at most this many times the measured one.
const MAX_GROWTH: f64 = 2.0;

/// In a call's hold: the send took a token.
const TOKEN: u32 = 1;
/// In a call's hold: the tracker paced the send by a reading, so a throttle
/// for it says the reading is shared with senders this process cannot see.
const BY_READING: u32 = 2;

/// The adaptive rate's state. Plain data: no clock, no lock.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AdaptiveRate {
    measured: Measured,
    cubic: Cubic,
    bucket: Bucket,
    pacing: Pacing,
    settings: Settings,
}

/// What the limits' spec says of the rate.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Settings {
    /// Pacing ends this long after the last throttle.
    calm_after: Duration,
    /// Throttles this soon after a drop drop nothing more.
    gap: Duration,
    /// Seconds of the rate the bucket holds when full.
    burst: f64,
    /// The tracker paces: a throttle with a reading drops the rate only if
    /// the tracker let its send through on a reading.
    yields: bool,
    /// The SDKs' rules exactly: a first burst measures nothing.
    sdk: bool,
}

/// Whether sends are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pacing {
    /// Every send goes: no throttle yet, or none for `stale_after`, or the
    /// server publishes its limits.
    Off,
    /// Each send takes a token, until this time (`stale_after` past the
    /// last throttle).
    On { until: f64 },
}

impl AdaptiveRate {
    /// A rate under `spec` that paces nothing until the first throttle.
    pub(crate) fn new(spec: &LimitsSpec) -> Self {
        Self::with(Settings {
            calm_after: spec.stale_after,
            gap: spec.throttle_gap.min(spec.stale_after),
            burst: spec.adaptive_burst.as_secs_f64(),
            yields: spec.pacing,
            sdk: spec.sdk_adaptive(),
        })
    }

    fn with(settings: Settings) -> Self {
        Self {
            measured: Measured::new(None),
            cubic: Cubic::new(0.0, f64::NEG_INFINITY),
            bucket: Bucket::new(settings.burst),
            pacing: Pacing::Off,
            settings,
        }
    }

    /// Whether a send may start at `t`: `Ok(true)` when it took a token,
    /// `Ok(false)` when nothing is paced, else how long until a token.
    #[inline]
    fn admit(&mut self, t: f64) -> Result<bool, Duration> {
        let Pacing::On { until } = self.pacing else {
            return Ok(false);
        };
        if t >= until {
            self.pacing = Pacing::Off;
            return Ok(false);
        }
        self.bucket.refill(t);
        if self.bucket.take() {
            return Ok(true);
        }
        self.short_of_a_token(t)
    }

    /// [`admit`](Self::admit) when the bucket has no token at `t`.
    #[inline(never)]
    fn short_of_a_token(&mut self, t: f64) -> Result<bool, Duration> {
        if !self.settings.sdk {
            // Successes move the rate only twice a second (see `landed`):
            // a send that finds no token has it follow the curve first.
            self.follow_curve(t);
            if self.bucket.take() {
                return Ok(true);
            }
        }
        // At most a token's time at the slowest rate, and rounded up to the
        // millisecond, so that the clock reaches the token when it ends.
        let wait = ((1.0 - self.bucket.tokens) / self.bucket.fill_rate).min(1.0 / MIN_RATE);
        let ms = (wait * 1_000.0).ceil().max(1.0);
        Err(Duration::from_millis(ms as u64))
    }

    /// A send landed at `now`: the rate is measured, and drops on a
    /// throttle or follows the curve up otherwise.
    #[inline]
    fn landed(&mut self, now: Duration, throttled: bool) {
        let closed = self.measured.record(now);
        if throttled {
            self.throttled(now.as_secs_f64());
        } else if closed || self.settings.sdk {
            // The SDKs follow the curve at every landing. Here it is
            // followed when the measured rate moves, twice a second, and
            // when a send finds no token: no float work on most landings.
            self.follow_curve(now.as_secs_f64());
        }
    }

    /// A throttle landed at `t`: the rate drops, and pacing starts.
    #[inline(never)]
    fn throttled(&mut self, t: f64) {
        if t - self.cubic.last_throttle < self.settings.gap.as_secs_f64() {
            // Sent before the rate fell: the overload it reports was
            // answered already.
            return;
        }
        let measured = self.measured();
        let sending = match self.pacing {
            Pacing::On { .. } => lesser(measured, self.bucket.fill_rate),
            Pacing::Off => measured,
        };
        self.pacing = Pacing::On {
            until: t + self.settings.calm_after.as_secs_f64(),
        };
        let rate = self.cubic.throttle(sending, t);
        self.bucket.set_rate(t, lesser(rate, MAX_GROWTH * measured));
    }

    /// The rate at `t` on the curve, at most twice the measured rate.
    #[inline(never)]
    fn follow_curve(&mut self, t: f64) {
        let rate = lesser(self.cubic.success(t), MAX_GROWTH * self.measured());
        self.bucket.set_rate(t, rate);
    }

    /// The measured send rate.
    fn measured(&self) -> f64 {
        if self.measured.rate == 0.0 && !self.settings.sdk {
            // No bucket closed yet: the SDKs drop to their floor from a
            // burst at the start, and climb back for seconds. The landings
            // counted so far, taken as a second's sends, are nearer.
            self.measured.count
        } else {
            self.measured.rate
        }
    }

    /// A token taken for a send that will not go comes back.
    fn give_back(&mut self) {
        self.bucket.tokens = (self.bucket.tokens + 1.0).min(self.bucket.capacity);
    }
}

/// The rate at which sends land, measured per bucket and smoothed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Measured {
    rate: f64,
    /// The bucket being counted (half-seconds since the clock's zero);
    /// `None` before the first landing.
    bucket: Option<u64>,
    /// Where that bucket ends: a landing before it only counts.
    ends: Duration,
    count: f64,
}

impl Measured {
    fn new(bucket: Option<u64>) -> Self {
        Self {
            rate: 0.0,
            bucket,
            ends: bucket.map_or(Duration::ZERO, bucket_end),
            count: 0.0,
        }
    }

    /// Counts a landing at `now`, and whether a bucket closed with it (a
    /// clock that went back only counts).
    #[inline]
    fn record(&mut self, now: Duration) -> bool {
        self.count += 1.0;
        now >= self.ends && self.close(now)
    }

    /// The rate moves when a bucket closes.
    #[inline(never)]
    fn close(&mut self, now: Duration) -> bool {
        let half = u64::from(now.subsec_nanos() >= 500_000_000);
        let bucket = now.as_secs().saturating_mul(2).saturating_add(half);
        let closed = match self.bucket {
            Some(last) if bucket > last => {
                let span = (bucket - last) as f64 / BUCKETS_PER_SECOND;
                let current = self.count / span;
                self.rate = current * SMOOTHING + self.rate * (1.0 - SMOOTHING);
                self.count = 0.0;
                true
            }
            Some(_) => return false,
            // The first landing opens the first bucket; it counts in it.
            None => false,
        };
        self.bucket = Some(bucket);
        self.ends = bucket_end(bucket);
        closed
    }
}

/// Where half-second bucket `bucket` ends (at the end of time for the last).
fn bucket_end(bucket: u64) -> Duration {
    let next = bucket.saturating_add(1);
    Duration::new(next / 2, if next % 2 == 1 { 500_000_000 } else { 0 })
}

/// CUBIC's curve: the rate at the last throttle, when it came, and how
/// long the curve takes to climb back to that rate.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Cubic {
    w_max: f64,
    last_throttle: f64,
    k: f64,
}

impl Cubic {
    fn new(w_max: f64, last_throttle: f64) -> Self {
        Self {
            w_max,
            last_throttle,
            k: (w_max * (1.0 - BETA) / SCALE).cbrt(),
        }
    }

    /// The rate at `t` on the curve.
    fn success(&self, t: f64) -> f64 {
        SCALE * (t - self.last_throttle - self.k).powi(3) + self.w_max
    }

    /// A throttle at `t` while sending at `rate`: the curve restarts there,
    /// from β of it.
    fn throttle(&mut self, rate: f64, t: f64) -> f64 {
        *self = Self::new(rate, t);
        rate * BETA
    }
}

/// Tokens filling at the allowed rate.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bucket {
    fill_rate: f64,
    capacity: f64,
    /// Seconds of the rate the bucket holds when full (the SDKs: 1).
    burst: f64,
    tokens: f64,
    /// When it was last filled (the latest clock reading seen).
    filled: f64,
}

impl Bucket {
    fn new(burst: f64) -> Self {
        Self {
            burst,
            fill_rate: MIN_RATE,
            capacity: MIN_CAPACITY,
            tokens: 0.0,
            filled: f64::NEG_INFINITY,
        }
    }

    /// Takes a token, if there is one.
    fn take(&mut self) -> bool {
        // A hair short of a token is a token: rounding must not make a
        // send wait for nothing.
        let has = self.tokens >= 1.0 - 1e-9;
        if has {
            self.tokens = greater(self.tokens - 1.0, 0.0);
        }
        has
    }

    fn refill(&mut self, t: f64) {
        if t > self.filled {
            if self.filled.is_finite() {
                let added = (t - self.filled) * self.fill_rate;
                self.tokens = lesser(self.tokens + added, self.capacity);
            }
            self.filled = t;
        }
    }

    /// Fills at the old rate up to `t`, then at `rate` (at least the floor).
    fn set_rate(&mut self, t: f64, rate: f64) {
        self.refill(t);
        self.fill_rate = greater(rate, MIN_RATE);
        self.capacity = greater(rate * self.burst, MIN_CAPACITY);
        self.tokens = lesser(self.tokens, self.capacity);
    }
}

/// The smaller of two numbers, neither of them NaN: no rate, token count
/// or time here is (every one is finite or an infinity that a comparison
/// orders), so `f64::min`'s care for NaN is only instructions.
#[inline(always)]
fn lesser(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// The greater of two numbers, neither of them NaN (see [`lesser`]).
#[inline(always)]
fn greater(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// Pacing by the adaptive rate, after the tracker's.
impl Limiter for AdaptiveRate {
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        _: &mut H,
        ask: &mut Ask<'_>,
    ) -> Result<Option<u32>, Admission> {
        let by_reading = if ask.by_reading { BY_READING } else { 0 };
        match AdaptiveRate::admit(self, ask.now.as_secs_f64()) {
            Ok(true) => Ok(Some(TOKEN | by_reading)),
            Ok(false) => Ok((by_reading != 0).then_some(by_reading)),
            Err(wait) => Err(Admission::Wait {
                wait,
                capped: false,
            }),
        }
    }

    #[inline]
    fn landed<H: Steps + ?Sized>(&mut self, _: &mut H, hold: &mut Option<u32>, news: &Landed<'_>) {
        let by_reading = hold.take().is_some_and(|h| h & BY_READING != 0);
        let throttled = news.health == Health::Throttled;
        if self.settings.yields && news.reading.is_some() && throttled && !by_reading {
            self.measured.record(news.now);
            return;
        }
        AdaptiveRate::landed(self, news.now, throttled);
    }

    fn release<H: Steps + ?Sized>(&mut self, _: &mut H, hold: u32, _now: Duration) {
        if hold & TOKEN != 0 {
            self.give_back();
        }
    }

    fn show(&mut self, now: Duration, snapshot: &mut LimitsSnapshot) {
        snapshot.send_rate = match self.pacing {
            Pacing::On { until } if now.as_secs_f64() < until => Some(self.bucket.fill_rate),
            _ => None,
        };
    }

    fn reset(&mut self) {
        *self = Self::with(self.settings);
    }
}

#[cfg(test)]
mod tests;
