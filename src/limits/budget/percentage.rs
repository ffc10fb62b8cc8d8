//! A retry budget of a percentage of recent requests: its counts, in ten
//! slots of its window.

use core::time::Duration;

const SLOTS: usize = 10;

/// A percentage's settings and counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Percentage {
    basis_points: u32,
    window: Duration,
    min_per_second: u32,
    /// Requests and retries per slot of the window.
    requests: [u64; SLOTS],
    retries: [u64; SLOTS],
    /// The slot index of the latest count, as a count of slot lengths.
    epoch: u64,
    /// `epoch`'s place in the counts (kept: a division per request cost
    /// the request cycle ten instructions).
    slot: usize,
    /// When the slot `epoch` ends.
    slot_ends: Duration,
}

impl Percentage {
    /// Empty counts.
    pub(super) fn new(basis_points: u32, window: Duration, min_per_second: u32) -> Self {
        Self {
            basis_points,
            window,
            min_per_second,
            requests: [0; SLOTS],
            retries: [0; SLOTS],
            epoch: 0,
            slot: 0,
            slot_ends: Duration::ZERO,
        }
    }

    pub(super) fn reset(&mut self) {
        *self = Self::new(self.basis_points, self.window, self.min_per_second);
    }

    /// The requests and retries the window holds at `now`.
    pub(super) fn counts(&mut self, now: Duration) -> (u64, u64) {
        self.roll(now);
        (self.requests.iter().sum(), self.retries.iter().sum())
    }

    /// Moves the window to `now`, clearing slots that fell out.
    #[inline]
    fn roll(&mut self, now: Duration) -> usize {
        // Within the current slot (or a clock gone back): no division.
        if now < self.slot_ends {
            return self.slot;
        }
        self.roll_over(now)
    }

    #[inline(never)]
    fn roll_over(&mut self, now: Duration) -> usize {
        let slot = (self.window / SLOTS as u32).as_nanos().max(1);
        let epoch = u64::try_from(now.as_nanos() / slot).unwrap_or(u64::MAX);
        // A clock that goes back is held where it was.
        if epoch > self.epoch {
            let stale = (epoch - self.epoch).min(SLOTS as u64);
            for i in 1..=stale {
                let idx = ((self.epoch + i) % SLOTS as u64) as usize;
                self.requests[idx] = 0;
                self.retries[idx] = 0;
            }
            self.epoch = epoch;
        }
        let ends = (u128::from(self.epoch) + 1).saturating_mul(slot);
        self.slot_ends = Duration::from_nanos(u64::try_from(ends).unwrap_or(u64::MAX));
        self.slot = (self.epoch % SLOTS as u64) as usize;
        self.slot
    }

    /// Counts a first attempt.
    #[inline]
    pub(super) fn on_request(&mut self, now: Duration) {
        let i = self.roll(now);
        self.requests[i] = self.requests[i].saturating_add(1);
    }

    /// Pays for a retry if the window allows one more; `Some(0)`: there is
    /// nothing to refund.
    #[inline]
    pub(super) fn withdraw(&mut self, now: Duration) -> Option<u32> {
        let i = self.roll(now);
        let requests: u64 = self.requests.iter().sum();
        let retries: u64 = self.retries.iter().sum();
        // retries + 1 <= requests × bp / 10,000 + min × seconds,
        // multiplied out so that no fraction is rounded.
        let floor = u128::from(self.min_per_second) * self.window.as_millis() * 10;
        let allowed = u128::from(requests) * u128::from(self.basis_points) + floor;
        if (u128::from(retries) + 1) * 10_000 > allowed {
            return None;
        }
        self.retries[i] = self.retries[i].saturating_add(1);
        Some(0)
    }

    /// Counts a retry paid for elsewhere.
    #[cfg(feature = "redis")]
    pub(super) fn count_retry(&mut self, now: Duration) {
        let i = self.roll(now);
        self.retries[i] = self.retries[i].saturating_add(1);
    }
}
