//! The limits' side of a store a fleet of processes shares (the Redis
//! driver is the other side): what a renewal tells the store, and how the
//! store's answer is taken in. Pacing runs on a lease of sends, the retry
//! budget on a slice of the fleet's, and the breaker on the fleet's
//! verdict; when the store is out of reach, all three are this process's
//! own again.
#![cfg_attr(not(feature = "redis"), allow(dead_code))]

use core::time::Duration;

use super::breaker::{BreakerReport, Verdict};
use super::budget::SliceReport;
use super::Limits;
use crate::headers::RateLimit;

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
    pub(crate) breaker: Option<Verdict>,
}

impl Limits {
    /// Whether the store should be asked at `now`: no lease is in force or
    /// it is used up, the budget slice cannot pay for a retry, or the
    /// breaker has news or (`sending`: a send is about to be admitted)
    /// needs a probe.
    pub(crate) fn needs_store(&mut self, now: Duration, sending: bool) -> bool {
        !self.tracker.is_leased()
            || self.tracker.lease_spent(now)
            || self.budget.as_ref().is_some_and(|b| b.slice_short(now))
            || self
                .breaker
                .as_mut()
                .is_some_and(|b| b.needs_store(now, sending))
    }

    /// What a renewal at `now` tells the store; `sending`: a send is about
    /// to be admitted (only then is a probe asked for).
    pub(crate) fn report(&mut self, now: Duration, sending: bool) -> StoreReport {
        StoreReport {
            reading: self.tracker.take_forward(now),
            in_flight: self.tracker.in_flight(now),
            budget: self.budget.as_mut().map(|b| b.report()),
            breaker: self.breaker.as_mut().map(|b| b.report(sending)),
        }
    }

    /// `report` never reached the store (the renewal was cancelled on its
    /// way): what it told (failures, probe verdicts, probes given back, a
    /// budget debt, requests) is told with the next renewal instead of
    /// lost. Its reading is not put back: the next response brings another.
    pub(crate) fn unreport(&mut self, report: &StoreReport) {
        if let (Some(budget), Some(told)) = (self.budget.as_mut(), report.budget) {
            budget.unreport(told);
        }
        if let (Some(breaker), Some(told)) = (self.breaker.as_mut(), report.breaker.as_ref()) {
            breaker.unreport(told);
        }
    }

    /// Takes in the store's `answer` to `report` at `now`.
    pub(crate) fn settle(&mut self, answer: StoreAnswer, report: &StoreReport, now: Duration) {
        self.tracker.lease(answer.grant, answer.ends, now);
        if let (Some(budget), Some(granted), Some(told)) =
            (self.budget.as_mut(), answer.budget, report.budget)
        {
            budget.take_slice(granted, told, now);
        }
        if let (Some(breaker), Some(verdict)) = (self.breaker.as_mut(), answer.breaker) {
            breaker.follow(verdict, now);
        }
    }

    /// The store is out of reach: pacing on the server's own readings, a
    /// budget and a breaker of this process alone.
    pub(crate) fn go_local(&mut self) {
        self.tracker.unlease();
        if let Some(b) = self.budget.as_mut() {
            b.leave_fleet();
        }
        if let Some(b) = self.breaker.as_mut() {
            b.leave_fleet();
        }
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::StoreAnswer;
    use crate::headers::RateLimit;
    use crate::limits::breaker::Verdict;
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
        let report = limits.report(now, true);
        let answer = StoreAnswer {
            grant: 5,
            ends: Some(Duration::from_secs(10)),
            budget: Some(0),
            breaker: Some(Verdict::HalfOpen {
                granted: 0,
                ask_in: Duration::from_secs(1),
            }),
        };
        limits.settle(answer, &report, now);
        let admit = |limits: &mut Limits, grant: &mut Grant, rng: &mut fastrand::Rng| {
            limits.admit(grant, now, true, rng)
        };
        let mut grant = Grant::default();
        assert!(matches!(
            admit(&mut limits, &mut grant, &mut rng),
            Admission::Refused(_)
        ));
        assert!(!limits.charge(&mut grant, Resend::Retry, now, false));

        limits.go_local();
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
            limits.report(now, true).reading,
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
        limits.report(now, true);
        let mut rng = fastrand::Rng::with_seed(1);
        for health in [Health::Failed, Health::Ok] {
            let mut grant = Grant::default();
            limits.admit(&mut grant, now, true, &mut rng);
            limits.landed(&mut grant, None, health, now);
        }
        let lost = limits.report(now, true);
        assert_eq!(lost.breaker.map(|b| (b.ok, b.failed)), Some((1, 1)));
        assert_eq!(lost.budget.map(|b| b.requests), Some(2));
        limits.unreport(&lost);
        let again = limits.report(now, true);
        assert_eq!(again.breaker, lost.breaker);
        assert_eq!(again.budget, lost.budget);
    }
}
