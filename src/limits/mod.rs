//! Cross-call limits: the state every call to one API shares — a
//! rate-limit tracker, a retry budget and a circuit breaker. Plain values
//! the caller owns (behind a `Mutex` when calls run on several threads) and
//! lends to [`Call::poll_with`](crate::Call::poll_with) and
//! [`Call::observe_with`](crate::Call::observe_with); no clock, lock or IO
//! here.

pub mod breaker;
pub mod budget;
pub mod tracker;

use core::time::Duration;

use serde::{Deserialize, Serialize};

pub use breaker::{BreakerSpec, BreakerState, CircuitBreaker};
pub use budget::{BudgetSpec, RetryBudget};
pub use tracker::{Admit, RateTracker};

use crate::policy::Policy;

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
    /// The retry budget, if any.
    pub budget: Option<BudgetSpec>,
    /// The circuit breaker, if any (off by default).
    pub breaker: Option<BreakerSpec>,
}

impl Default for LimitsSpec {
    fn default() -> Self {
        Self {
            pacing: true,
            reset_jitter: Duration::from_secs(1),
            budget: None,
            breaker: None,
        }
    }
}

/// Everything calls to one API share.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// What the rate-limit headers said.
    pub tracker: RateTracker,
    /// The retry budget, if the policy has one.
    pub budget: Option<RetryBudget>,
    /// The circuit breaker, if the policy has one.
    pub breaker: Option<CircuitBreaker>,
}

impl Limits {
    /// Fresh limits for calls under `policy`.
    pub fn new(policy: &Policy) -> Self {
        let spec = policy.spec();
        Self {
            tracker: RateTracker::new(spec.pressure),
            budget: spec.limits.budget.map(RetryBudget::new),
            breaker: spec.limits.breaker.map(CircuitBreaker::new),
        }
    }
}
