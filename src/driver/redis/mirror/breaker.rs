//! The member's side of the breaker a fleet shares: the store opens,
//! probes and closes it for everyone, from the outcomes each member tells
//! it; the member counts them for the store, follows its verdict, and lets
//! through only the probes the store granted it. Only a failed probe opens
//! it here at once.

use core::time::Duration;

use crate::limits::{CircuitBreaker, Counted, Health};

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
pub(crate) enum FleetBreaker {
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

/// What the store has not heard yet, and the probes it granted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct BreakerBooks {
    /// News not yet told: the next report's, less its `want`.
    untold: BreakerReport,
    /// The half-open spell `granted` belongs to.
    spell: u32,
    /// Probes the store granted this process in `spell`.
    granted: u32,
    /// The store had no probe to give: do not ask before this.
    ask_at: Duration,
}

impl BreakerBooks {
    /// Probes granted for the breaker's current spell (none, out of one).
    fn granted(&self, b: &CircuitBreaker) -> u32 {
        match b.spell() {
            Some((spell, _)) if spell == self.spell => self.granted,
            _ => 0,
        }
    }

    /// Sets the grant for the breaker's current spell.
    fn set_granted(&mut self, b: &CircuitBreaker, granted: u32) {
        if let Some((spell, _)) = b.spell() {
            self.spell = spell;
        }
        self.granted = granted;
    }

    /// Probes the store granted this process that it has not sent.
    fn unused(&self, b: &CircuitBreaker) -> u32 {
        b.spell()
            .map_or(0, |(_, used)| self.granted(b).saturating_sub(used))
    }

    /// Half-open with every granted probe used.
    fn wants_probes(&self, b: &CircuitBreaker) -> bool {
        b.spell().is_some_and(|(_, used)| used >= self.granted(b))
    }

    /// A probe granted here will not report: the store hears of it, and
    /// the grant is spent, though never below the probes that succeeded
    /// (a probe may come back after its slot went stale).
    fn give_back(&mut self, b: &CircuitBreaker, succeeded: u32) {
        self.untold.probes_released = self.untold.probes_released.saturating_add(1);
        let granted = self.granted(b).saturating_sub(1).max(succeeded);
        self.set_granted(b, granted);
    }

    /// Admission: half-open, only the probes the store granted go; when
    /// they are used, the store is asked again when it said.
    pub(super) fn admit(
        &mut self,
        b: &mut CircuitBreaker,
        now: Duration,
    ) -> Result<Option<u32>, Duration> {
        b.tick(now);
        let granted = self.granted(b);
        if b.spell().is_some_and(|(_, used)| used >= granted) {
            return Err(self
                .ask_at
                .saturating_sub(now)
                .max(Duration::from_millis(1)));
        }
        b.admit_within(now, granted)
    }

    /// Counts a send's health for the store, which opens and closes the
    /// breaker; a failed probe opens it here at once.
    pub(super) fn record(
        &mut self,
        b: &mut CircuitBreaker,
        now: Duration,
        health: Health,
        probe: Option<u32>,
    ) {
        let news = &mut self.untold;
        match b.count(now, health, probe) {
            Counted::Closed { failed: false } => news.ok = news.ok.saturating_add(1),
            Counted::Closed { failed: true } => news.failed = news.failed.saturating_add(1),
            Counted::Probe {
                health: Health::Failed | Health::Throttled,
                ..
            } => {
                news.probes_failed = news.probes_failed.saturating_add(1);
                self.granted = 0;
                b.open(now);
            }
            Counted::Probe {
                health: Health::Ok,
                succeeded,
            } => {
                news.probes_ok = news.probes_ok.saturating_add(1);
                // The store counts a success as granted, whatever became
                // of its grant.
                let granted = self.granted(b).max(succeeded);
                self.set_granted(b, granted);
            }
            Counted::Probe {
                health: Health::Unknown,
                succeeded,
            } => self.give_back(b, succeeded),
            Counted::Nothing => {}
        }
    }

    /// A probe of `trip` will not report: its slot is free, its grant
    /// goes back to the store.
    pub(super) fn release(&mut self, b: &mut CircuitBreaker, trip: u32, now: Duration) {
        if let Some(succeeded) = b.release(trip, now) {
            self.give_back(b, succeeded);
        }
    }

    /// Whether the store should hear from this breaker at `now`: a failure
    /// or a probe's verdict it has not heard, a grant not spent, or, when
    /// a send is about to be admitted (`sending`), a probe needed.
    pub(super) fn needs_store(&self, b: &mut CircuitBreaker, now: Duration, sending: bool) -> bool {
        b.tick(now);
        let news = self.untold;
        let untold = news.failed > 0 || news.probes_ok > 0 || news.probes_failed > 0;
        untold
            || news.probes_released > 0
            || self.unused(b) > 0
            || (sending && self.wants_probes(b) && now >= self.ask_at)
    }

    /// What to tell the store. The store counts a probe stale from when it
    /// granted it, the process from when it sent it, and the two agree only
    /// when these are one: a probe is asked for one at a time, and only
    /// when a send is about to be admitted (`sending`), and a grant that
    /// admission did not spend (pacing held the send) goes back with the
    /// next renewal.
    pub(super) fn report(&mut self, b: &CircuitBreaker, sending: bool) -> BreakerReport {
        let unused = self.unused(b);
        if unused > 0 {
            self.granted = self.granted.saturating_sub(unused);
            self.untold.probes_released = self.untold.probes_released.saturating_add(unused);
        }
        BreakerReport {
            want: u32::from(sending && self.wants_probes(b)),
            ..core::mem::take(&mut self.untold)
        }
    }

    /// A report the store never received: its news is told again next time.
    pub(super) fn unreport(&mut self, told: &BreakerReport) {
        let news = &mut self.untold;
        news.ok = news.ok.saturating_add(told.ok);
        news.failed = news.failed.saturating_add(told.failed);
        news.probes_ok = news.probes_ok.saturating_add(told.probes_ok);
        news.probes_failed = news.probes_failed.saturating_add(told.probes_failed);
        news.probes_released = news.probes_released.saturating_add(told.probes_released);
    }

    /// Takes the store's verdict on the fleet's breaker at `now`.
    pub(super) fn follow(&mut self, b: &mut CircuitBreaker, verdict: FleetBreaker, now: Duration) {
        b.tick(now);
        match verdict {
            FleetBreaker::Closed => {
                self.granted = 0;
                b.close(now);
            }
            FleetBreaker::Open { for_ } => {
                self.granted = 0;
                b.open_for(now, for_);
            }
            FleetBreaker::HalfOpen { granted, ask_in } => {
                // A new spell: probes of earlier ones report to nobody.
                let before = if b.half_open(now) { 0 } else { self.granted(b) };
                self.set_granted(b, before.saturating_add(granted));
                if granted == 0 {
                    self.ask_at = now.saturating_add(ask_in);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::BreakerSpec;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A breaker and its mirror: a fleet member's breaker.
    struct Member {
        b: CircuitBreaker,
        m: BreakerBooks,
    }

    impl Member {
        fn admit(&mut self, now: Duration) -> Result<Option<u32>, Duration> {
            self.m.admit(&mut self.b, now)
        }

        fn record(&mut self, now: Duration, health: Health, probe: Option<u32>) {
            self.m.record(&mut self.b, now, health, probe);
        }

        fn release(&mut self, trip: u32, now: Duration) {
            self.m.release(&mut self.b, trip, now);
        }

        fn report(&mut self, sending: bool) -> BreakerReport {
            self.m.report(&self.b, sending)
        }

        fn needs_store(&mut self, now: Duration, sending: bool) -> bool {
            self.m.needs_store(&mut self.b, now, sending)
        }

        fn follow(&mut self, verdict: FleetBreaker, now: Duration) {
            self.m.follow(&mut self.b, verdict, now);
        }

        fn state(&mut self, now: Duration) -> crate::limits::BreakerState {
            self.b.state(now)
        }
    }

    fn breaker() -> Member {
        Member {
            b: CircuitBreaker::new(
                BreakerSpec {
                    failure_ratio: 0.5,
                    window: secs(60),
                    min_outcomes: 4,
                    break_for: secs(30),
                    probes: 2,
                },
                secs(60),
            ),
            m: BreakerBooks::default(),
        }
    }

    /// Each kind of news alone makes the store worth asking; half-open with
    /// nothing granted, the store is asked again when it said to, and a
    /// refused probe waits until then; a second half-open verdict in the
    /// same spell adds to the grant; out of the fleet, the breaker is the
    /// process's own again.
    #[test]
    fn shared_every_kind_of_news_and_the_stores_timing() {
        let spell = |b: &mut Member, granted, at| {
            b.follow(
                FleetBreaker::HalfOpen {
                    granted,
                    ask_in: secs(5),
                },
                at,
            );
        };
        let half_open = |granted| {
            let mut b = breaker();
            b.report(true);
            b.follow(FleetBreaker::Open { for_: secs(10) }, secs(0));
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
        assert_eq!(first, b.b.spell().map(|(spell, _)| spell), "the same spell");

        // Out of the fleet (the mirror dropped): its own counts open it.
        let mut b = breaker();
        b.report(true);
        let mut alone = b.b;
        for _ in 0..4 {
            alone.record(secs(1), Health::Failed, None);
        }
        assert_eq!(alone.admit(secs(1)), Err(secs(30)));
    }

    #[test]
    fn shared_the_store_opens_and_closes_it_and_grants_the_probes() {
        let mut b = breaker();
        assert!(
            !b.needs_store(secs(0), true),
            "no news yet: nothing to tell"
        );
        b.report(true);
        for _ in 0..6 {
            b.record(secs(1), Health::Failed, None);
        }
        assert_eq!(
            b.state(secs(1)),
            crate::limits::BreakerState::Closed,
            "the fleet decides"
        );
        assert!(b.needs_store(secs(1), true), "failures to tell");
        let told = b.report(true);
        assert_eq!((told.failed, told.want), (6, 0));
        assert!(!b.needs_store(secs(1), true));
        b.follow(FleetBreaker::Open { for_: secs(10) }, secs(1));
        assert_eq!(b.admit(secs(2)), Err(secs(9)));
        // Half-open: nothing granted yet, so no probe until the store says.
        assert!(b.needs_store(secs(11), true));
        assert!(b.admit(secs(11)).is_err());
        assert_eq!(b.report(true).want, 1);
        b.follow(
            FleetBreaker::HalfOpen {
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
            matches!(
                b.state(secs(12)),
                crate::limits::BreakerState::HalfOpen { .. }
            ),
            "one success is the fleet's to count"
        );
        assert_eq!(b.report(true).probes_ok, 1);
        b.follow(FleetBreaker::Closed, secs(12));
        assert_eq!(b.admit(secs(12)), Ok(None));
    }

    #[test]
    fn shared_a_probe_given_back_is_told_and_a_failed_one_reopens_at_once() {
        let mut b = breaker();
        b.report(true);
        b.follow(
            FleetBreaker::HalfOpen {
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
                    Step::Closed => b.follow(FleetBreaker::Closed, now),
                    Step::Open(s) => b.follow(FleetBreaker::Open { for_: secs(u64::from(s)) }, now),
                    Step::HalfOpen(n) => {
                        let new_spell = b.b.spell().is_none();
                        b.follow(FleetBreaker::HalfOpen { granted: u32::from(n), ask_in: secs(1) }, now);
                        if new_spell {
                            (granted, let_through) = (0, 0);
                        }
                        granted += u32::from(n);
                    }
                    Step::Wait(ms) => now += Duration::from_millis(u64::from(ms)),
                }
                if b.b.spell().is_none() {
                    (granted, let_through) = (0, 0);
                }
                // Given-back and unknown probes return their grant with them.
                let held = b.m.granted(&b.b);
                proptest::prop_assert!(held <= granted, "{held} vs {granted}");
                if let Some((_, used)) = b.b.spell() {
                    proptest::prop_assert!(used <= held.max(let_through));
                    proptest::prop_assert!(let_through <= granted);
                }
            }
        }
    }
}
