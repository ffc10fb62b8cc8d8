//! The retry budget: a token bucket shared by every call to one API, so that
//! an outage cannot multiply the load by the number of retries. Two kinds,
//! each its own type: a quota of tokens (the AWS SDKs') and a percentage of
//! recent requests.

mod percentage;
mod quota;

use core::time::Duration;

use serde::Serialize;

use super::limiter::{Ask, Limiter};
use super::{Admission, LimitsSnapshot, LimitsSpec, Resend, Steps};
use crate::policy::BudgetSpec;
use percentage::Percentage;
use quota::Quota;

/// What a retry budget holds, for dashboards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BudgetState {
    /// A quota: tokens left, of its capacity.
    Quota {
        /// Tokens left.
        tokens: u32,
        /// Tokens when full.
        capacity: u32,
    },
    /// A percentage of recent requests: what the window holds now.
    Percentage {
        /// First attempts counted in the window.
        requests: u64,
        /// Retries counted in the window.
        retries: u64,
    },
}

/// The budget's state. Plain data: no clock, no lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryBudget {
    kind: Kind,
}

// One budget per `Limits`, read on every request: a box would cost an
// indirection there to save 200 bytes once.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Quota(Quota),
    Percentage(Percentage),
}

impl RetryBudget {
    /// A full budget.
    pub(crate) fn new(spec: BudgetSpec) -> Self {
        let kind = match spec {
            BudgetSpec::Quota {
                capacity,
                retry_cost,
                timeout_cost,
                success_credit,
            } => Kind::Quota(Quota::new(
                capacity,
                retry_cost,
                timeout_cost,
                success_credit,
            )),
            BudgetSpec::Percentage {
                basis_points,
                window,
                min_per_second,
            } => Kind::Percentage(Percentage::new(basis_points, window, min_per_second)),
        };
        Self { kind }
    }

    /// Full again, with empty counts.
    pub(crate) fn reset(&mut self) {
        match &mut self.kind {
            Kind::Quota(q) => q.refill(),
            Kind::Percentage(p) => p.reset(),
        }
    }

    /// A quota's tokens, for a wrapper that keeps them as its slice of a
    /// fleet's.
    #[cfg(feature = "redis")]
    pub(crate) fn quota_tokens(&mut self) -> Option<&mut u32> {
        match &mut self.kind {
            Kind::Quota(q) => Some(&mut q.tokens),
            Kind::Percentage(_) => None,
        }
    }

    /// Counts a retry a percentage's window did not pay for (a fleet's
    /// slice did).
    #[cfg(feature = "redis")]
    pub(crate) fn count_retry(&mut self, now: Duration) {
        if let Kind::Percentage(p) = &mut self.kind {
            p.count_retry(now);
        }
    }

    /// What it holds at `now`.
    pub(crate) fn state(&mut self, now: Duration) -> BudgetState {
        match &mut self.kind {
            Kind::Quota(q) => BudgetState::Quota {
                tokens: q.tokens,
                capacity: q.capacity,
            },
            Kind::Percentage(p) => {
                let (requests, retries) = p.counts(now);
                BudgetState::Percentage { requests, retries }
            }
        }
    }

    /// Counts a first attempt (percentage mode).
    #[inline]
    pub(crate) fn on_request(&mut self, now: Duration) {
        if let Kind::Percentage(p) = &mut self.kind {
            p.on_request(now);
        }
    }

    /// Takes what a retry costs; `None` when the budget cannot pay. The
    /// returned cost is what a later success refunds.
    #[inline]
    pub(crate) fn withdraw(&mut self, now: Duration, after_timeout: bool) -> Option<u32> {
        match &mut self.kind {
            Kind::Quota(q) => q.withdraw(after_timeout),
            Kind::Percentage(p) => p.withdraw(now),
        }
    }

    /// A success: refunds `cost` (what its last retry withdrew) or, when it
    /// needed no retry, adds the success credit; never above capacity.
    #[inline]
    pub(crate) fn deposit(&mut self, cost: Option<u32>) {
        if let Kind::Quota(q) = &mut self.kind {
            q.deposit(cost);
        }
    }
}

/// The budget counts first attempts (a percentage), pays for re-sends,
/// and holds a retry's charge until the call ends: a success refunds it.
impl Limiter for RetryBudget {
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        ask: &mut Ask<'_>,
    ) -> Result<Option<u32>, Admission> {
        if ask.first_attempt {
            steps.budget_request(self, ask.now);
        }
        Ok(None)
    }

    /// A retry is always paid for, a rate-limit wait the policy does not
    /// count as one only when the limits say so.
    #[inline]
    fn charge<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        hold: &mut Option<u32>,
        resend: Resend,
        spec: &LimitsSpec,
        now: Duration,
        after_timeout: bool,
    ) -> bool {
        let free = match resend {
            Resend::Retry => false,
            Resend::UncountedWait => !spec.charge_uncounted_waits,
            Resend::Throttled => spec.adaptive,
        };
        if free {
            return true;
        }
        match steps.budget_withdraw(self, now, after_timeout) {
            Some(cost) => {
                *hold = Some(cost);
                true
            }
            None => false,
        }
    }

    #[inline]
    fn finish(&mut self, hold: &mut Option<u32>, succeeded: bool) {
        let charge = hold.take();
        if succeeded {
            self.deposit(charge);
        }
    }

    fn release<H: Steps + ?Sized>(&mut self, _: &mut H, cost: u32, _: Duration) {
        self.deposit(Some(cost));
    }

    fn show(&mut self, now: Duration, snapshot: &mut LimitsSnapshot) {
        snapshot.budget = Some(self.state(now));
    }

    fn reset(&mut self) {
        RetryBudget::reset(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn tokens(b: &mut RetryBudget) -> u32 {
        match b.state(Duration::ZERO) {
            BudgetState::Quota { tokens, .. } => tokens,
            BudgetState::Percentage { .. } => unreachable!("a quota"),
        }
    }

    #[test]
    fn aws_quota_arithmetic() {
        let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        assert_eq!(tokens(&mut b), 500);
        assert_eq!(b.withdraw(secs(0), false), Some(5));
        assert_eq!(b.withdraw(secs(0), true), Some(10));
        assert_eq!(tokens(&mut b), 485);
        b.deposit(Some(10));
        assert_eq!(tokens(&mut b), 495);
        b.deposit(None);
        b.deposit(None);
        assert_eq!(tokens(&mut b), 497);
        for _ in 0..10 {
            b.deposit(None);
        }
        assert_eq!(tokens(&mut b), 500, "never above capacity");
        let mut drained = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        let retries = (0..1000)
            .filter(|_| drained.withdraw(secs(0), false).is_some())
            .count();
        assert_eq!(retries, 100);
        assert_eq!(drained.withdraw(secs(0), false), None);
    }

    /// Counts made within a slot after the one that moved the window land
    /// in that slot, and leave the window with it, ten slots later.
    #[test]
    fn percentage_counts_leave_the_window_with_their_slot() {
        let spec = BudgetSpec::Percentage {
            basis_points: 10_000,
            window: secs(10),
            min_per_second: 0,
        };
        let mut b = RetryBudget::new(spec);
        let ms = Duration::from_millis;
        b.on_request(ms(3_000));
        b.on_request(ms(3_500));
        assert!(b.withdraw(ms(3_600), false).is_some());
        // A slot's end is the next slot's start.
        b.on_request(ms(4_000));
        let counts = |b: &mut RetryBudget, at| match b.state(at) {
            BudgetState::Percentage { requests, retries } => (requests, retries),
            BudgetState::Quota { .. } => unreachable!("a percentage"),
        };
        assert_eq!(counts(&mut b, ms(10_200)), (3, 1), "slot 3 is still in");
        assert_eq!(counts(&mut b, ms(13_100)), (1, 0), "slot 3 is out");
        assert_eq!(counts(&mut b, ms(14_000)), (0, 0), "slot 4 is out");
    }

    #[test]
    fn percentage_budget_is_exact_for_fractional_percentages() {
        // 12.5 % of 80 requests = exactly 10 retries, no minimum.
        let spec = BudgetSpec::Percentage {
            basis_points: 1250,
            window: secs(10),
            min_per_second: 0,
        };
        let mut b = RetryBudget::new(spec);
        for _ in 0..80 {
            b.on_request(secs(1));
        }
        let allowed = (0..100)
            .filter(|_| b.withdraw(secs(1), false).is_some())
            .count();
        assert_eq!(allowed, 10);
        assert_eq!(
            b.state(secs(1)),
            BudgetState::Percentage {
                requests: 80,
                retries: 10
            }
        );
        // Once the window has passed, the counts are gone.
        let allowed = (0..100)
            .filter(|_| b.withdraw(secs(30), false).is_some())
            .count();
        assert_eq!(allowed, 0);
        // A minimum of 1 per second over a 10 s window: 10 retries, no traffic.
        let mut floor = RetryBudget::new(BudgetSpec::Percentage {
            basis_points: 0,
            window: secs(10),
            min_per_second: 1,
        });
        assert_eq!(
            (0..100)
                .filter(|_| floor.withdraw(secs(5), false).is_some())
                .count(),
            10
        );
    }

    /// `reset`: a quota full again, a percentage's counts gone.
    #[test]
    fn reset_forgets_what_was_spent_and_counted() {
        let mut quota = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        assert!(quota.withdraw(secs(0), true).is_some());
        quota.reset();
        assert_eq!(tokens(&mut quota), 500);
        let mut share = RetryBudget::new(BudgetSpec::Percentage {
            basis_points: 10_000,
            window: secs(10),
            min_per_second: 0,
        });
        share.on_request(secs(1));
        share.reset();
        assert_eq!(
            share.state(secs(1)),
            BudgetState::Percentage {
                requests: 0,
                retries: 0
            }
        );
    }
}
