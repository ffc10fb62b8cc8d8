//! The one virtual-time loop. [`replay`](super::replay) runs a list of
//! [`Step`](super::Step)s through it; the testing kit runs random steps through
//! it and checks the call's contract at the points a [`Script`] may look in.

use core::time::Duration;

use super::Trace;
use crate::action::Action;
use crate::call::{Call, OutcomeError, Waiting};
use crate::classify;
use crate::event::Event;
use crate::limits::Limits;
use crate::outcome::{Clock, Outcome, Request};
use crate::policy::{Policy, Rule};

/// What a run feeds the call, and where it may look at the call on the way.
pub(crate) trait Script {
    /// One scripted answer, held while the call observes it.
    type Step;

    /// The answer to `asked` (a send, refresh or search), which leaves the
    /// call `waiting`; `None` ends the script.
    fn next(&mut self, asked: Action, waiting: Waiting) -> Option<Self::Step>;

    /// The outcome `step` gives a call waiting for `waiting`; `None` ends the
    /// run as if the script had ended.
    fn outcome(step: &Self::Step, waiting: Waiting) -> Option<Outcome<'_>>;

    /// When the answer arrives, for a send (or request) made at `sent`.
    fn arrival(step: &Self::Step, start: Clock, sent: Clock) -> Clock;

    /// Called after each poll with its `action`, before it is carried out.
    fn polled(&mut self, _run: &mut Session<'_, '_>, _clock: Clock, _action: Action) {}

    /// Called before a sleep of `d` is taken; `false` ends the run there.
    fn sleeping(&mut self, _run: &mut Session<'_, '_>, _clock: Clock, _d: Duration) -> bool {
        true
    }

    /// Called just before the call observes `step`.
    fn observing(&mut self, _run: &mut Session<'_, '_>, _step: &Self::Step, _clock: Clock) {}

    /// Called once the call accepted `step` as the answer to `waiting`;
    /// returns the clock the run goes on from (a script may move it).
    fn observed(
        &mut self,
        _policy: &Policy,
        _step: &Self::Step,
        _waiting: Waiting,
        clock: Clock,
    ) -> Clock {
        clock
    }
}

/// The call under test and, when shared limits take part, the limits.
pub(crate) struct Session<'l, 'p> {
    pub(crate) call: Call<&'p Policy>,
    limits: Option<&'l mut Limits>,
}

impl Session<'_, '_> {
    /// Polls as a driver would: through the limits when there are any.
    pub(crate) fn poll(&mut self, clock: Clock) -> Action {
        self.call.poll(clock, self.limits.as_deref_mut())
    }

    fn observe(&mut self, outcome: Outcome<'_>, clock: Clock) -> Result<Event, OutcomeError> {
        self.call
            .observe(outcome, clock, self.limits.as_deref_mut())
            .copied()
    }
}

/// Drives a call under `policy` through `script` from `start`, sleeping in
/// virtual time, until it finishes, the script ends or an outcome does not
/// fit. With `limits`, the call consults and feeds them, and gives back
/// what they still hold for it when the run ends, as a driver's dropped
/// call does.
pub(crate) fn run<S: Script>(
    policy: &Policy,
    request: Request,
    start: Clock,
    seed: u64,
    script: &mut S,
    limits: Option<&mut Limits>,
) -> Trace {
    let mut clock = start;
    let mut run = Session {
        call: Call::new(policy, request, clock, seed),
        limits,
    };
    let mut trace = Trace {
        actions: Vec::new(),
        events: Vec::new(),
        end: None,
        rejected: None,
        sends: 0,
        retries: 0,
        uncounted_waits: 0,
        sleeps: Vec::new(),
        elapsed: Duration::ZERO,
        breaches: Vec::new(),
    };
    loop {
        let action = run.poll(clock);
        script.polled(&mut run, clock, action);
        trace.actions.push(action);
        match action {
            Action::Sleep(d) => {
                trace.sleeps.push((run.call.elapsed(), d));
                if !script.sleeping(&mut run, clock, d) {
                    break;
                }
                clock = clock.advanced(d);
                continue;
            }
            Action::Done(_) | Action::GiveUp(_) => {
                trace.end = Some(action);
                break;
            }
            Action::Send { .. } => trace.sends += 1,
            Action::RefreshToken | Action::SearchExisting => {}
        }
        let waiting = run.call.waiting();
        let Some(step) = script.next(action, waiting) else {
            break;
        };
        clock = S::arrival(&step, start, clock);
        let Some(outcome) = S::outcome(&step, waiting) else {
            break;
        };
        script.observing(&mut run, &step, clock);
        let uncounted = uncounted_wait(policy, &outcome);
        match run.observe(outcome, clock) {
            Ok(event) => {
                // A rate limit the call gave up on caused no wait.
                let waited = uncounted && !event.action.is_final();
                trace.uncounted_waits = trace.uncounted_waits.saturating_add(u32::from(waited));
                trace.events.push(event);
            }
            Err(e) => {
                trace.rejected = Some(e);
                break;
            }
        }
        clock = script.observed(policy, &step, waiting, clock);
    }
    if let Some(l) = run.limits {
        run.call.abandon(l, clock);
    }
    trace.retries = run.call.retries();
    trace.elapsed = clock.mono.saturating_sub(start.mono);
    trace
}

/// Whether `outcome` is a rate-limited response whose wait `policy` does
/// not count as a retry.
fn uncounted_wait(policy: &Policy, outcome: &Outcome<'_>) -> bool {
    let spec = policy.spec();
    match *outcome {
        Outcome::Response {
            status,
            headers,
            code,
        } => {
            !spec.rate_limit.counts_as_retry
                && classify::response(spec, status, code, headers) == Rule::RateLimited
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use crate::action::{Action, Reason};
    use crate::outcome::{Clock, Method, Request};
    use crate::policy::{Policy, StatusRetries};
    use crate::replay::{replay, Step};

    fn uncounted_429s() -> Policy {
        let mut spec = Policy::seed_guide().spec().clone();
        spec.rate_limit.counts_as_retry = false;
        spec.status_retries = StatusRetries::IdempotentOnly;
        Policy::new(spec).expect("a valid policy")
    }

    #[test]
    fn an_uncounted_wait_is_one_the_call_waited() {
        let policy = uncounted_429s();
        let start = Clock::new(Duration::ZERO, Duration::ZERO);
        let steps = || [Step::status(429), Step::status(200)];
        let get = replay(&policy, Request::new(Method::Get), start, 1, steps());
        assert_eq!(get.uncounted_waits, 1, "{get:?}");
        let post = replay(&policy, Request::new(Method::Post), start, 1, steps());
        assert_eq!(
            post.end,
            Some(Action::GiveUp(Reason::NotRetryable { status: 429 }))
        );
        assert_eq!(post.uncounted_waits, 0, "a 429 given up on is no wait");
    }
}
