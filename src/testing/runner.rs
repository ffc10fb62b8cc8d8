//! Driving a call through random steps in virtual time, checking its
//! contract on the way.

use core::time::Duration;

use crate::action::Action;
use crate::call::Waiting;
use crate::classify;
use crate::limits::Limits;
use crate::outcome::{Clock, Outcome, Request};
use crate::policy::{Policy, Rule};
use crate::replay::runner::{self, Script, Session};
use crate::replay::{Step, Trace};

/// Drives a call under `policy` through `steps` in virtual time, until it
/// finishes, the steps run out, or it has slept once for every step. Never
/// sleeps, never panics on any input.
///
/// Each step answers what the call asks next, in order. A step that does
/// not answer it (a response while the call waits for a token refresh, a
/// search result while it waits for a response) is passed over, and offered
/// first, when a fitting step follows, as a misfit the call must refuse
/// without changing. On
/// the way, `seed` (the call's jitter seed too) makes the clock jump back
/// now and then: the call must neither panic nor wait longer for it.
///
/// With `limits`, the call consults and feeds them (pacing, retry budget,
/// circuit breaker) as it would when sharing them with other calls; when
/// the run ends, it gives back what the limits still hold for it, as a
/// driver's call does when dropped.
pub fn drive(
    policy: &Policy,
    request: Request,
    seed: u64,
    steps: &[Step],
    limits: Option<&mut Limits>,
) -> Trace {
    let start = Clock::new(
        Duration::from_secs(1_000),
        Duration::from_secs(1_800_000_000),
    );
    let mut checks = Checks {
        steps,
        misfits: &[],
        sleeps_left: steps.len(),
        // Not the call's own draws: those come from `seed` itself.
        jumps: fastrand::Rng::with_seed(seed ^ 0x6a09_e667_f3bc_c908),
        fatal_seen: false,
        breaches: Vec::new(),
    };
    let mut trace = runner::run(policy, request, start, seed, &mut checks, limits);
    if let Some(e) = trace.rejected {
        checks
            .breaches
            .push(format!("a fitting outcome was refused: {e}"));
    }
    trace.breaches = checks.breaches;
    trace
}

/// The steps as the runner's script, checking the call's contract where
/// the runner lets it look.
struct Checks<'a> {
    /// The steps not yet used.
    steps: &'a [Step],
    /// The steps passed over for the one the call observes next.
    misfits: &'a [Step],
    sleeps_left: usize,
    /// Draws the clock's jumps back.
    jumps: fastrand::Rng,
    /// A status whose rule is "give up" was observed.
    fatal_seen: bool,
    breaches: Vec<String>,
}

impl Checks<'_> {
    /// How far the clock jumps back next: not at all four times in five,
    /// else up to 400 s.
    fn jump(&mut self) -> Duration {
        if self.jumps.u8(..5) == 0 {
            Duration::from_millis(self.jumps.u64(..400_000))
        } else {
            Duration::ZERO
        }
    }
}

impl<'a> Script for Checks<'a> {
    type Step = &'a Step;

    fn next(&mut self, asked: Action, waiting: Waiting) -> Option<&'a Step> {
        if matches!(asked, Action::Send { .. }) && core::mem::take(&mut self.fatal_seen) {
            self.breaches
                .push("a send followed a non-retryable status".into());
        }
        let at = self
            .steps
            .iter()
            .position(|s| waiting.answered_by(&s.outcome()))?;
        let (misfits, rest) = self.steps.split_at(at);
        self.misfits = misfits;
        self.steps = &rest[1..];
        rest.first()
    }

    fn outcome<'s>(step: &'s &'a Step, _waiting: Waiting) -> Option<Outcome<'s>> {
        Some(step.outcome())
    }

    fn arrival(step: &&'a Step, start: Clock, sent: Clock) -> Clock {
        step.arrival(start, sent)
    }

    fn polled(&mut self, run: &mut Session<'_, '_>, clock: Clock, action: Action) {
        if run.poll(clock) != action {
            self.breaches
                .push(format!("a second poll changed {action:?}"));
        }
    }

    /// Checks that a clock going back never lengthens a sleep.
    fn sleeping(&mut self, run: &mut Session<'_, '_>, clock: Clock, d: Duration) -> bool {
        let Some(left) = self.sleeps_left.checked_sub(1) else {
            return false;
        };
        self.sleeps_left = left;
        let back = self.jump();
        let earlier = Clock::new(clock.mono.saturating_sub(back), clock.unix);
        match run.call.poll(earlier, None) {
            Action::Sleep(again) if again <= d => {}
            other => self.breaches.push(format!(
                "sleep {d:?} became {other:?} as the clock went back"
            )),
        }
        true
    }

    /// Offers each step passed over: the call must refuse it and stay as it
    /// was.
    fn observing(&mut self, run: &mut Session<'_, '_>, _step: &&'a Step, clock: Clock) {
        for misfit in core::mem::take(&mut self.misfits) {
            let wrong = misfit.outcome();
            let before = run.call.poll(clock, None);
            if run.call.observe(wrong, clock, None).is_ok() || run.call.poll(clock, None) != before
            {
                self.breaches
                    .push(format!("a misfit {wrong:?} changed the call"));
            }
        }
    }

    fn observed(
        &mut self,
        policy: &Policy,
        step: &&'a Step,
        _waiting: Waiting,
        clock: Clock,
    ) -> Clock {
        if let Step::Response {
            status, headers, ..
        } = step
        {
            let rule = classify::response(policy.spec(), *status, None, headers);
            self.fatal_seen |= rule == Rule::GiveUp;
        }
        Clock::new(clock.mono.saturating_sub(self.jump()), clock.unix)
    }
}
