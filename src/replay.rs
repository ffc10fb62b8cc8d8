//! Replaying a scripted list of outcomes through a call in virtual time:
//! sleeps advance a simulated clock instead of the caller's thread, so a
//! six-minute schedule replays in microseconds. Pure: no IO, no real clock.

use core::fmt;
use core::time::Duration;

use crate::action::Action;
use crate::call::{Call, OutcomeError, Waiting};
use crate::event::Event;
use crate::outcome::{Clock, NetworkError, Outcome, Refresh, Request, Search};
use crate::policy::Policy;

/// One scripted outcome, owned. A response or network failure arrives
/// `latency` after its send, or, when `at` is set, at that time since the
/// call started (a recorded incident's clock reading; never earlier than
/// the send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A response arriving `latency` after the send.
    Response {
        /// The status code.
        status: u16,
        /// The headers, values as raw bytes.
        headers: Vec<(String, Vec<u8>)>,
        /// How long the attempt took.
        latency: Duration,
        /// When it arrived, since the call started (overrides `latency`).
        at: Option<Duration>,
    },
    /// A network failure arriving `latency` after the send.
    Network {
        /// The failure.
        error: NetworkError,
        /// How long the attempt took.
        latency: Duration,
        /// When it arrived, since the call started (overrides `latency`).
        at: Option<Duration>,
    },
    /// A token refresh result.
    Refresh(Refresh),
    /// A search result.
    Search(Search),
}

impl Step {
    /// An instant response with no headers.
    pub fn status(status: u16) -> Self {
        Self::Response {
            status,
            headers: Vec::new(),
            latency: Duration::ZERO,
            at: None,
        }
    }

    /// An instant network failure.
    pub fn network(error: NetworkError) -> Self {
        Self::Network {
            error,
            latency: Duration::ZERO,
            at: None,
        }
    }

    /// The same step with one more header (ignored on non-responses).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        if let Self::Response { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.as_ref().to_vec()));
        }
        self
    }

    /// The same step taking `latency` (ignored on refresh and search).
    #[must_use]
    pub fn after(mut self, took: Duration) -> Self {
        if let Self::Response { latency, .. } | Self::Network { latency, .. } = &mut self {
            *latency = took;
        }
        self
    }

    /// The same step arriving at `t` since the call started.
    #[must_use]
    pub fn at(mut self, t: Duration) -> Self {
        if let Self::Response { at, .. } | Self::Network { at, .. } = &mut self {
            *at = Some(t);
        }
        self
    }

    /// The clock when this step's outcome arrives, sent at `sent`.
    fn arrival(&self, start: Clock, sent: Clock) -> Clock {
        match self {
            Self::Response { at: Some(t), .. } | Self::Network { at: Some(t), .. } => {
                let due = start.mono.saturating_add(*t);
                sent.advanced(due.saturating_sub(sent.mono))
            }
            Self::Response { latency, .. } | Self::Network { latency, .. } => {
                sent.advanced(*latency)
            }
            Self::Refresh(_) | Self::Search(_) => sent,
        }
    }

    fn outcome(&self) -> Outcome<'_> {
        match self {
            Self::Response {
                status, headers, ..
            } => Outcome::response(*status, headers),
            Self::Network { error, .. } => Outcome::Network(*error),
            Self::Refresh(r) => Outcome::Refresh(*r),
            Self::Search(s) => Outcome::Search(*s),
        }
    }
}

/// How a replay ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The call finished with this action (`Done` or `GiveUp`).
    Finished(Action),
    /// The script ran out while the call was still waiting.
    ScriptEnded(Waiting),
    /// The call rejected a scripted outcome that did not fit.
    Rejected(OutcomeError),
}

/// Everything a replay saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Every action the call asked for, in order: the first send, sleeps,
    /// re-sends at once after a refresh or a search, and the end.
    pub actions: Vec<Action>,
    /// One event per observed outcome, in order.
    pub events: Vec<Event>,
    /// How it ended.
    pub end: End,
    /// Sends made.
    pub sends: u32,
    /// Sleeps taken, in order.
    pub sleeps: Vec<Duration>,
    /// Virtual time from start to end.
    pub elapsed: Duration,
}

impl Trace {
    /// The total of all sleeps.
    pub fn slept(&self) -> Duration {
        self.sleeps
            .iter()
            .fold(Duration::ZERO, |a, &b| a.saturating_add(b))
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
    let mut steps = steps.into_iter();
    let mut clock = start;
    let mut call = Call::new(policy, request, clock, seed);
    let mut trace = Trace {
        actions: Vec::new(),
        events: Vec::new(),
        end: End::ScriptEnded(Waiting::Response),
        sends: 0,
        sleeps: Vec::new(),
        elapsed: Duration::ZERO,
    };
    trace.end = loop {
        let action = call.poll(clock);
        trace.actions.push(action);
        match action {
            Action::Sleep(d) => {
                trace.sleeps.push(d);
                clock = clock.advanced(d);
                continue;
            }
            Action::Done(_) | Action::GiveUp(_) => break End::Finished(action),
            Action::Send { .. } | Action::RefreshToken | Action::SearchExisting => {}
        }
        let Some(step) = steps.next() else {
            break End::ScriptEnded(call.waiting());
        };
        if matches!(action, Action::Send { .. }) {
            trace.sends += 1;
        }
        clock = step.arrival(start, clock);
        match call.observe(step.outcome(), clock) {
            Ok(event) => trace.events.push(*event),
            Err(e) => break End::Rejected(e),
        }
    };
    trace.elapsed = clock.mono.saturating_sub(start.mono);
    trace
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Finished(a) => write!(f, "{a}"),
            Self::ScriptEnded(w) => write!(f, "the scenario ended before the call did ({w})"),
            Self::Rejected(e) => write!(f, "a step did not fit: {e}"),
        }
    }
}

/// The events, one per line, then a summary line.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        write!(
            f,
            "=> {} | {} sends, slept {}, elapsed {}",
            self.end,
            self.sends,
            humantime::format_duration(self.slept()),
            humantime::format_duration(self.elapsed)
        )
    }
}
