//! The circuit breaker: when too many calls to one API fail, stop calling it
//! for a while, then let a few probes find out whether it is back.

use core::time::Duration;

use serde::Serialize;

use super::limiter::{Ask, Landed, Limiter};
use super::{Admission, LimitsSnapshot, Steps};
use crate::policy::BreakerSpec;

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Closed {
        /// When the counting window ends (its start plus the spec's
        /// window, kept so that every admission compares, not subtracts).
        ends: Duration,
        ok: u32,
        failed: u32,
    },
    Open {
        until: Duration,
    },
    HalfOpen {
        /// Probes let through that have not reported.
        out: u32,
        succeeded: u32,
        /// When the latest probe was let through.
        last: Duration,
    },
}

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Sends flow; outcomes are counted.
    Closed,
    /// Every send is refused for this long yet.
    Open {
        /// Time until probes are let through.
        #[serde(with = "humantime_serde")]
        retry_after: Duration,
    },
    /// A few probes may go; all must succeed to close.
    HalfOpen {
        /// Probes not yet let through.
        probes_left: u32,
    },
}

/// How a send ended, as far as the breaker cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// The server answered as the policy expects of a working server.
    Ok,
    /// A failure the policy would retry: the server is struggling.
    Failed,
    /// The server asks for fewer requests (a 429, a throttling status or
    /// code): a failure, and the adaptive rate's cue to slow down.
    Throttled,
    /// Says nothing about the server (a TLS or protocol error).
    Unknown,
}

impl Health {
    /// A throttled send is a failed one: the breaker protects a server that
    /// is struggling, whatever it says of its load.
    pub(crate) fn failed(self) -> bool {
        matches!(self, Self::Failed | Self::Throttled)
    }
}

/// What a send's health changed in the breaker's counts, before any rule
/// judged them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    /// Nothing: the breaker is open, the send was no probe of this
    /// half-open spell, or it says nothing about the server.
    Nothing,
    /// Closed: one more success, or with `failed` one more failure, in the
    /// window.
    Closed { failed: bool },
    /// A probe of this spell reported; `succeeded`: the spell's successes
    /// so far.
    Probe { health: Health, succeeded: u32 },
}

/// The breaker's state. Plain data: no clock, no lock.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CircuitBreaker {
    spec: BreakerSpec,
    state: State,
    /// Counts openings and half-open spells: a probe belongs to one spell.
    trips: u32,
    /// A probe that has not reported after this long frees its slot.
    stale_after: Duration,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub(crate) fn new(spec: BreakerSpec, stale_after: Duration) -> Self {
        Self {
            spec,
            state: State::Closed {
                ends: spec.window,
                ok: 0,
                failed: 0,
            },
            trips: 0,
            stale_after,
        }
    }

    /// Closed, counting afresh; probes of earlier trips report to nobody.
    pub(crate) fn reset(&mut self) {
        self.trips = self.trips.wrapping_add(1);
        self.state = State::Closed {
            ends: self.spec.window,
            ok: 0,
            failed: 0,
        };
    }

    /// Where the breaker stands at `now`.
    pub(crate) fn state(&mut self, now: Duration) -> BreakerState {
        self.tick(now);
        match (self.state, self.spell()) {
            (State::Open { until }, _) => BreakerState::Open {
                retry_after: until.saturating_sub(now),
            },
            (_, Some((_, used))) => BreakerState::HalfOpen {
                probes_left: self.spec.probes.saturating_sub(used),
            },
            _ => BreakerState::Closed,
        }
    }

    /// Half-open: the spell's number and the probes it has used (let
    /// through and not reported, or succeeded).
    pub(crate) fn spell(&self) -> Option<(u32, u32)> {
        match self.state {
            State::HalfOpen { out, succeeded, .. } => {
                Some((self.trips, out.saturating_add(succeeded)))
            }
            _ => None,
        }
    }

    /// Brings the state to `now`: an opening that is over turns half-open,
    /// a counting window that is over starts afresh, and probes that never
    /// reported free their slots.
    #[inline]
    pub(crate) fn tick(&mut self, now: Duration) {
        match &mut self.state {
            State::Open { until } if now >= *until => {
                self.half_open(now);
            }
            State::Closed { ends, .. } if now > *ends => {
                self.state = State::Closed {
                    ends: now.saturating_add(self.spec.window),
                    ok: 0,
                    failed: 0,
                };
            }
            // Probes that never reported (calls dropped without a word)
            // free their slots, so a half-open breaker cannot wedge.
            State::HalfOpen { out, last, .. }
                if *out > 0 && now.saturating_sub(*last) >= self.stale_after =>
            {
                *out = 0;
            }
            _ => {}
        }
    }

    /// Lets a send through, or says how long until it could. A send let
    /// through half-open is a probe: `Ok(Some(trip))`, to be reported with
    /// [`record`](Self::record) or given back with
    /// [`release`](Self::release).
    #[inline]
    pub(crate) fn admit(&mut self, now: Duration) -> Result<Option<u32>, Duration> {
        self.admit_within(now, self.spec.probes)
    }

    /// [`admit`](Self::admit), with `probes` the spell's allowance.
    #[inline]
    pub(crate) fn admit_within(
        &mut self,
        now: Duration,
        probes: u32,
    ) -> Result<Option<u32>, Duration> {
        self.tick(now);
        match &mut self.state {
            State::Closed { .. } => Ok(None),
            State::Open { until } => Err(until.saturating_sub(now)),
            State::HalfOpen {
                out,
                succeeded,
                last,
            } if out.saturating_add(*succeeded) < probes => {
                *out += 1;
                *last = now;
                Ok(Some(self.trips))
            }
            // Every probe is out: wait for their verdict.
            State::HalfOpen { last, .. } => {
                Err(last.saturating_add(self.stale_after).saturating_sub(now))
            }
        }
    }

    /// A probe of `trip` will not report: its slot is free again. Says the
    /// spell's successes when it was a probe of this spell.
    pub(crate) fn release(&mut self, trip: u32, now: Duration) -> Option<u32> {
        self.tick(now);
        match &mut self.state {
            State::HalfOpen { out, succeeded, .. } if trip == self.trips => {
                *out = out.saturating_sub(1);
                Some(*succeeded)
            }
            _ => None,
        }
    }

    /// Records how a send ended; `probe` is the trip it probed, if it was a
    /// probe. Half-open, only the probes' outcomes count: other sends were
    /// let through before the breaker opened. Too many failures open it; a
    /// failed probe opens it again, and the spell's probes all succeeding
    /// close it.
    #[inline]
    pub(crate) fn record(&mut self, now: Duration, health: Health, probe: Option<u32>) {
        match self.count(now, health, probe) {
            Counted::Closed { failed: true } if self.failing() => self.open(now),
            Counted::Probe {
                health: Health::Failed | Health::Throttled,
                ..
            } => self.open(now),
            Counted::Probe {
                health: Health::Ok,
                succeeded,
            } if succeeded >= self.spec.probes => self.close(now),
            _ => {}
        }
    }

    /// Counts how a send ended, as [`record`](Self::record) does, but
    /// leaves opening and closing to the caller.
    #[inline]
    pub(crate) fn count(&mut self, now: Duration, health: Health, probe: Option<u32>) -> Counted {
        self.tick(now);
        let probe = probe.is_some_and(|trip| trip == self.trips);
        match (&mut self.state, health) {
            (State::Closed { ok, .. }, Health::Ok) => *ok = ok.saturating_add(1),
            (State::Closed { failed, .. }, Health::Failed | Health::Throttled) => {
                *failed = failed.saturating_add(1);
            }
            (State::HalfOpen { out, succeeded, .. }, _) if probe => {
                if !health.failed() {
                    *out = out.saturating_sub(1);
                }
                if health == Health::Ok {
                    *succeeded = succeeded.saturating_add(1);
                }
                return Counted::Probe {
                    health,
                    succeeded: *succeeded,
                };
            }
            _ => return Counted::Nothing,
        }
        Counted::Closed {
            failed: health.failed(),
        }
    }

    /// Whether the closed window's failures are more than the policy's
    /// ratio of enough outcomes.
    fn failing(&self) -> bool {
        let State::Closed { ok, failed, .. } = self.state else {
            return false;
        };
        let total = ok.saturating_add(failed);
        let ratio = f64::from(failed) / f64::from(total.max(1));
        total >= self.spec.min_outcomes && ratio > self.spec.failure_ratio
    }

    /// Open for the policy's `break_for` from `now`.
    pub(crate) fn open(&mut self, now: Duration) {
        self.open_for(now, self.spec.break_for);
    }

    /// Open until `for_` from `now`; a new opening starts a new trip.
    pub(crate) fn open_for(&mut self, now: Duration, for_: Duration) {
        if !matches!(self.state, State::Open { .. }) {
            self.trips = self.trips.wrapping_add(1);
        }
        self.state = State::Open {
            until: now.saturating_add(for_),
        };
    }

    /// Closed from `now` on, unless it already is.
    pub(crate) fn close(&mut self, now: Duration) {
        if !matches!(self.state, State::Closed { .. }) {
            self.state = State::Closed {
                ends: now.saturating_add(self.spec.window),
                ok: 0,
                failed: 0,
            };
        }
    }

    /// Half-open from `now` on, a new spell, unless it already is; `true`
    /// when the spell is new.
    pub(crate) fn half_open(&mut self, now: Duration) -> bool {
        if matches!(self.state, State::HalfOpen { .. }) {
            return false;
        }
        self.trips = self.trips.wrapping_add(1);
        self.state = State::HalfOpen {
            out: 0,
            succeeded: 0,
            last: now,
        };
        true
    }
}

/// The breaker refuses sends while open, lets probes through half-open,
/// and counts every landing's health.
impl Limiter for CircuitBreaker {
    #[inline]
    fn admit<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        ask: &mut Ask<'_>,
    ) -> Result<Option<u32>, Admission> {
        steps
            .breaker_admit(self, ask.now)
            .map_err(Admission::Refused)
    }

    #[inline]
    fn landed<H: Steps + ?Sized>(
        &mut self,
        steps: &mut H,
        hold: &mut Option<u32>,
        news: &Landed<'_>,
    ) {
        steps.breaker_record(self, news.now, news.health, hold.take());
    }

    fn release<H: Steps + ?Sized>(&mut self, steps: &mut H, trip: u32, now: Duration) {
        steps.breaker_release(self, trip, now);
    }

    fn show(&mut self, now: Duration, snapshot: &mut LimitsSnapshot) {
        snapshot.breaker = Some(self.state(now));
    }

    fn reset(&mut self) {
        CircuitBreaker::reset(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(
            BreakerSpec {
                failure_ratio: 0.5,
                window: secs(60),
                min_outcomes: 4,
                break_for: secs(30),
                probes: 2,
            },
            secs(60),
        )
    }

    /// It opens when the failures are more than the ratio of enough
    /// outcomes: a quarter of four does not, exactly half does not, three of
    /// five does.
    #[test]
    fn opens_above_the_failure_ratio_only() {
        let mut b = breaker();
        for health in [Health::Ok, Health::Ok, Health::Ok, Health::Failed] {
            b.record(secs(1), health, None);
        }
        assert_eq!(b.state(secs(1)), BreakerState::Closed, "1 of 4");
        let mut b = breaker();
        for health in [Health::Ok, Health::Ok, Health::Failed, Health::Failed] {
            b.record(secs(1), health, None);
        }
        assert_eq!(b.state(secs(1)), BreakerState::Closed, "2 of 4");
        b.record(secs(1), Health::Failed, None);
        assert_eq!(b.admit(secs(1)), Err(secs(30)), "3 of 5");
    }

    /// Closed, the breaker counts one window at a time: failures from a
    /// window that is over (here 60 s) do not add to the next one's, also
    /// after it closed again from half-open.
    #[test]
    fn outcomes_of_a_window_that_is_over_are_forgotten() {
        let fail = |b: &mut CircuitBreaker, at: u64, n: usize| {
            for _ in 0..n {
                assert_eq!(b.admit(secs(at)), Ok(None));
                b.record(secs(at), Health::Failed, None);
            }
        };
        // The first window is [0 s, 60 s], its end included.
        let mut b = breaker();
        fail(&mut b, 1, 3);
        fail(&mut b, 60, 1);
        assert_eq!(b.admit(secs(60)), Err(secs(30)), "4 in the first window");
        let mut b = breaker();
        fail(&mut b, 1, 3);
        fail(&mut b, 62, 1);
        assert_eq!(b.state(secs(62)), BreakerState::Closed, "1 in this window");
        fail(&mut b, 63, 3);
        assert_eq!(b.admit(secs(63)), Err(secs(30)), "4 in this window");
        let (p1, p2) = (b.admit(secs(93)).unwrap(), b.admit(secs(93)).unwrap());
        b.record(secs(93), Health::Ok, p1);
        b.record(secs(93), Health::Ok, p2);
        assert_eq!(b.state(secs(93)), BreakerState::Closed);
        fail(&mut b, 100, 3);
        fail(&mut b, 154, 1);
        assert_eq!(b.state(secs(154)), BreakerState::Closed, "1 since 153 s");
    }

    #[test]
    fn opens_probes_and_closes() {
        let mut b = breaker();
        for health in [Health::Ok, Health::Failed, Health::Failed] {
            assert_eq!(b.admit(secs(1)), Ok(None));
            b.record(secs(1), health, None);
        }
        assert_eq!(
            b.state(secs(1)),
            BreakerState::Closed,
            "3 outcomes are below the minimum"
        );
        b.record(secs(2), Health::Failed, None);
        assert_eq!(b.admit(secs(2)), Err(secs(30)), "3 of 4 failed");
        assert_eq!(b.admit(secs(20)), Err(secs(12)));
        // Half-open: two probes, no third.
        let first = b.admit(secs(32)).unwrap();
        let second = b.admit(secs(32)).unwrap();
        assert!(first.is_some() && first == second, "probes of one spell");
        assert!(b.admit(secs(32)).is_err());
        // A late answer from before the break is not a probe's.
        b.record(secs(33), Health::Failed, None);
        b.record(secs(33), Health::Ok, first);
        b.record(secs(33), Health::Ok, second);
        assert_eq!(b.state(secs(33)), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_it() {
        let mut b = breaker();
        for _ in 0..4 {
            b.record(secs(1), Health::Failed, None);
        }
        let probe = b.admit(secs(31)).unwrap();
        b.record(secs(31), Health::Failed, probe);
        assert_eq!(b.admit(secs(31)), Err(secs(30)));
        // A probe of the earlier spell reports late: it changes nothing.
        b.release(probe.unwrap(), secs(61));
        assert_eq!(b.state(secs(61)), BreakerState::HalfOpen { probes_left: 2 });
    }

    #[test]
    fn probe_slots_come_back_released_or_stale() {
        let mut b = breaker();
        for _ in 0..4 {
            b.record(secs(0), Health::Failed, None);
        }
        let first = b.admit(secs(30)).unwrap().unwrap();
        b.admit(secs(30)).unwrap();
        assert_eq!(b.state(secs(30)), BreakerState::HalfOpen { probes_left: 0 });
        b.release(first, secs(31));
        assert_eq!(b.state(secs(31)), BreakerState::HalfOpen { probes_left: 1 });
        assert!(b.admit(secs(31)).is_ok());
        assert_eq!(b.admit(secs(31)), Err(secs(60)), "both out: wait");
        assert_eq!(
            b.state(secs(91)),
            BreakerState::HalfOpen { probes_left: 2 },
            "probes silent for stale_after are forgotten"
        );
    }

    #[test]
    fn an_unknown_outcome_neither_counts_nor_holds_a_slot() {
        let mut b = breaker();
        for _ in 0..10 {
            b.record(secs(0), Health::Unknown, None);
        }
        assert_eq!(b.state(secs(0)), BreakerState::Closed);
        for _ in 0..4 {
            b.record(secs(0), Health::Failed, None);
        }
        let probe = b.admit(secs(30)).unwrap();
        b.record(secs(30), Health::Unknown, probe);
        assert_eq!(b.state(secs(30)), BreakerState::HalfOpen { probes_left: 2 });
    }
}
