//! The policy's knobs for the limits calls share (pacing, the retry budget,
//! the circuit breaker), and what makes them nonsense. The limits
//! themselves are in `crate::limits`.

use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::PolicyError;

/// The policy's knobs for cross-call limits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSpec {
    /// Pace sends by the rate-limit tracker (wait out an exhausted window,
    /// spread a critical one).
    pub pacing: bool,
    /// Up to this much random extra wait after an exhausted window resets,
    /// so that waiting clients do not all return at the same instant.
    #[serde(with = "humantime_serde")]
    pub reset_jitter: Duration,
    /// Slow down when the server throttles without saying how fast to go:
    /// the AWS SDKs' adaptive rate (CUBIC over the measured send rate).
    /// A 429 or a rule marked `throttle` (503 by default) drops the allowed
    /// rate; successes raise it; `stale_after` without a throttle ends the
    /// pacing. When `pacing` is on, a throttle that carries a rate-limit
    /// reading is the tracker's to answer, unless the tracker let its send
    /// through on a reading: then others share the window unseen, and the
    /// rate drops too. Off by default.
    pub adaptive: bool,
    /// Throttles landing within this of the adaptive rate's last drop are
    /// the same overload (sends already on their way when the rate fell)
    /// and drop it no further. The AWS SDKs drop it on every throttle
    /// (zero); by default half a second, the measured rate's bucket (which
    /// a scaled-down policy keeps: the bucket is not scaled either). A gap
    /// longer than `stale_after` is cut to it.
    ///
    /// Zero keeps the SDKs' rules exactly. Above zero, two more of
    /// steadfast's own hold: a throttle before the rate's first half-second
    /// has closed takes the sends landed so far as a second's worth (the
    /// SDKs have measured nothing yet and drop to their floor), and a retry
    /// after a throttle waits the schedule's first step each time (the rate
    /// spaces those sends; a longer wait each time only leaves stragglers).
    #[serde(with = "humantime_serde")]
    pub throttle_gap: Duration,
    /// How much of the adaptive rate its token bucket holds when full: the
    /// burst of sends it lets go at once. By default a second of it, as in
    /// the AWS SDKs. A server that limits by a leaky bucket with a small
    /// burst (nginx's `limit_req`) turns much of a second's burst away: a
    /// tenth of a second suits it better. At least one token.
    #[serde(with = "humantime_serde")]
    pub adaptive_burst: Duration,
    /// The retry budget, if any.
    pub budget: Option<BudgetSpec>,
    /// The circuit breaker, if any (off by default).
    pub breaker: Option<BreakerSpec>,
    /// Charge the budget for rate-limit waits that do not count as retries
    /// ([`RateLimitRule::counts_as_retry`](crate::RateLimitRule) false).
    /// Off by default: a retry is what the policy counts as one.
    pub charge_uncounted_waits: bool,
    /// A send admitted or a half-open probe let through that has not
    /// reported after this long is forgotten (its call vanished without
    /// [`Call::abandon`](crate::Call::abandon)). Must be above zero.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        Self {
            pacing: true,
            reset_jitter: Duration::from_secs(1),
            adaptive: false,
            throttle_gap: Duration::from_millis(500),
            adaptive_burst: Duration::from_secs(1),
            budget: None,
            breaker: None,
            charge_uncounted_waits: false,
            stale_after: Duration::from_secs(60),
        }
    }
}

/// How the budget is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BudgetSpec {
    /// The AWS SDKs' "standard" retry quota: a retry costs `retry_cost`
    /// (`timeout_cost` after a timeout); a success refunds what its last
    /// retry cost, or adds `success_credit` when it needed none; the quota
    /// never exceeds `capacity`.
    Quota {
        /// Tokens when full (AWS: 500).
        capacity: u32,
        /// Cost of a retry (AWS: 5).
        retry_cost: u32,
        /// Cost of a retry after a timeout (AWS: 10).
        timeout_cost: u32,
        /// Added by a success that needed no retry (AWS: 1).
        success_credit: u32,
    },
    /// Retries at most `basis_points` / 10,000 of the requests made in the
    /// last `window`, plus `min_per_second` retries per second of it. In
    /// basis points so that a fractional percentage (12.5 % = 1250) is
    /// exact.
    Percentage {
        /// Allowed retries per 10,000 requests.
        basis_points: u32,
        /// The window requests and retries are counted over.
        #[serde(with = "humantime_serde")]
        window: Duration,
        /// Retries always allowed per second of window.
        min_per_second: u32,
    },
}

impl BudgetSpec {
    /// The AWS SDKs' standard-mode quota.
    pub const AWS_STANDARD: Self = Self::Quota {
        capacity: 500,
        retry_cost: 5,
        timeout_cost: 10,
        success_credit: 1,
    };
}

/// When the breaker opens and how it recovers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Open when failures exceed this fraction of the outcomes in the
    /// window (0 < ratio <= 1)...
    pub failure_ratio: f64,
    /// ...counted over this window...
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// ...once it holds at least this many outcomes.
    pub min_outcomes: u32,
    /// How long it stays open.
    #[serde(with = "humantime_serde")]
    pub break_for: Duration,
    /// How many sends it lets through half-open; all must succeed to close.
    pub probes: u32,
}

impl LimitsSpec {
    /// The adaptive rate follows the AWS SDKs' rules exactly (a zero
    /// `throttle_gap`), without steadfast's own for the first burst and
    /// for throttled retries.
    pub(crate) fn sdk_adaptive(&self) -> bool {
        self.throttle_gap.is_zero()
    }

    /// Every duration divided by `by`; the percentage budget's floor, a
    /// rate per second, multiplied by it, so that a window still allows as
    /// many retries.
    pub(super) fn scaled_down(self, by: u32) -> Self {
        let budget = self.budget.map(|budget| match budget {
            BudgetSpec::Percentage {
                basis_points,
                window,
                min_per_second,
            } => BudgetSpec::Percentage {
                basis_points,
                window: window / by,
                min_per_second: min_per_second.saturating_mul(by),
            },
            quota @ BudgetSpec::Quota { .. } => quota,
        });
        let breaker = self.breaker.map(|breaker| BreakerSpec {
            window: breaker.window / by,
            break_for: breaker.break_for / by,
            ..breaker
        });
        Self {
            reset_jitter: self.reset_jitter / by,
            stale_after: self.stale_after / by,
            budget,
            breaker,
            ..self
        }
    }
}

pub(super) fn validate_limits(limits: &LimitsSpec) -> Result<(), PolicyError> {
    if limits.stale_after.is_zero() {
        return Err(PolicyError::ZeroStaleAfter);
    }
    match limits.budget {
        Some(BudgetSpec::Quota { capacity: 0, .. }) => {
            return Err(PolicyError::BadBudget("quota capacity is zero"));
        }
        Some(BudgetSpec::Percentage { window, .. }) if window.is_zero() => {
            return Err(PolicyError::BadBudget("percentage window is zero"));
        }
        _ => {}
    }
    if let Some(BreakerSpec {
        failure_ratio,
        window,
        break_for,
        probes,
        ..
    }) = limits.breaker
    {
        if !(failure_ratio > 0.0 && failure_ratio <= 1.0) {
            return Err(PolicyError::BadBreaker("failure_ratio must be in (0, 1]"));
        }
        if window.is_zero() || break_for.is_zero() {
            return Err(PolicyError::BadBreaker(
                "window and break_for must be above zero",
            ));
        }
        if probes == 0 {
            return Err(PolicyError::BadBreaker("probes must be at least 1"));
        }
    }
    Ok(())
}
