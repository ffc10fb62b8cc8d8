//! The member's side of pacing a fleet shares: the process paces on a
//! grant of sends from the store (its tracker's window is the grant), and
//! the server's readings go to the store, which counts the fleet's window,
//! instead of into the tracker.

use core::time::Duration;

use crate::headers::RateLimit;
use crate::limits::RateTracker;

/// The lease's books.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Lease {
    /// The latest server reading kept for the store, and when it was read.
    forward: Option<(RateLimit, Duration)>,
    /// The store granted nothing until a known window end: no renewal
    /// before it.
    starved: bool,
}

impl Lease {
    /// Paces on the store's grant of `grant` sends until `ends` from `now`.
    pub(super) fn take(
        &mut self,
        t: &mut RateTracker,
        grant: u64,
        ends: Option<Duration>,
        now: Duration,
    ) {
        t.grant(grant, ends, now);
        self.starved = grant == 0 && ends.is_some();
    }

    /// Whether a new lease is needed at `now`: none is in force, or it is
    /// used up. A lease of nothing until a known window end is not used up
    /// before that end: asking again sooner would only get nothing again.
    pub(super) fn spent(&self, t: &mut RateTracker, now: Duration) -> bool {
        match t.granted(now) {
            None => true,
            Some((left, end_known)) => left == 0 && !(self.starved && end_known),
        }
    }

    /// A send landed while leased: its reading is kept for the store.
    /// Within one window the lowest count is kept (responses land out of
    /// order, and the store must not hear of more room than there is); a
    /// reading for another window replaces it. The server's own count goes
    /// to the store, not less the sends in flight here: the store accounts
    /// for those through the leases.
    pub(super) fn keep(&mut self, t: &mut RateTracker, reading: &RateLimit, now: Duration) {
        let same_window = t.same_window_after(reading);
        let ends = |r: &RateLimit, at: Duration| r.reset.map(|d| at.saturating_add(d));
        let keep_old = self.forward.as_ref().is_some_and(|(old, at)| {
            let same = match (ends(old, *at), ends(reading, now)) {
                (Some(a), Some(b)) => a.abs_diff(b) <= same_window,
                _ => false,
            };
            same && old.remaining.unwrap_or(u64::MAX) < reading.remaining.unwrap_or(u64::MAX)
        });
        if !keep_old {
            self.forward = Some((*reading, now));
        }
    }

    /// The latest reading kept for the store, and how old it is at `now`.
    pub(super) fn take_forward(&mut self, now: Duration) -> Option<(RateLimit, Duration)> {
        self.forward
            .take()
            .map(|(r, at)| (r, now.saturating_sub(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::PressureThresholds;
    use crate::limits::{Admission, Alone, Steps};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn reading(limit: u64, remaining: u64, reset: u64) -> RateLimit {
        RateLimit {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(secs(reset)),
            pressure: None,
        }
    }

    fn rng() -> fastrand::Rng {
        fastrand::Rng::with_seed(1)
    }

    fn go(a: Result<u32, Admission>) -> bool {
        a.is_ok()
    }

    /// A tracker and its lease: a fleet member's pacing.
    struct Member {
        t: RateTracker,
        lease: Lease,
    }

    impl Member {
        fn new() -> Self {
            Self {
                t: RateTracker::new(PressureThresholds::default(), secs(300), secs(60)),
                lease: Lease::default(),
            }
        }

        fn lease_(&mut self, grant: u64, ends: Option<Duration>, now: Duration) {
            self.lease.take(&mut self.t, grant, ends, now);
        }

        fn lease_spent(&mut self, now: Duration) -> bool {
            self.lease.spent(&mut self.t, now)
        }

        fn unlease(&mut self) {
            self.t.ungrant();
            self.lease = Lease::default();
        }

        fn observe(&mut self, r: &RateLimit, now: Duration) {
            self.t.observe(r, now);
        }

        fn admit(
            &mut self,
            now: Duration,
            jitter: Duration,
            rng: &mut fastrand::Rng,
        ) -> Result<u32, Admission> {
            self.t.admit(now, jitter, rng)
        }

        /// As the member's hook lands a send.
        fn landed(&mut self, generation: u32, r: Option<&RateLimit>, now: Duration) {
            if self.t.granted(now).is_none() {
                return Alone.tracker_landed(&mut self.t, Some(generation), r, now);
            }
            self.t.landed(generation, None, now);
            if let Some(r) = r {
                self.lease.keep(&mut self.t, r, now);
            }
        }

        fn take_forward(&mut self, now: Duration) -> Option<(RateLimit, Duration)> {
            self.lease.take_forward(now)
        }

        fn in_flight(&mut self, now: Duration) -> u64 {
            self.t.in_flight(now)
        }
    }

    #[test]
    fn a_lease_paces_its_sends_and_keeps_readings_for_the_store() {
        let mut rng = rng();
        let mut t = Member::new();
        t.observe(&reading(100, 90, 60), secs(0));
        // Leased: three sends until the fleet's window ends in 10 s.
        t.lease_(3, Some(secs(10)), secs(0));
        let mut sent = Vec::new();
        for _ in 0..3 {
            match t.admit(secs(0), Duration::ZERO, &mut rng) {
                Ok(g) => sent.push(g),
                other => panic!("{other:?}"),
            }
        }
        assert!(t.lease_spent(secs(0)));
        assert!(!go(t.admit(secs(0), Duration::ZERO, &mut rng)));
        // A response's reading is kept for the store, not taken in: the
        // server's 89 left are the fleet's, not this process's.
        t.landed(sent[0], Some(&reading(100, 89, 59)), secs(1));
        assert!(t.lease_spent(secs(1)));
        let (kept, age) = t.take_forward(secs(3)).unwrap();
        assert_eq!((kept.remaining, age), (Some(89), secs(2)));
        assert!(t.take_forward(secs(3)).is_none());
        // A new lease; the two still in flight stay counted.
        t.lease_(2, Some(secs(7)), secs(3));
        assert_eq!(t.in_flight(secs(3)), 2);
        assert!(go(t.admit(secs(3), Duration::ZERO, &mut rng)));
        // The fleet's window ends: the lease with it.
        assert!(t.lease_spent(secs(10)));
        // Unleased, the server's readings count again.
        t.unlease();
        assert_eq!(t.t.granted(secs(10)), None);
        assert!(go(t.admit(secs(10), Duration::ZERO, &mut rng)));
        t.observe(&reading(100, 0, 30), secs(10));
        assert!(!go(t.admit(secs(10), Duration::ZERO, &mut rng)));
    }

    #[test]
    fn a_leased_member_keeps_a_windows_lowest_count_however_late_readings_land() {
        let ms = Duration::from_millis;
        let two_seconds = |remaining, reset| RateLimit {
            limit: Some(40),
            remaining: Some(remaining),
            reset: Some(ms(reset)),
            ..RateLimit::default()
        };
        let mut t = Member::new();
        t.lease_(3, Some(secs(2)), ms(0));
        let sent: Vec<u32> = (0..2)
            .map(|_| match t.admit(ms(0), Duration::ZERO, &mut rng()) {
                Ok(g) => g,
                other => panic!("{other:?}"),
            })
            .collect();
        // 30 left, then an earlier answer (35 left) landing 350 ms later
        // than its window end would say: one two-second window.
        t.landed(sent[0], Some(&two_seconds(30, 1_900)), ms(100));
        t.landed(sent[1], Some(&two_seconds(35, 1_950)), ms(400));
        let (kept, _) = t.take_forward(ms(400)).unwrap();
        assert_eq!(kept.remaining, Some(30), "never more room than there is");
    }
}
