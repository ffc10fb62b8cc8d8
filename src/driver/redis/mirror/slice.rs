//! The member's side of the retry budget a fleet shares: the budget is a
//! slice of the fleet's, lent by the store a few retries at a time. A
//! quota's slice is the quota's own tokens; a percentage's is the retries
//! the fleet's counts allowed and lent, kept here, and the member's first
//! attempts are counted for the store.

use core::time::Duration;

use crate::limits::RetryBudget;
use crate::policy::BudgetSpec;

/// What a budget slice tells the store at a renewal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    pub(crate) fn returned(&self) -> i64 {
        i64::from(self.held) - i64::from(self.owed)
    }
}

/// The slice's books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slice {
    spec: BudgetSpec,
    /// Retries a percentage's fleet lent this process.
    lent: u32,
    /// First attempts the store has not heard of (percentage mode).
    requests: u64,
    /// The store had too little: do not ask again before this.
    ask_at: Duration,
    /// Paid here from what was already handed back to the store (retries
    /// made while a renewal was on its way): owed at the next renewal.
    owed: u32,
}

impl Slice {
    /// A slice of a budget of `spec`, holding nothing yet: a quota's
    /// tokens go to the fleet.
    pub(super) fn join(spec: BudgetSpec, b: &mut RetryBudget) -> Self {
        let mut slice = Self {
            spec,
            lent: 0,
            requests: 0,
            ask_at: Duration::ZERO,
            owed: 0,
        };
        slice.set_held(b, 0);
        slice
    }

    /// The most one retry can cost.
    fn worst_cost(&self) -> u32 {
        match self.spec {
            BudgetSpec::Quota {
                retry_cost,
                timeout_cost,
                ..
            } => retry_cost.max(timeout_cost),
            BudgetSpec::Percentage { .. } => 1,
        }
    }

    /// What the slice holds: a quota's tokens, or the retries a
    /// percentage's fleet lent.
    fn held(&self, b: &mut RetryBudget) -> u32 {
        b.quota_tokens().map_or(self.lent, |t| *t)
    }

    fn set_held(&mut self, b: &mut RetryBudget, n: u32) {
        match b.quota_tokens() {
            Some(tokens) => *tokens = n,
            None => self.lent = n,
        }
    }

    /// Counts a first attempt, for the budget and for the store.
    pub(super) fn on_request(&mut self, b: &mut RetryBudget, now: Duration) {
        b.on_request(now);
        if let BudgetSpec::Percentage { .. } = self.spec {
            self.requests = self.requests.saturating_add(1);
        }
    }

    /// Pays for a retry from the slice.
    pub(super) fn withdraw(
        &mut self,
        b: &mut RetryBudget,
        now: Duration,
        after_timeout: bool,
    ) -> Option<u32> {
        match self.spec {
            BudgetSpec::Quota { .. } => b.withdraw(now, after_timeout),
            BudgetSpec::Percentage { .. } => {
                self.lent = self.lent.checked_sub(1)?;
                b.count_retry(now);
                Some(0)
            }
        }
    }

    /// Whether the slice cannot pay for one more retry and the store may
    /// be asked for more at `now`.
    pub(super) fn short(&self, b: &mut RetryBudget, now: Duration) -> bool {
        self.held(b) < self.worst_cost() && now >= self.ask_at
    }

    /// What to tell the store at a renewal.
    pub(super) fn report(&mut self, b: &mut RetryBudget) -> SliceReport {
        SliceReport {
            held: self.held(b),
            owed: core::mem::take(&mut self.owed),
            requests: core::mem::take(&mut self.requests),
        }
    }

    /// A report the store never received: what it owed and the requests
    /// it counted are told again next time (what it held never left).
    pub(super) fn unreport(&mut self, told: SliceReport) {
        self.owed = self.owed.saturating_add(told.owed);
        self.requests = self.requests.saturating_add(told.requests);
    }

    /// The store's answer to `report`: the slice now holds `granted`, plus
    /// whatever changed here since the report (retries paid, successes
    /// credited). When that cannot pay for one retry, the store is left
    /// alone for a second.
    pub(super) fn take(
        &mut self,
        b: &mut RetryBudget,
        granted: u32,
        report: SliceReport,
        now: Duration,
    ) {
        let since = i64::from(self.held(b)) - i64::from(report.held);
        let held = i64::from(granted) + since;
        self.set_held(b, u32::try_from(held.max(0)).unwrap_or(u32::MAX));
        // Retries paid while the renewal was out, from what it handed back,
        // are owed to the fleet.
        let owed = u32::try_from(held.min(0).unsigned_abs()).unwrap_or(u32::MAX);
        self.owed = self.owed.saturating_add(owed);
        if self.held(b) < self.worst_cost() {
            self.ask_at = now.saturating_add(Duration::from_secs(1));
        }
    }

    /// Back to a budget of this process alone: a quota starts full again,
    /// a percentage counts on its own recent requests.
    pub(super) fn leave(self, b: &mut RetryBudget) {
        if let BudgetSpec::Quota { .. } = self.spec {
            b.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::BudgetState;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A budget and, once it has reported, its slice: a fleet member's
    /// budget.
    struct Member {
        b: RetryBudget,
        spec: BudgetSpec,
        slice: Option<Slice>,
    }

    impl Member {
        fn new(spec: BudgetSpec) -> Self {
            Self {
                b: RetryBudget::new(spec),
                spec,
                slice: None,
            }
        }

        fn report(&mut self) -> SliceReport {
            match self.slice.as_mut() {
                Some(s) => s.report(&mut self.b),
                None => {
                    self.slice = Some(Slice::join(self.spec, &mut self.b));
                    SliceReport::default()
                }
            }
        }

        fn take_slice(&mut self, granted: u32, told: SliceReport, now: Duration) {
            if let Some(s) = self.slice.as_mut() {
                s.take(&mut self.b, granted, told, now);
            }
        }

        fn slice_short(&mut self, now: Duration) -> bool {
            let b = &mut self.b;
            self.slice.as_ref().is_some_and(|s| s.short(b, now))
        }

        fn withdraw(&mut self, now: Duration, after_timeout: bool) -> Option<u32> {
            match self.slice.as_mut() {
                Some(s) => s.withdraw(&mut self.b, now, after_timeout),
                None => self.b.withdraw(now, after_timeout),
            }
        }

        fn on_request(&mut self, now: Duration) {
            match self.slice.as_mut() {
                Some(s) => s.on_request(&mut self.b, now),
                None => self.b.on_request(now),
            }
        }

        fn deposit(&mut self, cost: Option<u32>) {
            self.b.deposit(cost);
        }

        fn held(&mut self) -> u32 {
            let b = &mut self.b;
            self.slice.as_ref().map_or(0, |s| s.held(b))
        }

        fn leave_fleet(&mut self) {
            if let Some(s) = self.slice.take() {
                s.leave(&mut self.b);
            }
        }
    }

    fn tokens(m: &mut Member) -> u32 {
        match m.b.state(Duration::ZERO) {
            BudgetState::Quota { tokens, .. } => tokens,
            BudgetState::Percentage { .. } => unreachable!("a quota"),
        }
    }

    /// A slice that can pay exactly one more retry is not short; once that
    /// retry is paid, it asks the store again at once.
    #[test]
    fn a_slice_paying_exactly_one_retry_is_not_short() {
        let mut b = Member::new(BudgetSpec::AWS_STANDARD);
        let first = b.report();
        b.take_slice(10, first, secs(0));
        assert!(!b.slice_short(secs(0)), "10 tokens pay a timeout's 10");
        assert_eq!(b.withdraw(secs(0), true), Some(10));
        assert!(b.slice_short(secs(0)), "spent: ask again at once");
    }

    #[test]
    fn a_slice_of_a_shared_quota_pays_and_counts_what_changed_during_a_renewal() {
        let mut b = Member::new(BudgetSpec::AWS_STANDARD);
        assert!(
            !b.slice_short(secs(0)),
            "no slice lent yet: nothing to ask for"
        );
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
        let mut b = Member::new(BudgetSpec::Percentage {
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
            let mut b = Member::new(BudgetSpec::AWS_STANDARD);
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
