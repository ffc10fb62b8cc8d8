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

mod adaptive;
mod breaker;
mod budget;
mod limiter;
mod steps;
mod tracker;

use core::time::Duration;

use serde::Serialize;

pub use crate::policy::{BreakerSpec, BudgetSpec, LimitsSpec};
pub use breaker::BreakerState;
pub use budget::BudgetState;

use adaptive::AdaptiveRate;
#[cfg(feature = "redis")]
pub(crate) use breaker::Counted;
pub(crate) use breaker::{CircuitBreaker, Health};
pub(crate) use budget::RetryBudget;
use limiter::{Ask, Landed, Limiter};
#[cfg(feature = "redis")]
pub(crate) use steps::Wrapper;
pub(crate) use steps::{Alone, Steps};
pub(crate) use tracker::RateTracker;

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

// Users share limits between threads behind any lock (`RwLock`, `Arc`), and
// features add up across a build: no feature may take `Sync` away.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Limits>();
};

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
    pub(crate) adaptive: Option<AdaptiveRate>,
    pub(crate) breaker: Option<CircuitBreaker>,
    pub(crate) budget: Option<RetryBudget>,
}

/// How many limiters there are: a grant has a slot for each.
const SLOTS: usize = 4;

/// Runs `$body` for every limiter of `$own`, in the order they are asked
/// (pacing by the headers, then by the adaptive rate, then the breaker,
/// then the budget), with `$l` the limiter and
/// `$slot` its place in a grant. A new limiter is registered here (and as
/// a field of [`Limiters`]).
macro_rules! each_limiter {
    ($own:expr, |$l:ident, $slot:ident| $body:expr) => {{
        {
            let ($l, $slot) = (&mut $own.tracker, 0);
            $body
        }
        {
            let ($l, $slot) = (&mut $own.adaptive, 3);
            $body
        }
        {
            let ($l, $slot) = (&mut $own.breaker, 1);
            $body
        }
        {
            let ($l, $slot) = (&mut $own.budget, 2);
            $body
        }
    }};
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
    /// The adaptive rate, sends per second, while it paces (after a
    /// throttle, until `stale_after` passes without one).
    pub send_rate: Option<f64>,
}

/// What the limits have granted one call. The call holds it, reports on it,
/// and gives back what is left when it is abandoned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The current send passed admission.
    admitted: bool,
    /// What each limiter holds for the call, in its slot: the tracker a
    /// send in flight (its generation), the breaker a half-open probe (its
    /// trip), the budget the latest retry's charge (a success refunds it).
    holds: [Option<u32>; SLOTS],
}

impl Grant {
    pub(crate) fn admitted(&self) -> bool {
        self.admitted
    }

    /// Whether giving it back would change anything.
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    pub(crate) fn holds_anything(&self) -> bool {
        self.holds.iter().any(Option::is_some)
    }
}

/// What kind of re-send a call asks the budget to pay for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resend {
    /// One of the policy's `max_retries`.
    Retry,
    /// A rate-limit wait the policy does not count as a retry.
    UncountedWait,
    /// One of `max_retries`, after a throttle: with the adaptive rate on,
    /// the rate paces it and the budget, kept for a failing server, does
    /// not pay.
    Throttled,
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
                adaptive: (spec.limits.adaptive).then(|| AdaptiveRate::new(&spec.limits)),
                budget: spec.limits.budget.map(RetryBudget::new),
                breaker: spec.limits.breaker.map(|b| CircuitBreaker::new(b, stale)),
            },
            #[cfg(feature = "redis")]
            wrapper: None,
        }
    }

    /// What the limits know at `clock`. Changes nothing.
    pub fn snapshot(&self, clock: Clock) -> LimitsSnapshot {
        let mut at = self.own.clone();
        let mut snapshot = LimitsSnapshot {
            rate_limit: None,
            in_flight: 0,
            budget: None,
            breaker: None,
            send_rate: None,
        };
        each_limiter!(at, |l, _slot| l.show(clock.mono, &mut snapshot));
        snapshot
    }

    /// Forgets everything: no window, nothing in flight, a full budget, a
    /// closed breaker (and, for a fleet's member, its membership: the next
    /// renewal joins afresh). Grants made before are honoured as stale:
    /// reporting or abandoning them changes nothing but a refund.
    pub fn reset(&mut self) {
        each_limiter!(self.own, |l, _slot| l.reset());
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
        each_limiter!(self.own, |l, slot| l
            .finish(&mut grant.holds[slot], succeeded));
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
    /// Admission for a send at `now`: every limiter in turn may let it
    /// through (holding something for it) or answer instead; an answer
    /// gives back what the limiters before it took. What is granted is
    /// written into `grant`.
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        grant: &mut Grant,
        now: Duration,
        first_attempt: bool,
        rng: &mut fastrand::Rng,
    ) -> Admission {
        let mut ask = Ask {
            now,
            first_attempt,
            spec: &self.spec,
            rng,
            by_reading: false,
        };
        let mut taken = [None; SLOTS];
        let mut answer = None;
        each_limiter!(self, |l, slot| if answer.is_none() {
            match Limiter::admit(l, steps, &mut ask) {
                Ok(hold) => taken[slot] = hold,
                Err(a) => answer = Some(a),
            }
        });
        if let Some(answer) = answer {
            each_limiter!(self, |l, slot| if let Some(hold) = taken[slot] {
                l.release(steps, hold, now);
            });
            return answer;
        }
        grant.admitted = true;
        for (hold, taken) in grant.holds.iter_mut().zip(taken) {
            if taken.is_some() {
                *hold = taken;
            }
        }
        Admission::Granted
    }

    /// The admitted send landed: its reading goes to the tracker, its
    /// health to the breaker, and the send is taken back.
    #[inline]
    fn landed<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        grant: &mut Grant,
        reading: Option<&RateLimit>,
        health: Health,
        now: Duration,
    ) {
        grant.admitted = false;
        let news = Landed {
            now,
            reading,
            health,
        };
        each_limiter!(self, |l, slot| Limiter::landed(
            l,
            steps,
            &mut grant.holds[slot],
            &news
        ));
    }

    /// Pays for a re-send; `false` when a limiter (the budget) will not.
    /// The charge is held until the call succeeds (refunded) or ends
    /// otherwise (spent).
    #[inline]
    fn charge<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        grant: &mut Grant,
        resend: Resend,
        now: Duration,
        after_timeout: bool,
    ) -> bool {
        let mut paid = true;
        let spec = &self.spec;
        each_limiter!(self, |l, slot| {
            paid = paid
                && l.charge(
                    steps,
                    &mut grant.holds[slot],
                    resend,
                    spec,
                    now,
                    after_timeout,
                );
        });
        paid
    }

    /// Gives back everything `grant` holds: the send in flight and its
    /// place in the window, the probe slot, the budget charge.
    fn release<H: Steps + ?Sized>(&mut self, steps: &mut H, grant: &mut Grant, now: Duration) {
        let Grant { holds, .. } = core::mem::take(grant);
        each_limiter!(self, |l, slot| if let Some(hold) = holds[slot] {
            l.release(steps, hold, now);
        });
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

    /// Limits under `spec` with a quota of 10 tokens, 5 a retry.
    fn quota_of_ten(spec: LimitsSpec) -> Limits {
        let policy = Policy::new(PolicySpec {
            limits: LimitsSpec {
                budget: Some(BudgetSpec::Quota {
                    capacity: 10,
                    retry_cost: 5,
                    timeout_cost: 10,
                    success_credit: 1,
                }),
                ..spec
            },
            ..PolicySpec::default()
        })
        .unwrap();
        Limits::new(&policy)
    }

    /// A retry is always paid for; a wait the policy does not count as one
    /// only when the limits' own spec says so.
    #[test]
    fn the_limits_spec_decides_whether_an_uncounted_wait_is_paid_for() {
        for charges in [false, true] {
            let mut limits = quota_of_ten(LimitsSpec {
                charge_uncounted_waits: charges,
                ..LimitsSpec::default()
            });
            let now = Duration::from_secs(1);
            assert!(limits.charge(&mut Grant::default(), Resend::UncountedWait, now, false));
            assert_eq!(quota_of(&limits), if charges { 5 } else { 10 }, "{charges}");
            assert!(limits.charge(&mut Grant::default(), Resend::Retry, now, false));
            assert_eq!(quota_of(&limits), if charges { 0 } else { 5 }, "{charges}");
        }
    }

    /// A retry after a throttle is the adaptive rate's to pace, when there
    /// is one: the budget, kept for a failing server, does not pay for it.
    #[test]
    fn a_throttled_retry_is_paid_for_only_without_the_adaptive_rate() {
        for adaptive in [false, true] {
            let mut limits = quota_of_ten(LimitsSpec {
                adaptive,
                ..LimitsSpec::default()
            });
            let now = Duration::from_secs(1);
            assert!(limits.charge(&mut Grant::default(), Resend::Throttled, now, false));
            assert_eq!(
                quota_of(&limits),
                if adaptive { 10 } else { 5 },
                "{adaptive}"
            );
            assert!(limits.charge(&mut Grant::default(), Resend::Retry, now, false));
            assert_eq!(
                quota_of(&limits),
                if adaptive { 5 } else { 0 },
                "{adaptive}"
            );
        }
    }
}
