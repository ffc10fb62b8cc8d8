//! The circuit breaker: when too many calls to one API fail, stop calling it
//! for a while, then let a few probes find out whether it is back.

use core::time::Duration;

use serde::Serialize;

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
    /// Says nothing about the server (a TLS or protocol error).
    Unknown,
}

/// The breaker's state. Plain data: no clock, no lock.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CircuitBreaker {
    spec: BreakerSpec,
    state: State,
    /// How many times it has opened: a probe belongs to one half-open spell.
    trips: u32,
    /// A probe that has not reported after this long frees its slot.
    stale_after: Duration,
    /// When a fleet shares the breaker: what the store has not heard yet
    /// and the probes it granted this process. The store then decides
    /// when the breaker opens, closes and who probes.
    fleet: Option<Fleet>,
}

/// The process's side of a breaker a fleet shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fleet {
    /// Outcomes while closed the store has not heard of.
    ok: u32,
    failed: u32,
    /// Probe verdicts and probes given back, not yet told.
    probes_ok: u32,
    probes_failed: u32,
    probes_released: u32,
    /// Probes the store granted this process in this half-open spell.
    granted: u32,
    /// The store had no probe to give: do not ask before this.
    ask_at: Duration,
}

impl Fleet {
    /// A probe granted here will not report: the store hears of it, and
    /// the grant is spent, though never below the probes that succeeded
    /// (a probe may come back after its slot went stale).
    fn give_back(&mut self, succeeded: u32) {
        self.probes_released = self.probes_released.saturating_add(1);
        self.granted = self.granted.saturating_sub(1).max(succeeded);
    }
}

/// What the breaker tells the store at a renewal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BreakerReport {
    pub(crate) ok: u32,
    pub(crate) failed: u32,
    pub(crate) probes_ok: u32,
    pub(crate) probes_failed: u32,
    pub(crate) probes_released: u32,
    /// Probes wanted (half-open with every granted probe used): one.
    pub(crate) want: u32,
}

/// Where the fleet's breaker stands, as the store says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum Verdict {
    Closed,
    Open {
        for_: Duration,
    },
    /// Half-open: `granted` more probes for this process; when none, ask
    /// again after `ask_in`.
    HalfOpen {
        granted: u32,
        ask_in: Duration,
    },
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
            fleet: None,
        }
    }

    /// Whether the store should hear from this breaker at `now`: a failure
    /// or a probe's verdict it has not heard, a grant not spent, or, when
    /// a send is about to be admitted (`sending`), a probe needed.
    pub(crate) fn needs_store(&mut self, now: Duration, sending: bool) -> bool {
        self.tick(now);
        let unused = self.unused();
        let Some(f) = self.fleet else {
            return false;
        };
        let untold = f.failed > 0 || f.probes_ok > 0 || f.probes_failed > 0;
        untold
            || f.probes_released > 0
            || unused > 0
            || (sending && self.wants_probes() && now >= f.ask_at)
    }

    /// Probes the store granted this process that it has not sent.
    fn unused(&self) -> u32 {
        match (self.state, self.fleet) {
            (State::HalfOpen { out, succeeded, .. }, Some(f)) => {
                f.granted.saturating_sub(out.saturating_add(succeeded))
            }
            _ => 0,
        }
    }

    fn wants_probes(&self) -> bool {
        match (self.state, self.fleet) {
            (State::HalfOpen { out, succeeded, .. }, Some(f)) => {
                out.saturating_add(succeeded) >= f.granted
            }
            _ => false,
        }
    }

    /// What to tell the store (a first report makes the breaker the
    /// fleet's). The store counts a probe stale from when it granted it,
    /// the process from when it sent it, and the two agree only when these
    /// are one: a probe is asked for one at a time, and only when a send is
    /// about to be admitted (`sending`), and a grant that admission did not
    /// spend (pacing held the send) goes back with the next renewal.
    pub(crate) fn report(&mut self, sending: bool) -> BreakerReport {
        let unused = self.unused();
        if let Some(f) = self.fleet.as_mut() {
            f.granted -= unused;
            f.probes_released = f.probes_released.saturating_add(unused);
        }
        let want = u32::from(sending && self.wants_probes());
        let f = self.fleet.get_or_insert_with(Fleet::default);
        BreakerReport {
            ok: core::mem::take(&mut f.ok),
            failed: core::mem::take(&mut f.failed),
            probes_ok: core::mem::take(&mut f.probes_ok),
            probes_failed: core::mem::take(&mut f.probes_failed),
            probes_released: core::mem::take(&mut f.probes_released),
            want,
        }
    }

    /// A report the store never received: its news is told again next time.
    pub(crate) fn unreport(&mut self, told: &BreakerReport) {
        if let Some(f) = self.fleet.as_mut() {
            f.ok = f.ok.saturating_add(told.ok);
            f.failed = f.failed.saturating_add(told.failed);
            f.probes_ok = f.probes_ok.saturating_add(told.probes_ok);
            f.probes_failed = f.probes_failed.saturating_add(told.probes_failed);
            f.probes_released = f.probes_released.saturating_add(told.probes_released);
        }
    }

    /// Takes the store's verdict on the fleet's breaker at `now`.
    pub(crate) fn follow(&mut self, verdict: Verdict, now: Duration) {
        self.tick(now);
        let f = self.fleet.get_or_insert_with(Fleet::default);
        match verdict {
            Verdict::Closed => {
                f.granted = 0;
                if !matches!(self.state, State::Closed { .. }) {
                    self.state = State::Closed {
                        ends: now.saturating_add(self.spec.window),
                        ok: 0,
                        failed: 0,
                    };
                }
            }
            Verdict::Open { for_ } => {
                f.granted = 0;
                if !matches!(self.state, State::Open { .. }) {
                    self.trips = self.trips.wrapping_add(1);
                }
                self.state = State::Open {
                    until: now.saturating_add(for_),
                };
            }
            Verdict::HalfOpen { granted, ask_in } => {
                if !matches!(self.state, State::HalfOpen { .. }) {
                    // A new spell: probes of earlier ones report to nobody.
                    self.trips = self.trips.wrapping_add(1);
                    f.granted = 0;
                    self.state = State::HalfOpen {
                        out: 0,
                        succeeded: 0,
                        last: now,
                    };
                }
                f.granted = f.granted.saturating_add(granted);
                if granted == 0 {
                    f.ask_at = now.saturating_add(ask_in);
                }
            }
        }
    }

    /// Back to a breaker of this process alone.
    pub(crate) fn leave_fleet(&mut self) {
        self.fleet = None;
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
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } => BreakerState::Open {
                retry_after: until.saturating_sub(now),
            },
            State::HalfOpen { out, succeeded, .. } => BreakerState::HalfOpen {
                probes_left: self
                    .spec
                    .probes
                    .saturating_sub(out.saturating_add(succeeded)),
            },
        }
    }

    #[inline]
    fn tick(&mut self, now: Duration) {
        match &mut self.state {
            State::Open { until } if now >= *until => {
                self.state = State::HalfOpen {
                    out: 0,
                    succeeded: 0,
                    last: now,
                };
                if let Some(f) = self.fleet.as_mut() {
                    f.granted = 0;
                }
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
        self.tick(now);
        match &mut self.state {
            State::Closed { .. } => Ok(None),
            State::Open { until } => Err(until.saturating_sub(now)),
            State::HalfOpen {
                out,
                succeeded,
                last,
            } if out.saturating_add(*succeeded)
                < self.fleet.map_or(self.spec.probes, |f| f.granted) =>
            {
                *out += 1;
                *last = now;
                Ok(Some(self.trips))
            }
            // The fleet's probes are elsewhere: ask the store again soon.
            State::HalfOpen { .. } if self.fleet.is_some() => {
                let ask_at = self.fleet.map_or(now, |f| f.ask_at);
                Err(ask_at.saturating_sub(now).max(Duration::from_millis(1)))
            }
            // Every probe is out: wait for their verdict.
            State::HalfOpen { last, .. } => {
                Err(last.saturating_add(self.stale_after).saturating_sub(now))
            }
        }
    }

    /// A probe of `trip` will not report: its slot is free again.
    pub(crate) fn release(&mut self, trip: u32, now: Duration) {
        self.tick(now);
        if let State::HalfOpen { out, succeeded, .. } = &mut self.state {
            if trip == self.trips {
                *out = out.saturating_sub(1);
                if let Some(f) = self.fleet.as_mut() {
                    f.give_back(*succeeded);
                }
            }
        }
    }

    /// Records how a send ended; `probe` is the trip it probed, if it was a
    /// probe. Half-open, only the probes' outcomes count: other sends were
    /// let through before the breaker opened.
    #[inline]
    pub(crate) fn record(&mut self, now: Duration, health: Health, probe: Option<u32>) {
        self.tick(now);
        let probe = probe.filter(|&trip| trip == self.trips);
        if self.fleet.is_some() {
            return self.record_for_fleet(now, health, probe.is_some());
        }
        match (&mut self.state, health) {
            (State::Closed { ok, .. }, Health::Ok) => *ok = ok.saturating_add(1),
            (State::Closed { ok, failed, .. }, Health::Failed) => {
                *failed = failed.saturating_add(1);
                let total = ok.saturating_add(*failed);
                let ratio = f64::from(*failed) / f64::from(total.max(1));
                if total >= self.spec.min_outcomes && ratio > self.spec.failure_ratio {
                    self.open(now);
                }
            }
            (State::HalfOpen { .. }, _) if probe.is_none() => {}
            (State::HalfOpen { .. }, Health::Failed) => self.open(now),
            (State::HalfOpen { out, succeeded, .. }, Health::Ok) => {
                *out = out.saturating_sub(1);
                *succeeded = succeeded.saturating_add(1);
                if *succeeded >= self.spec.probes {
                    self.state = State::Closed {
                        ends: now.saturating_add(self.spec.window),
                        ok: 0,
                        failed: 0,
                    };
                }
            }
            (State::HalfOpen { out, .. }, Health::Unknown) => *out = out.saturating_sub(1),
            (State::Closed { .. }, Health::Unknown) | (State::Open { .. }, _) => {}
        }
    }

    /// `record` for a breaker the fleet shares: outcomes are counted for
    /// the store, which opens and closes it; only a failed probe opens it
    /// here at once.
    // Out of line: only a fleet member pays for it.
    #[cold]
    #[inline(never)]
    fn record_for_fleet(&mut self, now: Duration, health: Health, probe: bool) {
        let Some(f) = self.fleet.as_mut() else {
            return;
        };
        match (&mut self.state, health) {
            (State::Closed { ok, .. }, Health::Ok) => {
                *ok = ok.saturating_add(1);
                f.ok = f.ok.saturating_add(1);
            }
            (State::Closed { failed, .. }, Health::Failed) => {
                *failed = failed.saturating_add(1);
                f.failed = f.failed.saturating_add(1);
            }
            (State::HalfOpen { .. }, _) if !probe => {}
            (State::HalfOpen { .. }, Health::Failed) => {
                f.probes_failed = f.probes_failed.saturating_add(1);
                f.granted = 0;
                self.open(now);
            }
            (State::HalfOpen { out, succeeded, .. }, Health::Ok) => {
                *out = out.saturating_sub(1);
                *succeeded = succeeded.saturating_add(1);
                f.probes_ok = f.probes_ok.saturating_add(1);
                // The store counts a success as granted, whatever became
                // of its grant.
                f.granted = f.granted.max(*succeeded);
            }
            (State::HalfOpen { out, succeeded, .. }, Health::Unknown) => {
                *out = out.saturating_sub(1);
                f.give_back(*succeeded);
            }
            (State::Closed { .. }, Health::Unknown) | (State::Open { .. }, _) => {}
        }
    }

    fn open(&mut self, now: Duration) {
        self.trips = self.trips.wrapping_add(1);
        self.state = State::Open {
            until: now.saturating_add(self.spec.break_for),
        };
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
        assert_eq!((first, second), (Some(1), Some(1)));
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

    /// Each kind of news alone makes the store worth asking; half-open with
    /// nothing granted, the store is asked again when it said to, and a
    /// refused probe waits until then; a second half-open verdict in the
    /// same spell adds to the grant; out of the fleet, the breaker is the
    /// process's own again.
    #[test]
    fn shared_every_kind_of_news_and_the_stores_timing() {
        let spell = |b: &mut CircuitBreaker, granted, at| {
            b.follow(
                Verdict::HalfOpen {
                    granted,
                    ask_in: secs(5),
                },
                at,
            );
        };
        let half_open = |granted| {
            let mut b = breaker();
            b.report(true);
            b.follow(Verdict::Open { for_: secs(10) }, secs(0));
            spell(&mut b, granted, secs(10));
            b
        };
        // A probe's success, a probe's failure, a probe given back (every
        // granted probe out, and the store said to ask for more in 5 s).
        let mut b = half_open(3);
        let (p1, p2, p3) = (b.admit(secs(10)), b.admit(secs(10)), b.admit(secs(10)));
        let probe = |p: Result<Option<u32>, Duration>| p.unwrap();
        spell(&mut b, 0, secs(10));
        assert!(
            !b.needs_store(secs(10), true),
            "nothing to tell, nothing wanted"
        );
        b.record(secs(10), Health::Ok, probe(p1));
        assert!(b.needs_store(secs(10), true), "a probe's success");
        assert_eq!(b.report(true).probes_ok, 1);
        b.release(probe(p2).unwrap(), secs(10));
        assert!(b.needs_store(secs(10), true), "a probe given back");
        assert_eq!(b.report(true).probes_released, 1);
        b.record(secs(10), Health::Failed, probe(p3));
        assert!(b.needs_store(secs(10), true), "a probe's failure");
        assert_eq!(b.report(true).probes_failed, 1);

        // A grant the admission after the renewal did not spend goes back
        // with the next renewal, and one probe is wanted in its place.
        let mut b = half_open(2);
        assert!(b.admit(secs(10)).unwrap().is_some());
        assert!(b.needs_store(secs(10), true), "a probe granted, not sent");
        let told = b.report(true);
        assert_eq!((told.probes_released, told.want), (1, 1));
        spell(&mut b, 1, secs(10));
        assert!(
            b.admit(secs(10)).unwrap().is_some(),
            "the probe asked for in its place"
        );

        // A probe is asked for only when a send is about to be admitted: a
        // call that sleeps does not keep the fleet's probe from others.
        let mut b = half_open(0);
        assert!(!b.needs_store(secs(15), false), "sleeping: nothing to ask");
        assert!(b.needs_store(secs(15), true), "about to send: a probe");
        assert_eq!(b.report(false).want, 0);
        assert_eq!(b.report(true).want, 1);

        // Nothing granted: ask again in 5 s, not before; refused until then.
        let mut b = half_open(0);
        assert!(!b.needs_store(secs(12), true));
        assert_eq!(b.admit(secs(12)), Err(secs(3)));
        assert!(b.needs_store(secs(15), true));
        // Granted later in the same spell: it adds up, counts kept.
        spell(&mut b, 1, secs(15));
        let first = b.admit(secs(15)).unwrap();
        spell(&mut b, 1, secs(16));
        assert!(b.admit(secs(16)).unwrap().is_some(), "a second probe");
        assert_eq!(first, Some(b.trips), "the same spell");

        // Out of the fleet: its own counts open it, and no store is asked.
        let mut b = breaker();
        b.report(true);
        b.leave_fleet();
        for _ in 0..4 {
            b.record(secs(1), Health::Failed, None);
        }
        assert!(!b.needs_store(secs(1), true));
        assert_eq!(b.admit(secs(1)), Err(secs(30)));
    }

    #[test]
    fn shared_the_store_opens_and_closes_it_and_grants_the_probes() {
        let mut b = breaker();
        assert!(!b.needs_store(secs(0), true), "alone, no store to tell");
        b.report(true);
        for _ in 0..6 {
            b.record(secs(1), Health::Failed, None);
        }
        assert_eq!(b.state(secs(1)), BreakerState::Closed, "the fleet decides");
        assert!(b.needs_store(secs(1), true), "failures to tell");
        let told = b.report(true);
        assert_eq!((told.failed, told.want), (6, 0));
        assert!(!b.needs_store(secs(1), true));
        b.follow(Verdict::Open { for_: secs(10) }, secs(1));
        assert_eq!(b.admit(secs(2)), Err(secs(9)));
        // Half-open: nothing granted yet, so no probe until the store says.
        assert!(b.needs_store(secs(11), true));
        assert!(b.admit(secs(11)).is_err());
        assert_eq!(b.report(true).want, 1);
        b.follow(
            Verdict::HalfOpen {
                granted: 1,
                ask_in: secs(1),
            },
            secs(11),
        );
        let probe = b.admit(secs(11)).unwrap();
        assert!(probe.is_some());
        assert!(b.admit(secs(11)).is_err(), "one probe granted here");
        b.record(secs(12), Health::Ok, probe);
        assert!(
            matches!(b.state(secs(12)), BreakerState::HalfOpen { .. }),
            "one success is the fleet's to count"
        );
        assert_eq!(b.report(true).probes_ok, 1);
        b.follow(Verdict::Closed, secs(12));
        assert_eq!(b.admit(secs(12)), Ok(None));
    }

    #[test]
    fn shared_a_probe_given_back_is_told_and_a_failed_one_reopens_at_once() {
        let mut b = breaker();
        b.report(true);
        b.follow(
            Verdict::HalfOpen {
                granted: 2,
                ask_in: secs(1),
            },
            secs(0),
        );
        let first = b.admit(secs(0)).unwrap().unwrap();
        let second = b.admit(secs(0)).unwrap();
        b.release(first, secs(0));
        assert!(b.needs_store(secs(0), true));
        assert_eq!(b.report(true).probes_released, 1);
        b.record(secs(1), Health::Failed, second);
        assert_eq!(b.admit(secs(1)), Err(secs(30)), "open here at once");
        assert_eq!(b.report(true).probes_failed, 1);
    }

    /// What a member's breaker may be told and asked, in any order.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Admit,
        Record(u8, bool),
        Release(u8),
        Report,
        Closed,
        Open(u8),
        HalfOpen(u8),
        Wait(u16),
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Step::Admit),
            (0..3u8, any::<bool>()).prop_map(|(h, p)| Step::Record(h, p)),
            (0..4u8).prop_map(Step::Release),
            Just(Step::Report),
            Just(Step::Closed),
            (0..60u8).prop_map(Step::Open),
            (0..3u8).prop_map(Step::HalfOpen),
            (0..2000u16).prop_map(Step::Wait),
        ]
    }

    proptest::proptest! {
        /// Shared, a member lets through no more probes in a half-open
        /// spell than the store granted it, and never panics.
        #[test]
        fn shared_a_member_never_probes_beyond_its_grant(
            steps in proptest::collection::vec(step(), 1..80)
        ) {
            let mut b = breaker();
            b.report(true);
            let mut now = secs(0);
            let mut probes: Vec<u32> = Vec::new();
            let (mut granted, mut let_through) = (0u32, 0u32);
            for step in steps {
                match step {
                    Step::Admit => {
                        if let Ok(Some(trip)) = b.admit(now) {
                            probes.push(trip);
                            let_through += 1;
                        }
                    }
                    Step::Record(h, probe) => {
                        let health = [Health::Ok, Health::Failed, Health::Unknown][usize::from(h)];
                        let probe = if probe { probes.pop() } else { None };
                        b.record(now, health, probe);
                    }
                    Step::Release(i) => {
                        if !probes.is_empty() {
                            let trip = probes.remove(usize::from(i) % probes.len());
                            b.release(trip, now);
                        }
                    }
                    Step::Report => {
                        b.report(true);
                    }
                    Step::Closed => b.follow(Verdict::Closed, now),
                    Step::Open(s) => b.follow(Verdict::Open { for_: secs(u64::from(s)) }, now),
                    Step::HalfOpen(n) => {
                        let new_spell = !matches!(b.state, State::HalfOpen { .. });
                        b.follow(Verdict::HalfOpen { granted: u32::from(n), ask_in: secs(1) }, now);
                        if new_spell {
                            (granted, let_through) = (0, 0);
                        }
                        granted += u32::from(n);
                    }
                    Step::Wait(ms) => now += Duration::from_millis(u64::from(ms)),
                }
                if !matches!(b.state, State::HalfOpen { .. }) {
                    (granted, let_through) = (0, 0);
                }
                // Given-back and unknown probes return their grant with them.
                let fleet = b.fleet.unwrap_or_default();
                proptest::prop_assert!(fleet.granted <= granted, "{fleet:?} vs {granted}");
                if let State::HalfOpen { out, succeeded, .. } = b.state {
                    proptest::prop_assert!(out + succeeded <= fleet.granted.max(let_through));
                    proptest::prop_assert!(let_through <= granted);
                }
            }
        }
    }
}
