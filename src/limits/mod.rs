//! Cross-call limits: the state every call to one API shares — a
//! rate-limit tracker, a retry budget and a circuit breaker.
//!
//! [`Limits`] is a plain value the caller owns (behind a `Mutex` when calls
//! run on several threads) and lends to [`Call::poll`](crate::Call::poll)
//! and [`Call::observe`](crate::Call::observe); no clock, lock or IO here.
//! It carries the settings it was built from ([`LimitsSpec`]): a call under
//! these limits meets those, whatever its own policy says of limits. Its
//! state is sealed: calls change it only through the admission protocol
//! below, and everyone else reads it through [`Limits::snapshot`].
//!
//! # The admission protocol
//!
//! Before a send, a call asks for admission. The limits grant it (counting
//! the send in flight, perhaps as a half-open probe), or veto it: wait
//! (pacing) or refuse (an open breaker). After the send, the call reports
//! how it went — the response's rate-limit reading, and whether the policy
//! calls the outcome a failure — and the limits take back the send. A retry
//! the policy decided on is paid from the budget before the call commits
//! it; a refusal turns it into [`Reason::BudgetExhausted`](crate::Reason).
//!
//! Whatever a call holds — a send in flight, a probe slot, a budget charge
//! awaiting its refund — it gives back with
//! [`Call::abandon`](crate::Call::abandon) when it will not report (the
//! drivers do this when their future is dropped or a hook panics). A call
//! that vanishes without a word cannot wedge the limits either: sends and
//! probes that never report are forgotten after
//! [`LimitsSpec::stale_after`], and no stored window outlives the policy's
//! `retry_after_cap` from when it was read.

mod breaker;
mod budget;
mod hooks;
mod tracker;

use core::time::Duration;

use serde::Serialize;

pub use crate::policy::{BreakerSpec, BudgetSpec, LimitsSpec};
pub use breaker::BreakerState;
pub use budget::BudgetState;

#[cfg(feature = "redis")]
pub(crate) use breaker::Counted;
pub(crate) use breaker::{CircuitBreaker, Health};
pub(crate) use budget::RetryBudget;
#[cfg(feature = "redis")]
pub(crate) use hooks::Wrapper;
pub(crate) use hooks::{Alone, Hooks};
pub(crate) use tracker::{Admit, RateTracker};

use crate::headers::RateLimit;
use crate::outcome::Clock;
use crate::policy::Policy;

/// Everything calls to one API share: what the rate-limit headers said, the
/// retry budget and the circuit breaker.
#[derive(Clone, Debug)]
pub struct Limits {
    own: Limiters,
    /// What wraps them (a fleet's member), consulted at every step.
    #[cfg(feature = "redis")]
    wrapper: Option<Box<dyn Wrapper>>,
}

impl PartialEq for Limits {
    fn eq(&self, other: &Self) -> bool {
        #[cfg(feature = "redis")]
        let same = match (self.wrapper.as_deref(), other.wrapper.as_deref()) {
            (Some(a), Some(b)) => a.same(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        #[cfg(not(feature = "redis"))]
        let same = true;
        same && self.own == other.own
    }
}

/// The limiters of one process, and the settings they were built from.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Limiters {
    /// The one source of every limits setting a call meets.
    pub(crate) spec: LimitsSpec,
    pub(crate) tracker: RateTracker,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) breaker: Option<CircuitBreaker>,
}

/// What shared limits know at one instant: for dashboards, health checks
/// and tests.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LimitsSnapshot {
    /// The tracker's view of the rate-limit window (its own count of the
    /// sends it let through included), if any response carried one.
    pub rate_limit: Option<RateLimit>,
    /// Sends admitted whose outcome has not been reported.
    pub in_flight: u64,
    /// The retry budget, if the policy has one.
    pub budget: Option<BudgetState>,
    /// The circuit breaker, if the policy has one.
    pub breaker: Option<BreakerState>,
}

/// What the limits have granted one call. The call holds it, reports on it,
/// and gives back what is left when it is abandoned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The current send passed admission.
    admitted: bool,
    /// Counted in flight by the tracker, in this generation.
    send: Option<u32>,
    /// A half-open probe of this trip of the breaker.
    probe: Option<u32>,
    /// What the budget charged for the latest retry; a success refunds it.
    charge: Option<u32>,
}

impl Grant {
    pub(crate) fn admitted(&self) -> bool {
        self.admitted
    }

    /// Whether giving it back would change anything.
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    pub(crate) fn holds_anything(&self) -> bool {
        self.send.is_some() || self.probe.is_some() || self.charge.is_some()
    }
}

/// What kind of re-send a call asks the budget to pay for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// One of the policy's `max_retries`.
    Retry,
    /// A rate-limit wait the policy does not count as a retry.
    UncountedWait,
}

/// The limits' answer to a send about to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Granted,
    /// Pacing: wait this long first. `capped`: the window it waits for was
    /// cut to the policy's cap.
    Wait { wait: Duration, capped: bool },
    /// The breaker is open; it lets probes through after this long.
    Refused(Duration),
}

impl Limits {
    /// Fresh limits for calls under `policy`. Its `limits` settings (and
    /// its rate-limit thresholds and `retry_after_cap`, for the tracker)
    /// are read here and only here: a call lent these limits meets them,
    /// whatever its own policy says of limits.
    pub fn new(policy: &Policy) -> Self {
        let spec = policy.spec();
        let stale = spec.limits.stale_after;
        Self {
            own: Limiters {
                spec: spec.limits,
                tracker: RateTracker::new(spec.pressure, spec.retry_after_cap, stale),
                budget: spec.limits.budget.map(RetryBudget::new),
                breaker: spec.limits.breaker.map(|b| CircuitBreaker::new(b, stale)),
            },
            #[cfg(feature = "redis")]
            wrapper: None,
        }
    }

    /// What the limits know at `clock`. Changes nothing.
    pub fn snapshot(&self, clock: Clock) -> LimitsSnapshot {
        let now = clock.mono;
        let mut at = self.own.clone();
        LimitsSnapshot {
            rate_limit: at.tracker.reading(now),
            in_flight: at.tracker.in_flight(now),
            budget: at.budget.as_mut().map(|b| b.state(now)),
            breaker: at.breaker.as_mut().map(|b| b.state(now)),
        }
    }

    /// Forgets everything: no window, nothing in flight, a full budget, a
    /// closed breaker (and, for a fleet's member, its membership: the next
    /// renewal joins afresh). Grants made before are honoured as stale:
    /// reporting or abandoning them changes nothing but a refund.
    pub fn reset(&mut self) {
        let own = &mut self.own;
        own.tracker.reset();
        if let Some(b) = own.budget.as_mut() {
            b.reset();
        }
        if let Some(b) = own.breaker.as_mut() {
            b.reset();
        }
        #[cfg(feature = "redis")]
        {
            self.wrapper = None;
        }
    }

    /// The tracker's view at `now`, for a call's event.
    pub(crate) fn reading(&mut self, now: Duration) -> Option<RateLimit> {
        self.own.tracker.reading(now)
    }

    /// Admission for a send at `now`: see [`Limiters::admit`].
    #[inline]
    pub(crate) fn admit(
        &mut self,
        grant: &mut Grant,
        now: Duration,
        first_attempt: bool,
        rng: &mut fastrand::Rng,
    ) -> Admission {
        #[cfg(feature = "redis")]
        if let Some(w) = self.wrapper.as_deref_mut() {
            return self.own.admit(w, grant, now, first_attempt, rng);
        }
        self.own.admit(&mut Alone, grant, now, first_attempt, rng)
    }

    /// The admitted send landed: see [`Limiters::landed`].
    #[inline]
    pub(crate) fn landed(
        &mut self,
        grant: &mut Grant,
        reading: Option<&RateLimit>,
        health: Health,
        now: Duration,
    ) {
        #[cfg(feature = "redis")]
        if let Some(w) = self.wrapper.as_deref_mut() {
            return self.own.landed(w, grant, reading, health, now);
        }
        self.own.landed(&mut Alone, grant, reading, health, now);
    }

    /// Pays for a re-send: see [`Limiters::charge`].
    #[inline]
    pub(crate) fn charge(
        &mut self,
        grant: &mut Grant,
        resend: Resend,
        now: Duration,
        after_timeout: bool,
    ) -> bool {
        #[cfg(feature = "redis")]
        if let Some(w) = self.wrapper.as_deref_mut() {
            return self.own.charge(w, grant, resend, now, after_timeout);
        }
        self.own
            .charge(&mut Alone, grant, resend, now, after_timeout)
    }

    /// The call is over: a success refunds its latest charge (or earns the
    /// success credit); any other end spends it.
    #[inline]
    pub(crate) fn finish(&mut self, grant: &mut Grant, succeeded: bool) {
        let charge = grant.charge.take();
        if succeeded {
            if let Some(budget) = self.own.budget.as_mut() {
                budget.deposit(charge);
            }
        }
    }

    /// Gives back everything `grant` holds: see [`Limiters::release`].
    pub(crate) fn release(&mut self, grant: &mut Grant, now: Duration) {
        #[cfg(feature = "redis")]
        if let Some(w) = self.wrapper.as_deref_mut() {
            return self.own.release(w, grant, now);
        }
        self.own.release(&mut Alone, grant, now);
    }

    /// The limiters, and the wrapper if it is a `W`.
    #[cfg(feature = "redis")]
    pub(crate) fn wrapped<W: Wrapper>(&mut self) -> (&mut Limiters, Option<&mut W>) {
        let w = self
            .wrapper
            .as_deref_mut()
            .and_then(|w| w.as_any_mut().downcast_mut());
        (&mut self.own, w)
    }

    /// Wraps the limiters in `wrapper` (replacing any other), or unwraps
    /// them with `None`.
    #[cfg(feature = "redis")]
    pub(crate) fn wrap(&mut self, wrapper: Option<Box<dyn Wrapper>>) {
        self.wrapper = wrapper;
    }
}

impl Limiters {
    /// Admission for a send at `now`: pacing by the tracker (when the
    /// policy paces), then the breaker; a first attempt is counted by a
    /// percentage budget. What is granted is written into `grant`.
    #[inline]
    fn admit<H: Hooks + ?Sized>(
        &mut self,
        hooks: &mut H,
        grant: &mut Grant,
        now: Duration,
        first_attempt: bool,
        rng: &mut fastrand::Rng,
    ) -> Admission {
        let send = if self.spec.pacing {
            match self.tracker.admit(now, self.spec.reset_jitter, rng) {
                Admit::Go(generation) => Some(generation),
                Admit::Wait { wait, capped } => return Admission::Wait { wait, capped },
            }
        } else {
            None
        };
        let probe = match self.breaker.as_mut().map(|b| hooks.breaker_admit(b, now)) {
            Some(Err(retry_after)) => {
                if let Some(generation) = send {
                    self.tracker.cancel(generation, now);
                }
                return Admission::Refused(retry_after);
            }
            Some(Ok(probe)) => probe,
            None => None,
        };
        if first_attempt {
            if let Some(budget) = self.budget.as_mut() {
                hooks.budget_request(budget, now);
            }
        }
        *grant = Grant {
            admitted: true,
            send,
            probe,
            ..*grant
        };
        Admission::Granted
    }

    /// The admitted send landed: its reading goes to the tracker, its
    /// health to the breaker, and the send is taken back.
    #[inline]
    fn landed<H: Hooks + ?Sized>(
        &mut self,
        hooks: &mut H,
        grant: &mut Grant,
        reading: Option<&RateLimit>,
        health: Health,
        now: Duration,
    ) {
        grant.admitted = false;
        hooks.tracker_landed(&mut self.tracker, grant.send.take(), reading, now);
        let probe = grant.probe.take();
        if let Some(breaker) = self.breaker.as_mut() {
            hooks.breaker_record(breaker, now, health, probe);
        }
    }

    /// Pays for a re-send; `false` when the budget cannot. A retry is
    /// always paid for, a rate-limit wait the policy does not count as one
    /// only when these limits say so. The charge is held until the call
    /// succeeds (refunded) or ends otherwise (spent).
    #[inline]
    fn charge<H: Hooks + ?Sized>(
        &mut self,
        hooks: &mut H,
        grant: &mut Grant,
        resend: Resend,
        now: Duration,
        after_timeout: bool,
    ) -> bool {
        let pays = match resend {
            Resend::Retry => true,
            Resend::UncountedWait => self.spec.charge_uncounted_waits,
        };
        let Some(budget) = self.budget.as_mut().filter(|_| pays) else {
            return true;
        };
        match hooks.budget_withdraw(budget, now, after_timeout) {
            Some(cost) => {
                grant.charge = Some(cost);
                true
            }
            None => false,
        }
    }

    /// Gives back everything `grant` holds: the send in flight and its
    /// place in the window, the probe slot, the budget charge.
    fn release<H: Hooks + ?Sized>(&mut self, hooks: &mut H, grant: &mut Grant, now: Duration) {
        let Grant {
            send,
            probe,
            charge,
            ..
        } = core::mem::take(grant);
        if let Some(generation) = send {
            self.tracker.cancel(generation, now);
        }
        if let (Some(trip), Some(breaker)) = (probe, self.breaker.as_mut()) {
            hooks.breaker_release(breaker, trip, now);
        }
        if let (Some(cost), Some(budget)) = (charge, self.budget.as_mut()) {
            budget.deposit(Some(cost));
        }
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::{BudgetSpec, BudgetState, Grant, Limits, LimitsSpec, Resend};
    use crate::outcome::Clock;
    use crate::policy::{Policy, PolicySpec};

    fn quota_of(limits: &Limits) -> u32 {
        match limits.snapshot(Clock::default()).budget {
            Some(BudgetState::Quota { tokens, .. }) => tokens,
            other => panic!("a quota, not {other:?}"),
        }
    }

    /// A retry is always paid for; a wait the policy does not count as one
    /// only when the limits' own spec says so.
    #[test]
    fn the_limits_spec_decides_whether_an_uncounted_wait_is_paid_for() {
        for charges in [false, true] {
            let policy = Policy::new(PolicySpec {
                limits: LimitsSpec {
                    budget: Some(BudgetSpec::Quota {
                        capacity: 10,
                        retry_cost: 5,
                        timeout_cost: 10,
                        success_credit: 1,
                    }),
                    charge_uncounted_waits: charges,
                    ..LimitsSpec::default()
                },
                ..PolicySpec::default()
            })
            .unwrap();
            let mut limits = Limits::new(&policy);
            let now = Duration::from_secs(1);
            assert!(limits.charge(&mut Grant::default(), Resend::UncountedWait, now, false));
            assert_eq!(quota_of(&limits), if charges { 5 } else { 10 }, "{charges}");
            assert!(limits.charge(&mut Grant::default(), Resend::Retry, now, false));
            assert_eq!(quota_of(&limits), if charges { 0 } else { 5 }, "{charges}");
        }
    }
}
