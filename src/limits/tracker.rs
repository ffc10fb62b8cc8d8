//! The rate-limit tracker: what the latest responses said about the shared
//! window, and how a send should wait so that nobody draws a 429.

use core::time::Duration;

use super::limiter::{Ask, Landed, Limiter};
use super::{Admission, LimitsSnapshot, Steps};
use crate::headers::{Pressure, PressureThresholds, RateLimit};

/// Two readings whose windows end this close together describe the same
/// window: servers round the reset to whole seconds. Shorter windows get
/// half the longest reset seen (the window's length, near enough), never
/// less than `SAME_WINDOW_MIN`.
const SAME_WINDOW: Duration = Duration::from_secs(1);
const SAME_WINDOW_MIN: Duration = Duration::from_millis(100);

/// Rate-limit state shared by every call to one API. Plain data: no clock,
/// no lock.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RateTracker {
    thresholds: PressureThresholds,
    /// No stored window ends later than this after it was read.
    cap: Duration,
    limit: Option<u64>,
    remaining: Option<u64>,
    /// When the window resets, on the monotonic clock.
    end: Option<End>,
    /// Whose count `remaining` is.
    count: Count,
    /// While pacing: the earliest time the next send may start.
    next_slot: Duration,
    /// When the latest send was let through.
    last_admit: Option<Duration>,
    in_flight: InFlight,
    /// The longest reset any reading gave (capped): about the window's
    /// length.
    longest: Duration,
}

/// When the stored window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// As the server said.
    Said(Duration),
    /// The server's reset cut to the cap: when it is reached the window is
    /// not over, only no longer trusted.
    Capped(Duration),
}

impl End {
    fn at(self) -> Duration {
        match self {
            Self::Said(at) | Self::Capped(at) => at,
        }
    }
}

/// Whose count the stored `remaining` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Count {
    /// A server's reading (or nothing known yet).
    Read,
    /// The tracker's own: the window reset, and a fresh one holds the
    /// whole limit.
    Refilled,
    /// What a store a fleet shares granted this process until the fleet's
    /// window ends: readings are the store's to take in, and when the
    /// window ends nothing is left of the grant.
    #[cfg(feature = "redis")]
    Granted,
}

/// Sends let through whose responses have not landed, in two generations:
/// a send that never reports (its call was dropped without a word) is
/// forgotten once two generations have passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InFlight {
    generation: u32,
    /// When the next generation starts.
    rotate_at: Duration,
    /// Indexed by generation parity.
    counts: [u64; 2],
    /// A generation lasts at least this long.
    period: Duration,
}

impl InFlight {
    fn new(stale_after: Duration) -> Self {
        let period = (stale_after / 2).max(Duration::from_nanos(1));
        Self {
            generation: 0,
            rotate_at: period,
            counts: [0; 2],
            period,
        }
    }

    fn total(&self) -> u64 {
        self.counts[0].saturating_add(self.counts[1])
    }

    #[inline]
    fn age(&mut self, now: Duration) {
        if now >= self.rotate_at {
            self.rotate(now);
        }
    }

    #[cold]
    fn rotate(&mut self, now: Duration) {
        if now >= self.rotate_at.saturating_add(self.period) {
            self.forget_all(now);
        } else {
            self.generation = self.generation.wrapping_add(1);
            self.counts[parity(self.generation)] = 0;
            self.rotate_at = now.saturating_add(self.period);
        }
    }

    /// Every send out now belongs to a window that is over.
    fn forget_all(&mut self, now: Duration) {
        self.generation = self.generation.wrapping_add(2);
        self.counts = [0; 2];
        self.rotate_at = now.saturating_add(self.period);
    }

    fn add(&mut self) -> u32 {
        let slot = &mut self.counts[parity(self.generation)];
        *slot = slot.saturating_add(1);
        self.generation
    }

    /// Takes a send of `generation` off, unless it was already forgotten.
    fn remove(&mut self, generation: u32) {
        if self.generation.wrapping_sub(generation) <= 1 {
            let slot = &mut self.counts[parity(generation)];
            *slot = slot.saturating_sub(1);
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn parity(generation: u32) -> usize {
    (generation & 1) as usize
}

impl RateTracker {
    /// An empty tracker that judges pressure by `thresholds`, holds no
    /// window longer than `cap` from when it was read, and forgets sends
    /// that never report after `stale_after`.
    pub(crate) fn new(
        thresholds: PressureThresholds,
        cap: Duration,
        stale_after: Duration,
    ) -> Self {
        Self {
            thresholds,
            cap,
            limit: None,
            remaining: None,
            end: None,
            count: Count::Read,
            next_slot: Duration::ZERO,
            last_admit: None,
            in_flight: InFlight::new(stale_after),
            longest: Duration::ZERO,
        }
    }

    /// Paces from now on against a grant of `grant` sends from a store a
    /// fleet shares, until `ends` from `now` (the fleet's window end, when
    /// known). Sends in flight stay counted.
    #[cfg(feature = "redis")]
    pub(crate) fn grant(&mut self, grant: u64, ends: Option<Duration>, now: Duration) {
        self.expire(now);
        self.count = Count::Granted;
        self.limit = None;
        self.remaining = Some(grant);
        self.end = ends.map(|r| End::Said(now.saturating_add(r.min(self.cap))));
        self.next_slot = Duration::ZERO;
    }

    /// Back to pacing on the server's own readings (the store is out of
    /// reach): nothing is known until the next response says.
    #[cfg(feature = "redis")]
    pub(crate) fn ungrant(&mut self) {
        if self.count == Count::Granted {
            self.count = Count::Read;
            self.remaining = None;
            self.end = None;
        }
    }

    /// Pacing on a grant: what is left of it at `now`, and whether its
    /// window's end is known.
    #[cfg(feature = "redis")]
    pub(crate) fn granted(&mut self, now: Duration) -> Option<(u64, bool)> {
        self.expire(now);
        (self.count == Count::Granted).then(|| (self.remaining.unwrap_or(0), self.end.is_some()))
    }

    /// Forgets every reading and every send in flight; grants made before
    /// belong to generations that are over.
    pub(crate) fn reset(&mut self) {
        let mut in_flight = self.in_flight;
        in_flight.forget_all(in_flight.rotate_at);
        *self = Self {
            in_flight,
            ..Self::new(self.thresholds, self.cap, Duration::ZERO)
        };
    }

    /// Sends counted in flight at `now`.
    pub(crate) fn in_flight(&mut self, now: Duration) -> u64 {
        self.expire(now);
        self.in_flight.total()
    }

    /// A send let through under `generation` will not report: it is taken
    /// off the count in flight and its place in the window given back.
    pub(crate) fn cancel(&mut self, generation: u32, now: Duration) {
        self.expire(now);
        self.in_flight.remove(generation);
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_add(1).min(self.limit.unwrap_or(u64::MAX));
        }
    }

    /// A send let through under `generation` has landed, with the
    /// response's reading if it carried one. A reading's remaining count
    /// cannot know of the other sends still in flight, so they are taken
    /// off it: the tracker errs towards waiting, never towards a 429.
    #[inline]
    pub(crate) fn landed(&mut self, generation: u32, reading: Option<&RateLimit>, now: Duration) {
        self.expire(now);
        self.in_flight.remove(generation);
        if let Some(r) = reading {
            let mut r = *r;
            let others = self.in_flight.total();
            r.remaining = r.remaining.map(|n| n.saturating_sub(others));
            self.take(&r, now);
        }
    }

    /// How close two window ends must be to describe one window.
    fn same_window(&self) -> Duration {
        (self.longest / 2).clamp(SAME_WINDOW_MIN, SAME_WINDOW)
    }

    /// Every reading passes here, taken in or not: its reset tells how
    /// long windows are.
    #[inline]
    fn note_reset(&mut self, reading: &RateLimit) {
        if let Some(r) = reading.reset {
            self.longest = self.longest.max(r.min(self.cap));
        }
    }

    /// For a reading not taken in (a grant's, kept for the store): notes
    /// its reset, and says how close two window ends must be to describe
    /// one window.
    #[cfg(feature = "redis")]
    pub(crate) fn same_window_after(&mut self, reading: &RateLimit) -> Duration {
        self.note_reset(reading);
        self.same_window()
    }

    /// Takes in a response's reading, seen at monotonic time `now`.
    ///
    /// Within one window the lower remaining count wins: responses arrive
    /// out of order, and the tracker has already counted the sends it let
    /// through since. A reading for another window replaces the stored
    /// one, whichever ends first: the fresher word is the server's.
    pub(crate) fn observe(&mut self, reading: &RateLimit, now: Duration) {
        self.expire(now);
        self.take(reading, now);
    }

    /// [`observe`](Self::observe), the window already brought to `now`.
    #[inline]
    fn take(&mut self, reading: &RateLimit, now: Duration) {
        self.note_reset(reading);
        // A reset already past describes a window that is over (a response
        // that crossed the boundary): its count says nothing about this one.
        if reading.reset == Some(Duration::ZERO) {
            if reading.limit.is_some() {
                self.limit = reading.limit;
            }
            return;
        }
        let reset_at = reading.reset.map(|r| now.saturating_add(r.min(self.cap)));
        let same_window = self.remaining.is_some()
            && match (self.end.map(End::at), reset_at) {
                (Some(old), Some(new)) => old.abs_diff(new) <= self.same_window(),
                (Some(_), None) => true,
                (None, _) => self.count == Count::Refilled,
            };
        self.count = Count::Read;
        if reading.limit.is_some() {
            self.limit = reading.limit;
        }
        self.remaining = match (reading.remaining, self.remaining) {
            (Some(new), Some(old)) if same_window => Some(new.min(old)),
            (new @ Some(_), _) => new,
            (None, old) => old,
        };
        if let (Some(at), Some(r)) = (reset_at, reading.reset) {
            // Within one window the later end wins: a response that left the
            // server earlier reports less time left.
            let keep = same_window && self.end.is_some_and(|old| old.at() > at);
            if !keep {
                self.end = Some(if r > self.cap {
                    End::Capped(at)
                } else {
                    End::Said(at)
                });
            }
        }
    }

    /// Once the window has reset, a fresh one holds the whole limit (when it
    /// is known); when it ends is unknown until a response says.
    ///
    /// A window whose reset was cut to the cap has not ended when the cap
    /// runs out, only stopped being trusted: its count stays, its end
    /// becomes unknown, and an exhausted count lets a probe find out.
    #[inline]
    fn expire(&mut self, now: Duration) {
        self.in_flight.age(now);
        if self.end.is_some_and(|end| end.at() <= now) {
            self.window_over(now);
        }
    }

    #[cold]
    fn window_over(&mut self, now: Duration) {
        let end = self.end.take();
        self.next_slot = Duration::ZERO;
        #[cfg(feature = "redis")]
        if self.count == Count::Granted {
            // The grant was for the window that ended: a new one is needed.
            // Sends still out stay counted: the store reserves them in the
            // next window, where they may well land.
            self.remaining = Some(0);
            return;
        }
        if let Some(End::Capped(_)) = end {
            return;
        }
        self.remaining = self.limit;
        self.count = if self.limit.is_some() {
            Count::Refilled
        } else {
            Count::Read
        };
        // Sends still out count in the window that just ended.
        self.in_flight.forget_all(now);
    }

    /// What the tracker knows at `now`, as a reading.
    pub(crate) fn reading(&mut self, now: Duration) -> Option<RateLimit> {
        self.expire(now);
        if (self.limit, self.remaining, self.end) == (None, None, None) {
            return None;
        }
        Some(RateLimit {
            limit: self.limit,
            remaining: self.remaining,
            reset: self.end.map(|end| end.at().saturating_sub(now)),
            pressure: self
                .remaining
                .and_then(|r| Pressure::of(self.limit, r, &self.thresholds)),
        })
    }

    /// Whether a send may start at `now`: `Ok` with the generation it is
    /// counted in flight under, or `Err(Admission::Wait { .. })`. An
    /// admitted send is counted against the remaining requests at once, so
    /// calls sharing the tracker see each other before their responses
    /// arrive. A wait for a reset gets up to `reset_jitter` more, drawn
    /// from `rng`.
    #[inline]
    pub(crate) fn admit(
        &mut self,
        now: Duration,
        reset_jitter: Duration,
        rng: &mut fastrand::Rng,
    ) -> Result<u32, Admission> {
        self.expire(now);
        let Some(remaining) = self.remaining else {
            return self.go(now);
        };
        let wait = |wait| {
            Err(Admission::Wait {
                wait,
                capped: false,
            })
        };
        match (
            Pressure::of(self.limit, remaining, &self.thresholds),
            self.end.map(End::at),
        ) {
            (Some(Pressure::Exhausted), Some(at)) => {
                let jitter = rng.u64(0..=nanos(reset_jitter));
                Err(Admission::Wait {
                    wait: at
                        .saturating_sub(now)
                        .saturating_add(Duration::from_nanos(jitter)),
                    capped: matches!(self.end, Some(End::Capped(_))),
                })
            }
            // Exhausted, and when the window ends is unknown: the sends in
            // flight will say. If none has answered within a second, one
            // more send goes to find out, so a silent server cannot stall
            // every call for good.
            (Some(Pressure::Exhausted), None) => {
                let probe_at = self
                    .last_admit
                    .map_or(now, |t| t.saturating_add(Duration::from_secs(1)));
                if now < probe_at {
                    return wait(probe_at - now);
                }
                self.go(now)
            }
            (Some(Pressure::Critical), Some(at)) => {
                if now < self.next_slot {
                    return wait(self.next_slot - now);
                }
                // Spread what is left evenly over the time left.
                let left = u32::try_from(remaining).unwrap_or(u32::MAX).max(1);
                self.next_slot = now.saturating_add(at.saturating_sub(now) / left);
                self.go(now)
            }
            _ => self.go(now),
        }
    }

    #[inline]
    fn go(&mut self, now: Duration) -> Result<u32, Admission> {
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_sub(1);
        }
        self.last_admit = Some(now);
        Ok(self.in_flight.add())
    }
}

/// Pacing, when the limits pace: a send waits rather than draw a 429.
/// Every landing's reading is taken in, paced or not.
impl Limiter for RateTracker {
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        _: &mut H,
        ask: &mut Ask<'_>,
    ) -> Result<Option<u32>, Admission> {
        if !ask.spec.pacing {
            return Ok(None);
        }
        let admitted = self.admit(ask.now, ask.spec.reset_jitter, ask.rng);
        ask.by_reading = self.remaining.is_some();
        admitted.map(Some)
    }

    #[inline]
    fn landed<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        hold: &mut Option<u32>,
        news: &Landed<'_>,
    ) {
        steps.tracker_landed(self, hold.take(), news.reading, news.now);
    }

    fn release<H: Steps + ?Sized>(&mut self, _: &mut H, generation: u32, now: Duration) {
        self.cancel(generation, now);
    }

    fn show(&mut self, now: Duration, snapshot: &mut LimitsSnapshot) {
        snapshot.rate_limit = self.reading(now);
        snapshot.in_flight = self.in_flight(now);
    }

    fn reset(&mut self) {
        RateTracker::reset(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn tracker() -> RateTracker {
        RateTracker::new(PressureThresholds::default(), secs(300), secs(60))
    }

    fn wait(s: u64) -> Result<u32, Admission> {
        Err(Admission::Wait {
            wait: secs(s),
            capped: false,
        })
    }

    fn pressure(t: &mut RateTracker, now: Duration) -> Option<Pressure> {
        t.reading(now).and_then(|r| r.pressure)
    }

    fn go(a: Result<u32, Admission>) -> bool {
        a.is_ok()
    }

    #[test]
    fn pressure_and_pacing() {
        let mut rng = rng();
        let mut t = tracker();
        assert!(
            go(t.admit(secs(0), Duration::ZERO, &mut rng)),
            "nothing known"
        );
        t.observe(&reading(100, 50, 60), secs(0));
        assert_eq!(pressure(&mut t, secs(0)), Some(Pressure::Normal));
        t.observe(&reading(100, 10, 60), secs(0));
        assert_eq!(pressure(&mut t, secs(0)), Some(Pressure::Warning));
        // A later response of the same window reporting more left is stale.
        t.observe(&reading(100, 30, 60), secs(0));
        assert_eq!(pressure(&mut t, secs(0)), Some(Pressure::Warning));
        // Critical: 4 left over 60 s -> one send every 15 s.
        t.observe(&reading(100, 4, 60), secs(0));
        assert_eq!(pressure(&mut t, secs(0)), Some(Pressure::Critical));
        assert!(go(t.admit(secs(0), Duration::ZERO, &mut rng)));
        assert_eq!(t.admit(secs(1), Duration::ZERO, &mut rng), wait(14));
        assert!(go(t.admit(secs(15), Duration::ZERO, &mut rng)));
        // Exhausted: wait for the reset, plus at most the jitter.
        t.observe(&reading(100, 0, 45), secs(15));
        match t.admit(secs(15), secs(2), &mut rng) {
            Err(Admission::Wait {
                wait,
                capped: false,
            }) => {
                assert!(wait >= secs(45) && wait <= secs(47), "{wait:?}")
            }
            other => panic!("{other:?}"),
        }
        // Once the window has reset, a fresh one holds the whole limit.
        assert_eq!(pressure(&mut t, secs(60)), Some(Pressure::Normal));
        assert_eq!(t.reading(secs(60)).and_then(|r| r.reset), None);
        // Sends use it up; with the end of the new window unknown, the next
        // send waits for an answer (at most a second), then probes.
        for _ in 0..100 {
            assert!(go(t.admit(secs(60), secs(2), &mut rng)));
        }
        assert_eq!(t.admit(secs(60), secs(2), &mut rng), wait(1));
        assert!(go(t.admit(secs(61), secs(2), &mut rng)));
    }

    #[test]
    fn exhausted_without_a_reset_probes_once_a_second() {
        let mut t = tracker();
        let r = RateLimit {
            reset: None,
            ..reading(10, 0, 0)
        };
        t.observe(&r, secs(60));
        assert!(t.admit(secs(60), Duration::ZERO, &mut rng()).is_ok());
        assert_eq!(t.admit(secs(60), Duration::ZERO, &mut rng()), wait(1));
        assert!(t.admit(secs(61), Duration::ZERO, &mut rng()).is_ok());
    }

    #[test]
    fn a_cancelled_admission_gives_its_place_back_and_resets_clear_leaks() {
        let mut t = tracker();
        t.observe(&reading(10, 1, 5), secs(0));
        let Ok(generation) = t.admit(secs(0), Duration::ZERO, &mut rng()) else {
            panic!("one place left");
        };
        assert_eq!(t.in_flight(secs(0)), 1);
        t.cancel(generation, secs(0));
        assert_eq!(t.in_flight(secs(0)), 0);
        assert!(
            t.admit(secs(0), Duration::ZERO, &mut rng()).is_ok(),
            "the place came back"
        );
        // A send that never lands is forgotten when the window resets: the
        // new window's first reading is not lowered by it.
        assert_eq!(t.in_flight(secs(6)), 0);
        t.observe(&reading(10, 9, 5), secs(6));
        assert_eq!(
            t.reading(secs(6)).and_then(|r| r.pressure),
            Some(Pressure::Normal)
        );
    }

    #[test]
    fn sends_that_never_report_are_forgotten_within_stale_after() {
        let mut t = tracker();
        for _ in 0..5 {
            assert!(t.admit(secs(0), Duration::ZERO, &mut rng()).is_ok());
        }
        assert_eq!(t.in_flight(secs(29)), 5);
        assert_eq!(t.in_flight(secs(30)), 5, "one generation passed");
        assert_eq!(t.in_flight(secs(60)), 0, "two generations passed");
        // A late report of a forgotten send takes nothing off newer ones.
        let Ok(newer) = t.admit(secs(60), Duration::ZERO, &mut rng()) else {
            panic!("nothing known");
        };
        t.landed(0, None, secs(61));
        assert_eq!(t.in_flight(secs(61)), 1);
        t.landed(newer, None, secs(61));
        assert_eq!(t.in_flight(secs(61)), 0);
    }

    #[test]
    fn readings_for_another_window_replace_the_stored_one() {
        let mut t = tracker();
        t.observe(&reading(100, 0, 200), secs(0));
        // Same window, a second later and rounded: the lower count stays.
        t.observe(&reading(100, 5, 199), secs(1) + Duration::from_millis(400));
        assert_eq!(t.reading(secs(2)).and_then(|r| r.remaining), Some(0));
        // A window ending much sooner: the server's fresher word wins.
        t.observe(&reading(100, 90, 60), secs(3));
        let now = t.reading(secs(3)).unwrap();
        assert_eq!((now.remaining, now.reset), (Some(90), Some(secs(60))));
    }

    /// Within one window the later end wins, whichever reading arrives
    /// first; a reset of exactly the cap is not cut, one above it is.
    #[test]
    fn within_a_window_the_later_end_wins_and_only_a_longer_reset_is_capped() {
        let ms = Duration::from_millis;
        let mut t = tracker();
        t.observe(&reading(100, 10, 200), secs(0));
        t.observe(&reading(100, 5, 199), ms(500));
        assert_eq!(t.reading(secs(1)).and_then(|r| r.reset), Some(secs(199)));
        t.observe(&reading(100, 4, 201), ms(600));
        assert_eq!(t.reading(secs(1)).and_then(|r| r.reset), Some(ms(200_600)));
        for (reset, capped) in [(300, false), (301, true)] {
            let mut t = tracker();
            t.observe(&reading(100, 0, reset), secs(0));
            assert_eq!(
                t.admit(secs(0), Duration::ZERO, &mut rng()),
                Err(Admission::Wait {
                    wait: secs(300),
                    capped
                }),
                "reset {reset}"
            );
        }
    }

    #[test]
    fn sub_second_windows_are_told_apart() {
        let ms = Duration::from_millis;
        let half_second = |remaining, reset| RateLimit {
            limit: Some(40),
            remaining: Some(remaining),
            reset: Some(ms(reset)),
            ..RateLimit::default()
        };
        let mut t = tracker();
        // Two windows of 500 ms: the first nearly spent, the next fresh
        // (its first answer arrives before this clock sees the first end).
        t.observe(&half_second(38, 480), ms(20));
        t.observe(&half_second(3, 60), ms(440));
        t.observe(&half_second(39, 490), ms(480));
        let now = t.reading(ms(510)).unwrap();
        assert_eq!(
            (now.remaining, now.reset),
            (Some(39), Some(ms(460))),
            "ends 470 ms apart: another window (a second's tolerance kept 3)"
        );
        // Within one of them, rounding still folds readings together.
        t.observe(&half_second(35, 350), ms(600));
        assert_eq!(t.reading(ms(600)).and_then(|r| r.remaining), Some(35));
        t.observe(&half_second(37, 300), ms(660));
        assert_eq!(t.reading(ms(660)).and_then(|r| r.remaining), Some(35));
    }

    #[test]
    fn a_stored_window_is_trusted_at_most_the_cap_after_it_was_read() {
        let mut t = tracker();
        t.observe(&reading(100, 0, 999_999_999), secs(10));
        assert_eq!(
            t.admit(secs(10), Duration::ZERO, &mut rng()),
            Err(Admission::Wait {
                wait: secs(300),
                capped: true
            })
        );
        // Then its end is unknown, not past: one probe goes, the others
        // wait for its answer instead of assuming a fresh window.
        assert!(t.admit(secs(310), Duration::ZERO, &mut rng()).is_ok());
        assert_eq!(t.admit(secs(310), Duration::ZERO, &mut rng()), wait(1));
        assert_eq!(t.reading(secs(310)).and_then(|r| r.reset), None);
        // An uncapped window that ends is a fresh one: the full limit.
        t.observe(&reading(100, 0, 20), secs(311));
        assert!(t.admit(secs(331), Duration::ZERO, &mut rng()).is_ok());
        assert_eq!(t.reading(secs(331)).and_then(|r| r.remaining), Some(99));
    }
}
