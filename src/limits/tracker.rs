//! The rate-limit tracker: what the latest responses said about the shared
//! window, and how a send should wait so that nobody draws a 429.

use core::time::Duration;

use crate::headers::{Pressure, RateLimit};
use crate::policy::PressureThresholds;
use crate::schedule::Rng;

/// Rate-limit state shared by every call to one API (the caller chooses the
/// scope: a host, a token). Plain data: no clock, no lock.
#[derive(Clone, Debug, PartialEq)]
pub struct RateTracker {
    thresholds: PressureThresholds,
    limit: Option<u64>,
    remaining: Option<u64>,
    /// When the window resets, on the monotonic clock.
    reset_at: Option<Duration>,
    /// While pacing: the earliest time the next send may start.
    next_slot: Duration,
    /// When the latest send was let through.
    last_admit: Option<Duration>,
    /// Sends let through whose responses have not landed yet.
    in_flight: u64,
    /// The window just reset and `remaining` is the tracker's own count
    /// from the full limit, not a server's reading.
    refilled: bool,
}

/// What the tracker says about a send about to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Go ahead.
    Go,
    /// Wait this long first: the window is exhausted (until its reset, plus
    /// a little jitter so that waiting clients do not all return at once) or
    /// critical (pacing the remaining requests evenly over the time left).
    Wait(Duration, Pressure),
}

impl RateTracker {
    /// An empty tracker that will judge pressure by `thresholds`.
    pub fn new(thresholds: PressureThresholds) -> Self {
        Self {
            thresholds,
            limit: None,
            remaining: None,
            reset_at: None,
            next_slot: Duration::ZERO,
            last_admit: None,
            refilled: false,
            in_flight: 0,
        }
    }

    /// A send let through by [`admit`](Self::admit) will not happen after
    /// all (something else refused it): its place is given back.
    pub fn cancel(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(r) = self.remaining.as_mut() {
            *r = r.saturating_add(1).min(self.limit.unwrap_or(u64::MAX));
        }
    }

    /// A send let through by [`admit`](Self::admit) has landed, with the
    /// response's reading if it carried one. A reading's remaining count
    /// cannot know of the other sends still in flight, so they are taken
    /// off it: the tracker errs towards waiting, never towards a 429.
    pub fn landed(&mut self, reading: Option<&RateLimit>, now: Duration) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(r) = reading {
            let mut r = *r;
            r.remaining = r.remaining.map(|n| n.saturating_sub(self.in_flight));
            self.observe(&r, now);
        }
    }

    /// Takes in a response's reading, seen at monotonic time `now`.
    ///
    /// Within one window the lower remaining count wins: responses arrive
    /// out of order, and the tracker has already counted the sends it let
    /// through since. A reading from a later window replaces the old one.
    pub fn observe(&mut self, reading: &RateLimit, now: Duration) {
        self.expire(now);
        // A reset already past describes a window that is over (a response
        // that crossed the boundary): its count says nothing about this one.
        if reading.reset == Some(Duration::ZERO) {
            if reading.limit.is_some() {
                self.limit = reading.limit;
            }
            return;
        }
        let reset_at = reading.reset.map(|r| now.saturating_add(r));
        // The tracker's count already holds the sends it let through in
        // this window; a server's reading can only lower it.
        let same_window = self.remaining.is_some() && (self.reset_at.is_some() || self.refilled);
        self.refilled = false;
        if reading.limit.is_some() {
            self.limit = reading.limit;
        }
        self.remaining = match (reading.remaining, self.remaining) {
            (Some(new), Some(old)) if same_window => Some(new.min(old)),
            (new @ Some(_), _) => new,
            (None, old) => old,
        };
        if let Some(at) = reset_at {
            self.reset_at = Some(self.reset_at.map_or(at, |old| old.max(at)));
        }
    }

    /// Once the window has reset, a fresh one holds the whole limit (when it
    /// is known); when it ends is unknown until a response says.
    fn expire(&mut self, now: Duration) {
        if self.reset_at.is_some_and(|at| at <= now) {
            self.reset_at = None;
            self.remaining = self.limit;
            self.refilled = self.limit.is_some();
            self.next_slot = Duration::ZERO;
            // Sends still out count in the window that just ended; this also
            // bounds what a send that never lands (a cancelled call) costs.
            self.in_flight = 0;
        }
    }

    /// The pressure now, if the tracker knows the remaining count.
    pub fn pressure(&mut self, now: Duration) -> Option<Pressure> {
        self.expire(now);
        Pressure::of(self.limit, self.remaining?, &self.thresholds)
    }

    /// The time until the window resets, if known and still ahead.
    pub fn reset_in(&mut self, now: Duration) -> Option<Duration> {
        self.expire(now);
        self.reset_at.map(|at| at.saturating_sub(now))
    }

    /// What the tracker knows, as a reading (for events).
    pub fn reading(&mut self, now: Duration) -> Option<RateLimit> {
        self.expire(now);
        if (self.limit, self.remaining, self.reset_at) == (None, None, None) {
            return None;
        }
        Some(RateLimit {
            limit: self.limit,
            remaining: self.remaining,
            reset: self.reset_at.map(|at| at.saturating_sub(now)),
            pressure: self
                .remaining
                .and_then(|r| Pressure::of(self.limit, r, &self.thresholds)),
        })
    }

    /// Whether a send may start at `now`. An admitted send is counted
    /// against the remaining requests at once, so calls sharing the tracker
    /// see each other before their responses arrive.
    pub fn admit(&mut self, now: Duration, reset_jitter: Duration, rng: &mut Rng) -> Admit {
        self.expire(now);
        let Some(remaining) = self.remaining else {
            self.in_flight = self.in_flight.saturating_add(1);
            return Admit::Go;
        };
        let pressure = Pressure::of(self.limit, remaining, &self.thresholds);
        match (pressure, self.reset_at) {
            (Some(Pressure::Exhausted), Some(at)) => {
                let jitter = Duration::from_nanos(rng.u64(0..=nanos(reset_jitter)));
                Admit::Wait(
                    at.saturating_sub(now).saturating_add(jitter),
                    Pressure::Exhausted,
                )
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
                    return Admit::Wait(probe_at - now, Pressure::Exhausted);
                }
                self.last_admit = Some(now);
                self.in_flight = self.in_flight.saturating_add(1);
                Admit::Go
            }
            (Some(Pressure::Critical), Some(at)) => {
                if now < self.next_slot {
                    return Admit::Wait(self.next_slot - now, Pressure::Critical);
                }
                // Spread what is left evenly over the time left.
                let left = u32::try_from(remaining).unwrap_or(u32::MAX).max(1);
                let interval = at.saturating_sub(now) / left;
                self.next_slot = now.saturating_add(interval);
                self.remaining = Some(remaining.saturating_sub(1));
                self.last_admit = Some(now);
                self.in_flight = self.in_flight.saturating_add(1);
                Admit::Go
            }
            _ => {
                self.remaining = Some(remaining.saturating_sub(1));
                self.last_admit = Some(now);
                self.in_flight = self.in_flight.saturating_add(1);
                Admit::Go
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
