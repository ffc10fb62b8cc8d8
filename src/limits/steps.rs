//! The seam a wrapper of the limits plugs into. The limits consult each
//! limiter through [`Steps`], whose defaults are the process's own rules;
//! a wrapper (a fleet's member, in the Redis driver) overrides the steps it
//! runs differently and keeps its own books beside them, so that no
//! limiter here knows of any wrapper.

use core::time::Duration;

use super::breaker::{CircuitBreaker, Health};
use super::budget::RetryBudget;
use super::tracker::RateTracker;
use crate::headers::RateLimit;

/// How the limits consult each limiter. Every method's default is what a
/// process alone does.
pub(crate) trait Steps {
    /// A send landed (`send`: its generation, when the tracker let it
    /// through), with the response's reading if it carried one.
    #[inline]
    fn tracker_landed(
        &mut self,
        t: &mut RateTracker,
        send: Option<u32>,
        reading: Option<&RateLimit>,
        now: Duration,
    ) {
        match send {
            Some(generation) => t.landed(generation, reading, now),
            None => {
                if let Some(r) = reading {
                    t.observe(r, now);
                }
            }
        }
    }

    /// Admission by the breaker: `Ok(Some(trip))` for a half-open probe.
    #[inline]
    fn breaker_admit(
        &mut self,
        b: &mut CircuitBreaker,
        now: Duration,
    ) -> Result<Option<u32>, Duration> {
        b.admit(now)
    }

    /// A send's health, for the breaker; `probe`: the trip it probed.
    #[inline]
    fn breaker_record(
        &mut self,
        b: &mut CircuitBreaker,
        now: Duration,
        health: Health,
        probe: Option<u32>,
    ) {
        b.record(now, health, probe);
    }

    /// A probe of `trip` will not report.
    #[inline]
    fn breaker_release(&mut self, b: &mut CircuitBreaker, trip: u32, now: Duration) {
        b.release(trip, now);
    }

    /// A first attempt was admitted, for the budget.
    #[inline]
    fn budget_request(&mut self, b: &mut RetryBudget, now: Duration) {
        b.on_request(now);
    }

    /// A retry asks the budget to pay: its cost, or `None`.
    #[inline]
    fn budget_withdraw(
        &mut self,
        b: &mut RetryBudget,
        now: Duration,
        after_timeout: bool,
    ) -> Option<u32> {
        b.withdraw(now, after_timeout)
    }
}

/// A process alone: every default.
pub(crate) struct Alone;

impl Steps for Alone {}

/// A wrapper the limits hold and consult through its [`Steps`].
#[cfg(feature = "redis")]
pub(crate) trait Wrapper: Steps + core::fmt::Debug + Send + Sync + 'static {
    /// A copy, for a copy of the limits.
    fn clone_box(&self) -> Box<dyn Wrapper>;

    /// The wrapper as what it is, for its owner to reach.
    fn as_any_mut(&mut self) -> &mut dyn core::any::Any;

    /// The wrapper as what it is, to compare.
    fn as_any(&self) -> &dyn core::any::Any;

    /// Whether `other` is a wrapper of the same kind in the same state.
    fn same(&self, other: &dyn Wrapper) -> bool;
}

#[cfg(feature = "redis")]
impl Clone for Box<dyn Wrapper> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}
