//! The retry budget: a token bucket shared by every call to one API, so that
//! an outage cannot multiply the load by the number of retries. Two kinds,
//! each its own type: a quota of tokens (the AWS SDKs') and a percentage of
//! recent requests; either may be a slice of a budget a fleet shares.

mod percentage;
mod quota;

use core::time::Duration;

use serde::Serialize;

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
    /// A slice of a budget a fleet shares, when there is one.
    slice: Option<Slice>,
}

// One budget per `Limits`, read on every request: a box would cost an
// indirection there to save 200 bytes once.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Quota(Quota),
    Percentage(Percentage),
}

/// The fleet side of a budget kept as a slice of a shared one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slice {
    /// First attempts the store has not heard of (percentage mode).
    requests: u64,
    /// The store had too little: do not ask again before this.
    ask_at: Duration,
    /// Paid here from what was already handed back to the store (retries
    /// made while a renewal was on its way): owed at the next renewal.
    owed: u32,
}

/// What a budget slice tells the store at a renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SliceReport {
    /// What the slice holds, returned to the fleet.
    pub(crate) held: u32,
    /// Spent from what an earlier report returned: taken off this return.
    pub(crate) owed: u32,
    /// First attempts since the last renewal (percentage mode).
    pub(crate) requests: u64,
}

impl SliceReport {
    /// What the report hands back to the fleet: what the slice held less
    /// what it owed (below zero: the fleet pays the difference).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn returned(&self) -> i64 {
        i64::from(self.held) - i64::from(self.owed)
    }
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
        Self { kind, slice: None }
    }

    /// Full again, with empty counts (and no slice of a shared budget).
    pub(crate) fn reset(&mut self) {
        self.slice = None;
        match &mut self.kind {
            Kind::Quota(q) => q.refill(),
            Kind::Percentage(p) => p.reset(),
        }
    }

    /// The most one retry can cost.
    fn worst_cost(&self) -> u32 {
        match &self.kind {
            Kind::Quota(q) => q.worst_cost(),
            Kind::Percentage(_) => 1,
        }
    }

    /// What the slice holds here: a quota's tokens, or the retries a
    /// percentage's fleet lent.
    fn held(&self) -> u32 {
        match &self.kind {
            Kind::Quota(q) => q.tokens,
            Kind::Percentage(p) => p.lent,
        }
    }

    fn set_held(&mut self, n: u32) {
        match &mut self.kind {
            Kind::Quota(q) => q.tokens = n,
            Kind::Percentage(p) => p.lent = n,
        }
    }

    /// Whether the slice of a shared budget cannot pay for one more retry
    /// and the store may be asked for more at `now`.
    pub(crate) fn slice_short(&self, now: Duration) -> bool {
        self.slice
            .is_some_and(|s| self.held() < self.worst_cost() && now >= s.ask_at)
    }

    /// What to tell the store at a renewal (a first renewal turns the
    /// budget into a slice, holding nothing yet).
    pub(crate) fn report(&mut self) -> SliceReport {
        let held = self.held();
        let Some(slice) = self.slice.as_mut() else {
            self.slice = Some(Slice::default());
            self.set_held(0);
            return SliceReport {
                held: 0,
                owed: 0,
                requests: 0,
            };
        };
        SliceReport {
            held,
            owed: core::mem::take(&mut slice.owed),
            requests: core::mem::take(&mut slice.requests),
        }
    }

    /// A report the store never received: what it owed and the requests
    /// it counted are told again next time (what it held never left).
    pub(crate) fn unreport(&mut self, told: SliceReport) {
        if let Some(slice) = self.slice.as_mut() {
            slice.owed = slice.owed.saturating_add(told.owed);
            slice.requests = slice.requests.saturating_add(told.requests);
        }
    }

    /// The store's answer to `report`: the slice now holds `granted`, plus
    /// whatever changed here since the report (retries paid, successes
    /// credited). When that cannot pay for one retry, the store is left
    /// alone for a second.
    pub(crate) fn take_slice(&mut self, granted: u32, report: SliceReport, now: Duration) {
        let since = i64::from(self.held()) - i64::from(report.held);
        let held = i64::from(granted) + since;
        self.set_held(u32::try_from(held.max(0)).unwrap_or(u32::MAX));
        let short = self.held() < self.worst_cost();
        let slice = self.slice.get_or_insert_with(Slice::default);
        // Retries paid while the renewal was out, from what it handed back,
        // are owed to the fleet.
        let owed = u32::try_from(held.min(0).unsigned_abs()).unwrap_or(u32::MAX);
        slice.owed = slice.owed.saturating_add(owed);
        if short {
            slice.ask_at = now.saturating_add(Duration::from_secs(1));
        }
    }

    /// Back to a budget of this process alone: a quota starts full again,
    /// a percentage counts on its own recent requests.
    pub(crate) fn leave_fleet(&mut self) {
        if self.slice.take().is_some() {
            match &mut self.kind {
                Kind::Quota(q) => q.refill(),
                Kind::Percentage(p) => p.lent = 0,
            }
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
            if let Some(slice) = self.slice.as_mut() {
                slice.requests = slice.requests.saturating_add(1);
            }
        }
    }

    /// Takes what a retry costs; `None` when the budget cannot pay. The
    /// returned cost is what a later success refunds.
    #[inline]
    pub(crate) fn withdraw(&mut self, now: Duration, after_timeout: bool) -> Option<u32> {
        match &mut self.kind {
            Kind::Quota(q) => q.withdraw(after_timeout),
            // A slice of a shared percentage holds retries the fleet's
            // counts allowed.
            Kind::Percentage(p) if self.slice.is_some() => p.spend_lent(now),
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

    /// A slice that can pay exactly one more retry is not short; once that
    /// retry is paid, it asks the store again at once.
    #[test]
    fn a_slice_paying_exactly_one_retry_is_not_short() {
        let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        let first = b.report();
        b.take_slice(10, first, secs(0));
        assert!(!b.slice_short(secs(0)), "10 tokens pay a timeout's 10");
        assert_eq!(b.withdraw(secs(0), true), Some(10));
        assert!(b.slice_short(secs(0)), "spent: ask again at once");
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

    #[test]
    fn a_slice_of_a_shared_quota_pays_and_counts_what_changed_during_a_renewal() {
        let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
        assert!(!b.slice_short(secs(0)), "alone, no store to ask");
        let first = b.report();
        assert_eq!(
            first,
            SliceReport {
                held: 0,
                owed: 0,
                requests: 0
            }
        );
        assert!(b.slice_short(secs(0)), "a slice holding nothing asks");
        b.take_slice(40, first, secs(0));
        assert_eq!(tokens(&mut b), 40);
        let told = b.report();
        assert_eq!(told.held, 40);
        // While the renewal is on its way: a retry paid, a success credited.
        assert_eq!(b.withdraw(secs(0), true), Some(10));
        b.deposit(None);
        b.take_slice(40, told, secs(0));
        assert_eq!(tokens(&mut b), 31, "40 granted, 10 paid, 1 earned since");
        for _ in 0..5 {
            assert!(b.withdraw(secs(0), false).is_some());
        }
        assert!(b.slice_short(secs(0)), "6 tokens cannot pay a timeout's 10");
        let told = b.report();
        b.take_slice(0, told, secs(5));
        assert_eq!(tokens(&mut b), 0, "the fleet had nothing");
        assert!(!b.slice_short(secs(5)), "no asking again at once");
        assert!(b.slice_short(secs(6)), "a second later");
        b.leave_fleet();
        assert_eq!(tokens(&mut b), 500, "alone again: a full quota");
    }

    #[test]
    fn a_slice_of_a_shared_percentage_holds_granted_retries() {
        let mut b = RetryBudget::new(BudgetSpec::Percentage {
            basis_points: 1000,
            window: secs(10),
            min_per_second: 0,
        });
        let first = b.report();
        b.take_slice(2, first, secs(0));
        for _ in 0..3 {
            b.on_request(secs(0));
        }
        assert_eq!(b.withdraw(secs(0), false), Some(0));
        assert_eq!(b.withdraw(secs(0), false), Some(0));
        assert_eq!(b.withdraw(secs(0), false), None, "two were granted");
        assert_eq!(
            b.report(),
            SliceReport {
                held: 0,
                owed: 0,
                requests: 3
            }
        );
    }

    proptest::proptest! {
        /// A slice of a shared quota keeps the fleet's books: what it holds,
        /// less what it owes, is what the store lent (net of what was
        /// handed back) plus what successes earned less what retries paid,
        /// whatever the order of retries, successes and renewals (retries
        /// paid while a renewal is out come from tokens it handed back:
        /// they are owed, not lost).
        #[test]
        fn a_slice_keeps_the_fleets_books(
            steps in proptest::collection::vec((0..4u8, 0..60u32), 1..100)
        ) {
            let mut b = RetryBudget::new(BudgetSpec::AWS_STANDARD);
            b.report();
            let mut outstanding = None;
            let (mut lent, mut earned, mut paid) = (0i64, 0i64, 0i64);
            for (what, n) in steps {
                match what {
                    0 => {
                        if let Some(cost) = b.withdraw(secs(0), n % 2 == 0) {
                            paid += i64::from(cost);
                        }
                    }
                    1 => {
                        let before = i64::from(b.held());
                        b.deposit(if n % 2 == 0 { None } else { Some(5) });
                        earned += i64::from(b.held()) - before;
                    }
                    // A renewal goes out (one at a time)...
                    2 => {
                        if outstanding.is_none() {
                            outstanding = Some(b.report());
                        }
                    }
                    // ...and the store's answer comes back: it took what
                    // was reported held and lends `n`.
                    _ => {
                        if let Some(told) = outstanding.take() {
                            lent += i64::from(n) - told.returned();
                            b.take_slice(n, told, secs(0));
                        }
                    }
                }
                // What the member owes, told in a renewal still out or not.
                let owed = i64::from(b.slice.map_or(0, |s| s.owed))
                    + outstanding.map_or(0, |t: SliceReport| i64::from(t.owed));
                proptest::prop_assert_eq!(i64::from(b.held()) - owed, lent + earned - paid);
            }
        }
    }
}
