//! A fleet member's side of the store a fleet shares: what a renewal tells
//! the store, and how the store's answer is taken in. It wraps the
//! process's own limits ([`Limits`]) and keeps its books beside them:
//! pacing runs on a lease of sends, the retry budget on a slice of the
//! fleet's, and the breaker on the fleet's verdict; when the store is out
//! of reach, the wrapper is dropped and all three are the process's own
//! again.

mod breaker;
mod lease;
mod slice;

use core::time::Duration;

pub(crate) use breaker::{BreakerReport, FleetBreaker};
pub(crate) use slice::SliceReport;

use crate::headers::RateLimit;
use crate::limits::{
    Alone, CircuitBreaker, Health, Limits, RateTracker, RetryBudget, Steps, Wrapper,
};

/// What one renewal tells the store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StoreReport {
    /// The latest server reading kept while leased, and its age.
    pub(crate) reading: Option<(RateLimit, Duration)>,
    /// Sends admitted that have not landed.
    pub(crate) in_flight: u64,
    /// The budget slice, when the policy has a budget.
    pub(crate) budget: Option<SliceReport>,
    /// The breaker's news, when the policy has a breaker.
    pub(crate) breaker: Option<BreakerReport>,
}

/// The store's answer to a [`StoreReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoreAnswer {
    /// Sends this process may make until `ends`.
    pub(crate) grant: u64,
    /// When the fleet's window ends (or when to ask again, if nothing was
    /// granted), from now.
    pub(crate) ends: Option<Duration>,
    /// What the budget slice now holds.
    pub(crate) budget: Option<u32>,
    /// The fleet breaker's verdict.
    pub(crate) breaker: Option<FleetBreaker>,
}

/// The member's books: what wraps the process's limits while it belongs
/// to a fleet.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Mirror {
    lease: lease::Lease,
    breaker: breaker::BreakerBooks,
    /// The budget's slice, when the policy has a budget.
    slice: Option<slice::Slice>,
}

impl Steps for Mirror {
    fn tracker_landed(
        &mut self,
        t: &mut RateTracker,
        send: Option<u32>,
        reading: Option<&RateLimit>,
        now: Duration,
    ) {
        // Before the first lease, readings are the process's own.
        if t.granted(now).is_none() {
            return Alone.tracker_landed(t, send, reading, now);
        }
        if let Some(generation) = send {
            t.landed(generation, None, now);
        }
        if let Some(r) = reading {
            self.lease.keep(t, r, now);
        }
    }

    fn breaker_admit(
        &mut self,
        b: &mut CircuitBreaker,
        now: Duration,
    ) -> Result<Option<u32>, Duration> {
        self.breaker.admit(b, now)
    }

    fn breaker_record(
        &mut self,
        b: &mut CircuitBreaker,
        now: Duration,
        health: Health,
        probe: Option<u32>,
    ) {
        self.breaker.record(b, now, health, probe);
    }

    fn breaker_release(&mut self, b: &mut CircuitBreaker, trip: u32, now: Duration) {
        self.breaker.release(b, trip, now);
    }

    fn budget_request(&mut self, b: &mut RetryBudget, now: Duration) {
        match self.slice.as_mut() {
            Some(slice) => slice.on_request(b, now),
            None => b.on_request(now),
        }
    }

    fn budget_withdraw(
        &mut self,
        b: &mut RetryBudget,
        now: Duration,
        after_timeout: bool,
    ) -> Option<u32> {
        match self.slice.as_mut() {
            Some(slice) => slice.withdraw(b, now, after_timeout),
            None => b.withdraw(now, after_timeout),
        }
    }
}

impl Wrapper for Mirror {
    fn clone_box(&self) -> Box<dyn Wrapper> {
        Box::new(self.clone())
    }

    fn as_any_mut(&mut self) -> &mut dyn core::any::Any {
        self
    }

    fn as_any(&self) -> &dyn core::any::Any {
        self
    }

    fn same(&self, other: &dyn Wrapper) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }
}

/// Whether the store should be asked at `now`: the process is no member
/// yet, no lease is in force or it is used up, the budget slice cannot pay
/// for a retry, or the breaker has news or (`sending`: a send is about to
/// be admitted) needs a probe.
pub(crate) fn needs_store(limits: &mut Limits, now: Duration, sending: bool) -> bool {
    let (own, Some(m)) = limits.wrapped::<Mirror>() else {
        return true;
    };
    m.lease.spent(&mut own.tracker, now)
        || own
            .budget
            .as_mut()
            .zip(m.slice.as_ref())
            .is_some_and(|(b, slice)| slice.short(b, now))
        || own
            .breaker
            .as_mut()
            .is_some_and(|b| m.breaker.needs_store(b, now, sending))
}

/// What a renewal at `now` tells the store; `sending`: a send is about to
/// be admitted (only then is a probe asked for). The first makes the
/// process a member: its breaker's word is the store's from then on, and
/// its budget a slice that holds nothing yet.
pub(crate) fn report(limits: &mut Limits, now: Duration, sending: bool) -> StoreReport {
    let (own, m) = limits.wrapped::<Mirror>();
    let (budget, breaker) = match m {
        Some(m) => (
            own.budget
                .as_mut()
                .zip(m.slice.as_mut())
                .map(|(b, s)| s.report(b)),
            own.breaker.as_ref().map(|b| m.breaker.report(b, sending)),
        ),
        None => {
            let slice = own.spec.budget.zip(own.budget.as_mut());
            let mirror = Mirror {
                slice: slice.map(|(spec, b)| slice::Slice::join(spec, b)),
                ..Mirror::default()
            };
            let first = (
                mirror.slice.map(|_| SliceReport::default()),
                own.breaker.as_ref().map(|_| BreakerReport::default()),
            );
            limits.wrap(Some(Box::new(mirror)));
            first
        }
    };
    let (own, m) = limits.wrapped::<Mirror>();
    StoreReport {
        reading: m.and_then(|m| m.lease.take_forward(now)),
        in_flight: own.tracker.in_flight(now),
        budget,
        breaker,
    }
}

/// `report` never reached the store (the renewal was cancelled on its
/// way): what it told (failures, probe verdicts, probes given back, a
/// budget debt, requests) is told with the next renewal instead of lost.
/// Its reading is not put back: the next response brings another.
pub(crate) fn unreport(limits: &mut Limits, report: &StoreReport) {
    let (_, Some(m)) = limits.wrapped::<Mirror>() else {
        return;
    };
    if let (Some(slice), Some(told)) = (m.slice.as_mut(), report.budget) {
        slice.unreport(told);
    }
    if let Some(told) = report.breaker.as_ref() {
        m.breaker.unreport(told);
    }
}

/// Takes in the store's `answer` to `report` at `now`.
pub(crate) fn settle(
    limits: &mut Limits,
    answer: StoreAnswer,
    report: &StoreReport,
    now: Duration,
) {
    let (own, Some(m)) = limits.wrapped::<Mirror>() else {
        return;
    };
    m.lease
        .take(&mut own.tracker, answer.grant, answer.ends, now);
    if let (Some(b), Some(slice), Some(granted), Some(told)) = (
        own.budget.as_mut(),
        m.slice.as_mut(),
        answer.budget,
        report.budget,
    ) {
        slice.take(b, granted, told, now);
    }
    if let (Some(b), Some(verdict)) = (own.breaker.as_mut(), answer.breaker) {
        m.breaker.follow(b, verdict, now);
    }
}

/// The store is out of reach: pacing on the server's own readings, a
/// budget and a breaker of this process alone.
pub(crate) fn go_local(limits: &mut Limits) {
    let (own, m) = limits.wrapped::<Mirror>();
    let slice = m.and_then(|m| m.slice.take());
    own.tracker.ungrant();
    if let (Some(b), Some(slice)) = (own.budget.as_mut(), slice) {
        slice.leave(b);
    }
    limits.wrap(None);
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::{go_local, report, settle, unreport, FleetBreaker, StoreAnswer};
    use crate::headers::RateLimit;
    use crate::limits::{
        Admission, BreakerSpec, BudgetSpec, Grant, Health, Limits, LimitsSpec, Resend,
    };
    use crate::policy::{Policy, PolicySpec};

    /// A policy with `budget` and a breaker of one probe.
    fn with_budget(budget: BudgetSpec) -> Policy {
        Policy::new(PolicySpec {
            limits: LimitsSpec {
                budget: Some(budget),
                breaker: Some(BreakerSpec {
                    failure_ratio: 0.5,
                    window: Duration::from_secs(10),
                    min_outcomes: 4,
                    break_for: Duration::from_secs(30),
                    probes: 1,
                }),
                ..LimitsSpec::default()
            },
            ..PolicySpec::default()
        })
        .unwrap()
    }

    /// Out of the store's reach, each limit is the process's own again: a
    /// half-open breaker lets its own probe through (the fleet granted it
    /// none), the quota is full (the fleet's slice was empty), and the
    /// server's readings pace the process instead of waiting for the store.
    #[test]
    fn out_of_the_stores_reach_the_limits_are_the_processs_own() {
        let policy = with_budget(BudgetSpec::Quota {
            capacity: 10,
            retry_cost: 5,
            timeout_cost: 10,
            success_credit: 1,
        });
        let mut rng = fastrand::Rng::with_seed(1);
        let mut limits = Limits::new(&policy);
        let now = Duration::from_secs(1);
        let told = report(&mut limits, now, true);
        let answer = StoreAnswer {
            grant: 5,
            ends: Some(Duration::from_secs(10)),
            budget: Some(0),
            breaker: Some(FleetBreaker::HalfOpen {
                granted: 0,
                ask_in: Duration::from_secs(1),
            }),
        };
        settle(&mut limits, answer, &told, now);
        let admit = |limits: &mut Limits, grant: &mut Grant, rng: &mut fastrand::Rng| {
            limits.admit(grant, now, true, rng)
        };
        let mut grant = Grant::default();
        assert!(matches!(
            admit(&mut limits, &mut grant, &mut rng),
            Admission::Refused(_)
        ));
        assert!(!limits.charge(&mut grant, Resend::Retry, now, false));

        go_local(&mut limits);
        assert_eq!(admit(&mut limits, &mut grant, &mut rng), Admission::Granted);
        assert!(limits.charge(&mut grant, Resend::Retry, now, false));
        let exhausted = RateLimit {
            limit: Some(100),
            remaining: Some(0),
            reset: Some(Duration::from_secs(5)),
            ..RateLimit::default()
        };
        limits.landed(&mut grant, Some(&exhausted), Health::Ok, now);
        assert!(matches!(
            admit(&mut limits, &mut Grant::default(), &mut rng),
            Admission::Wait { .. }
        ));
        assert_eq!(
            report(&mut limits, now, true).reading,
            None,
            "nothing kept for the store"
        );
    }

    #[test]
    fn a_report_that_never_arrived_is_told_again() {
        let policy = with_budget(BudgetSpec::Percentage {
            basis_points: 1000,
            window: Duration::from_secs(10),
            min_per_second: 0,
        });
        let mut limits = Limits::new(&policy);
        let now = Duration::from_secs(1);
        report(&mut limits, now, true);
        let mut rng = fastrand::Rng::with_seed(1);
        for health in [Health::Failed, Health::Ok] {
            let mut grant = Grant::default();
            limits.admit(&mut grant, now, true, &mut rng);
            limits.landed(&mut grant, None, health, now);
        }
        let lost = report(&mut limits, now, true);
        assert_eq!(lost.breaker.map(|b| (b.ok, b.failed)), Some((1, 1)));
        assert_eq!(lost.budget.map(|b| b.requests), Some(2));
        unreport(&mut limits, &lost);
        let again = report(&mut limits, now, true);
        assert_eq!(again.breaker, lost.breaker);
        assert_eq!(again.budget, lost.budget);
    }
}
