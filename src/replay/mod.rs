//! Replaying a scripted list of outcomes through a call in virtual time:
//! sleeps advance a simulated clock instead of the caller's thread, so a
//! six-minute schedule replays in microseconds. Pure: no IO, no real clock.

use core::fmt;
use core::time::Duration;

use crate::action::Action;
use crate::call::{OutcomeError, Waiting};
use crate::event::Event;
use crate::outcome::{Clock, Outcome, Request};
use crate::policy::Policy;

pub(crate) mod runner;
mod step;

pub use step::Step;

/// Everything a call driven in virtual time saw: by [`replay`], or by the
/// testing kit's `drive`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Trace {
    /// Every action the call asked for, in order: the first send, sleeps,
    /// re-sends at once after a refresh or a search, and the end.
    pub actions: Vec<Action>,
    /// One event per observed outcome, in order.
    pub events: Vec<Event>,
    /// The action the call finished with (`Done` or `GiveUp`); `None` when
    /// the run stopped first: the script ran out while the call waited for
    /// the answer to its last action (the last of `actions`), a step did
    /// not fit (`rejected`), or (the testing kit's `drive`) the call slept
    /// once for every step.
    pub end: Option<Action>,
    /// The scripted outcome the call refused because it answered nothing
    /// the call had asked for; the run stopped there.
    pub rejected: Option<OutcomeError>,
    /// Sends the call asked for (the last may have had no answer when the
    /// script ended).
    pub sends: u32,
    /// Retries the call counted against `max_retries`.
    pub retries: u32,
    /// Rate-limited responses whose wait the policy does not count as a
    /// retry.
    pub uncounted_waits: u32,
    /// Every sleep asked for, backoff and pacing alike, in order: the
    /// call's elapsed time when it asked, and the sleep's length.
    pub sleeps: Vec<(Duration, Duration)>,
    /// Virtual time from start to end.
    pub elapsed: Duration,
    /// Where the call broke its contract, as the testing kit checks it (a
    /// poll that changed when repeated, a sleep that grew as the clock went
    /// back, a misfit accepted or one that changed the call, a send after
    /// a final status, a fitting outcome refused). A replay does not check:
    /// its traces have none.
    pub breaches: Vec<String>,
}

impl Trace {
    /// The total of all sleeps.
    pub fn slept(&self) -> Duration {
        self.sleeps
            .iter()
            .fold(Duration::ZERO, |a, &(_, d)| a.saturating_add(d))
    }

    /// How the run ended, in words: the final action (`done: success
    /// (200)`), or why the run stopped first.
    pub fn ending(&self) -> impl fmt::Display + '_ {
        struct Ending<'t>(&'t Trace);
        impl fmt::Display for Ending<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match (self.0.end, self.0.rejected) {
                    (Some(a), _) => write!(f, "{a}"),
                    (None, Some(e)) => write!(f, "a step did not fit: {e}"),
                    (None, None) => f.write_str("the scenario ended before the call did"),
                }
            }
        }
        Ending(self)
    }

    /// How the call ended and what it cost, in one line:
    /// `done: success (200) | 2 sends, slept 45s, elapsed 45s`.
    pub fn summary(&self) -> impl fmt::Display + '_ {
        struct Summary<'t>(&'t Trace);
        impl fmt::Display for Summary<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let t = self.0;
                write!(
                    f,
                    "{} | {} sends, slept {}, elapsed {}",
                    t.ending(),
                    t.sends,
                    humantime::format_duration(t.slept()),
                    humantime::format_duration(t.elapsed)
                )
            }
        }
        Summary(self)
    }
}

/// Drives a call under `policy` through `steps` from `start`, sleeping in
/// virtual time, until it finishes, the script ends, or a step does not fit.
pub fn replay(
    policy: &Policy,
    request: Request,
    start: Clock,
    seed: u64,
    steps: impl IntoIterator<Item = Step>,
) -> Trace {
    runner::run(
        policy,
        request,
        start,
        seed,
        &mut Steps(steps.into_iter()),
        None,
    )
}

/// A list of steps as the runner's script: each step answers whatever was
/// asked, and one that does not fit is rejected by the call.
struct Steps<I>(I);

impl<I: Iterator<Item = Step>> runner::Script for Steps<I> {
    type Step = Step;

    fn next(&mut self, _asked: Action, _waiting: Waiting) -> Option<Step> {
        self.0.next()
    }

    fn outcome(step: &Step, _waiting: Waiting) -> Option<Outcome<'_>> {
        Some(step.outcome())
    }

    fn arrival(step: &Step, start: Clock, sent: Clock) -> Clock {
        step.arrival(start, sent)
    }
}

/// The events, one per line, then a summary line.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        write!(f, "=> {}", self.summary())
    }
}
