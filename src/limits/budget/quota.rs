//! The AWS SDKs' retry quota: tokens that retries spend and successes
//! earn back.

/// A quota's settings and its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Quota {
    pub(super) capacity: u32,
    retry_cost: u32,
    timeout_cost: u32,
    success_credit: u32,
    pub(super) tokens: u32,
}

impl Quota {
    /// A full quota.
    pub(super) fn new(
        capacity: u32,
        retry_cost: u32,
        timeout_cost: u32,
        success_credit: u32,
    ) -> Self {
        Self {
            capacity,
            retry_cost,
            timeout_cost,
            success_credit,
            tokens: capacity,
        }
    }

    pub(super) fn refill(&mut self) {
        self.tokens = self.capacity;
    }

    /// Takes what a retry costs (more after a timeout); `None` when the
    /// tokens cannot pay.
    #[inline]
    pub(super) fn withdraw(&mut self, after_timeout: bool) -> Option<u32> {
        let cost = if after_timeout {
            self.timeout_cost
        } else {
            self.retry_cost
        };
        self.tokens = self.tokens.checked_sub(cost)?;
        Some(cost)
    }

    /// A success refunds `cost`, or earns the success credit when it needed
    /// no retry; never above capacity.
    #[inline]
    pub(super) fn deposit(&mut self, cost: Option<u32>) {
        let add = cost.unwrap_or(self.success_credit);
        self.tokens = self.tokens.saturating_add(add).min(self.capacity);
    }
}
