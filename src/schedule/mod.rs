//! Backoff schedules and jitter: pure functions of the step, the elapsed time,
//! the previous delay and a caller-seeded RNG.
//!
//! Every computation saturates: no step number (up to `u32::MAX`), factor or
//! duration can overflow or panic.

use core::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::error::PolicyError;

// The per-call RNG jitter draws from (fastrand's wyrand, 8 bytes of state),
// seeded by the caller: nothing here touches a global RNG.
use fastrand::Rng;

/// How long to wait before the n-th backoff retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// An explicit list; steps past its end repeat the last entry. The source
    /// guide's schedule is `[3s, 9s, 27s, 300s]`.
    Explicit {
        /// The delays, step 0 first.
        #[serde(with = "durations")]
        delays: Vec<Duration>,
    },
    /// `base × factor^step`, never above `cap`.
    Exponential {
        /// The first delay.
        #[serde(with = "humantime_serde")]
        base: Duration,
        /// The growth per step, at least 1.
        factor: f64,
        /// The largest delay.
        #[serde(with = "humantime_serde")]
        cap: Duration,
    },
    /// The official Genesys Cloud SDKs' schedule: `first` for the first
    /// `first_retries` retries; after that `unit × factor^k` with
    /// `k = min(max_power, floor(elapsed / stage) + 1)` — with the SDK's
    /// numbers 3 s, then 9 s once 5 minutes have passed, then 27 s.
    Staged {
        /// The delay of the first stage.
        #[serde(with = "humantime_serde")]
        first: Duration,
        /// How many retries the first stage lasts. A server's `Retry-After`
        /// is honoured only during it, as the SDKs do.
        first_retries: u32,
        /// The unit multiplied by `factor^k` afterwards.
        #[serde(with = "humantime_serde")]
        unit: Duration,
        /// The growth per stage, at least 1.
        factor: u32,
        /// The length of a stage of elapsed time.
        #[serde(with = "humantime_serde")]
        stage: Duration,
        /// The largest power used.
        max_power: u32,
    },
    /// urllib3's backoff: no wait before the retry after the first error,
    /// then `factor × 2^step` (`backoff_factor × 2^(consecutive errors − 1)`),
    /// never above `max`. With [`Jitter::Added`] and the same retry count
    /// it reproduces `Retry(total=…, backoff_factor=…, backoff_max=…,
    /// backoff_jitter=…)`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use steadfast::Schedule;
    /// // Retry(backoff_factor=0.1): 0 s, 0.2 s, 0.4 s, 0.8 s, ...
    /// let s = Schedule::Urllib3 {
    ///     factor: Duration::from_millis(100),
    ///     max: Duration::from_secs(120), // Retry.DEFAULT_BACKOFF_MAX
    /// };
    /// let ms = |step| s.delay(step, Duration::ZERO).as_millis();
    /// assert_eq!([ms(0), ms(1), ms(2), ms(3), ms(20)], [0, 200, 400, 800, 120_000]);
    /// ```
    Urllib3 {
        /// `backoff_factor`.
        #[serde(with = "humantime_serde")]
        factor: Duration,
        /// `backoff_max`: the largest delay.
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
}

impl Schedule {
    /// The source guide's table: 3 s, 9 s, 27 s, 300 s.
    pub fn seed_guide() -> Self {
        Self::Explicit {
            delays: [3, 9, 27, 300].map(Duration::from_secs).to_vec(),
        }
    }

    /// The delay before backoff retry number `step` (from 0), `elapsed` into
    /// the call. Never above the schedule's longest delay.
    pub fn delay(&self, step: u32, elapsed: Duration) -> Duration {
        match self {
            Self::Explicit { delays } => {
                let i = usize::try_from(step).unwrap_or(usize::MAX);
                delays.get(i).or(delays.last()).copied().unwrap_or_default()
            }
            Self::Exponential { base, factor, cap } => exponential(*base, *factor, *cap, step),
            Self::Staged {
                first,
                first_retries,
                unit,
                factor,
                stage,
                max_power,
            } => {
                if step < *first_retries {
                    return *first;
                }
                let stages = elapsed
                    .as_nanos()
                    .checked_div(stage.as_nanos())
                    .unwrap_or(0);
                let k = u32::try_from(stages)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1)
                    .min(*max_power);
                scale(*unit, u128::from(factor.saturating_pow(k)))
            }
            Self::Urllib3 { factor, max } => match step {
                0 => Duration::ZERO,
                // 2^step saturates at 2^127, far past any `max`.
                _ => scale(*factor, 1u128.checked_shl(step).unwrap_or(1 << 127)).min(*max),
            },
        }
    }

    /// The smallest delay the schedule starts from (decorrelated jitter's floor).
    pub(crate) fn base(&self) -> Duration {
        match self {
            Self::Explicit { delays } => delays.iter().copied().min().unwrap_or_default(),
            Self::Exponential { base, .. } => *base,
            Self::Staged {
                first,
                unit,
                factor,
                max_power,
                ..
            } => {
                let later = scale(*unit, u128::from(factor.saturating_pow(1.min(*max_power))));
                (*first).min(later)
            }
            Self::Urllib3 { .. } => Duration::ZERO,
        }
    }

    /// The largest delay the schedule can produce.
    pub(crate) fn cap(&self) -> Duration {
        match self {
            Self::Explicit { delays } => delays.iter().copied().max().unwrap_or_default(),
            Self::Exponential { cap, .. } => *cap,
            Self::Staged {
                first,
                unit,
                factor,
                max_power,
                ..
            } => (*first).max(scale(*unit, u128::from(factor.saturating_pow(*max_power)))),
            Self::Urllib3 { factor, max } if !factor.is_zero() => *max,
            Self::Urllib3 { .. } => Duration::ZERO,
        }
    }

    /// The same schedule with every duration passed through `f` (counts and
    /// factors kept): how policies are scaled for tests and demos.
    #[must_use]
    pub(crate) fn map_durations(&self, f: impl Fn(Duration) -> Duration) -> Self {
        match self {
            Self::Explicit { delays } => Self::Explicit {
                delays: delays.iter().copied().map(f).collect(),
            },
            Self::Exponential { base, factor, cap } => Self::Exponential {
                base: f(*base),
                factor: *factor,
                cap: f(*cap),
            },
            Self::Staged {
                first,
                first_retries,
                unit,
                factor,
                stage,
                max_power,
            } => Self::Staged {
                first: f(*first),
                first_retries: *first_retries,
                unit: f(*unit),
                factor: *factor,
                stage: f(*stage),
                max_power: *max_power,
            },
            Self::Urllib3 { factor, max } => Self::Urllib3 {
                factor: f(*factor),
                max: f(*max),
            },
        }
    }

    /// Whether a server's `Retry-After` may replace the delay of this step.
    pub(crate) fn honours_retry_after(&self, step: u32) -> bool {
        match self {
            Self::Staged { first_retries, .. } => step < *first_retries,
            _ => true,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), PolicyError> {
        match self {
            Self::Explicit { delays } => {
                // A zero delay retries at once (urllib3's default); the
                // retry count and the deadline bound it.
                if delays.is_empty() {
                    return Err(PolicyError::EmptySchedule);
                }
            }
            Self::Exponential { base, factor, cap } => {
                if !(factor.is_finite() && *factor >= 1.0) {
                    return Err(PolicyError::FactorBelowOne { factor: *factor });
                }
                if cap < base {
                    return Err(PolicyError::CapBelowBase {
                        base: *base,
                        cap: *cap,
                    });
                }
            }
            Self::Staged { factor, stage, .. } => {
                if *factor < 1 {
                    return Err(PolicyError::FactorBelowOne {
                        factor: f64::from(*factor),
                    });
                }
                if stage.is_zero() {
                    return Err(PolicyError::ZeroStage);
                }
            }
            // Any factor and max: urllib3 takes a max below the factor (every
            // wait is then the max) and a zero factor (no waits).
            Self::Urllib3 { .. } => {}
        }
        Ok(())
    }
}

fn exponential(base: Duration, factor: f64, cap: Duration, step: u32) -> Duration {
    // An integral factor is computed exactly, in integers; only a fractional
    // one goes through floating point.
    if factor.fract() == 0.0 && factor <= f64::from(u32::MAX) {
        // Exact: the value is integral and within u32.
        let f = factor as u32;
        return f
            .checked_pow(step)
            .and_then(|m| base.checked_mul(m))
            .map_or(cap, |d| d.min(cap));
    }
    let power = factor.powi(i32::try_from(step).unwrap_or(i32::MAX));
    let secs = base.as_secs_f64() * power;
    if secs.is_finite() && secs < cap.as_secs_f64() {
        Duration::try_from_secs_f64(secs).map_or(cap, |d| d.min(cap))
    } else {
        cap
    }
}

/// `d × n`, saturating at `Duration::MAX`.
pub(crate) fn scale(d: Duration, n: u128) -> Duration {
    from_nanos_saturating(d.as_nanos().saturating_mul(n))
}

pub(crate) fn from_nanos_saturating(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = nanos / NANOS_PER_SEC;
    match u64::try_from(secs) {
        // The remainder is below 1e9 and so fits in u32.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// How a backoff delay is randomised, so that clients that failed together do
/// not retry together. Server-given waits (`Retry-After`, rate-limit resets)
/// are never jittered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// The schedule's delay, exactly.
    #[default]
    None,
    /// Uniform in `[0, delay]`.
    Full,
    /// Uniform in `[delay / 2, delay]`.
    Equal,
    /// Uniform in `[base, min(cap, 3 × previous)]`, the previous delay starting
    /// at `base`. Drawn *below* the cap rather than clamped onto it, so long
    /// runs do not collapse onto the cap.
    Decorrelated,
    /// Uniform in `[delay, delay + max]`, never above the schedule's cap; a
    /// zero delay stays zero. urllib3's `backoff_jitter`.
    Added {
        /// The most added.
        #[serde(with = "humantime_serde")]
        max: Duration,
    },
}

impl Jitter {
    /// Applies the jitter to `delay`, drawing from `seed`: the same seed
    /// gives the same result. `prev` is the previous jittered delay (or
    /// `base` before the first); `base` and `cap` are the schedule's.
    #[cfg(test)]
    pub(crate) fn apply(
        self,
        delay: Duration,
        prev: Duration,
        base: Duration,
        cap: Duration,
        seed: u64,
    ) -> Duration {
        self.draw(delay, prev, base, cap, &mut Rng::with_seed(seed))
    }

    /// Applies the jitter to `delay`, drawing from a call's own generator.
    /// The result never exceeds `max(delay, cap)` (the schedule guarantees
    /// `delay <= cap`).
    pub(crate) fn draw(
        self,
        delay: Duration,
        prev: Duration,
        base: Duration,
        cap: Duration,
        rng: &mut Rng,
    ) -> Duration {
        match self {
            Self::None => delay,
            Self::Full => uniform(rng, Duration::ZERO, delay),
            Self::Equal => uniform(rng, delay / 2, delay),
            Self::Decorrelated => {
                let hi = prev.saturating_mul(3).min(cap).max(base);
                uniform(rng, base.min(hi), hi)
            }
            Self::Added { .. } if delay.is_zero() => delay,
            Self::Added { max } => {
                let hi = delay.saturating_add(max).min(cap.max(delay));
                uniform(rng, delay, hi)
            }
        }
    }
}

/// A uniform draw in `[lo, hi]` at nanosecond resolution. Spans beyond
/// `u64::MAX` nanoseconds (584 years) are drawn over the first 584 years.
fn uniform(rng: &mut Rng, lo: Duration, hi: Duration) -> Duration {
    let span = hi.saturating_sub(lo);
    // u64 nanoseconds without a trip through u128: this runs per retry.
    let span = span
        .as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(u64::from(span.subsec_nanos())))
        .unwrap_or(u64::MAX);
    lo.saturating_add(Duration::from_nanos(rng.u64(0..=span)))
}

/// Serde for a list of durations written the human way (`"3s"`, `"5m"`).
mod durations {
    use core::time::Duration;

    use humantime_serde::Serde;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let wrapped: Vec<Serde<Duration>> = v.iter().copied().map(Serde::from).collect();
        wrapped.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let wrapped = Vec::<Serde<Duration>>::deserialize(d)?;
        Ok(wrapped.into_iter().map(Serde::into_inner).collect())
    }
}

#[cfg(test)]
mod tests;
