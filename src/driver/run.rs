//! A call as a driver runs it: the step both drivers loop over, the guard
//! that gives back what the shared limits granted it, and the tally the
//! driver's result is built from.

use core::borrow::Borrow;
use core::time::Duration;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::log::{log_attempt, log_event};
use super::{seed, Failure, Response, Run, Sharing};
use crate::action::{Action, Completion, Reason};
use crate::call::Call;
use crate::event::Observed;
use crate::limits::Limits;
use crate::outcome::{NetworkError, Outcome, Refresh, Request, Search};
use crate::policy::Policy;

/// What a driver is told to do next: the IO of one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Io {
    /// Send attempt `attempt`, bounded by `timeout`.
    Send {
        attempt: u32,
        timeout: Option<Duration>,
    },
    /// Sleep this long.
    Sleep(Duration),
    /// Refresh the access token.
    Refresh,
    /// Look up the existing record.
    Search,
}

/// A call as a driver runs it, with the limits it shares: the loop both
/// drivers run, without its IO. The driver asks [`next`](Self::next) what
/// to do, does it, and reports back; the clocks are read, the limits locked
/// (only around a decision, never across IO or a sleep) and every event
/// logged here. Whatever the limits granted the call comes back when this
/// is dropped before the call has reported: its future dropped at an
/// await, a hook panicking.
pub(crate) struct Driven<'s, P: Borrow<Policy>, R, Id> {
    call: Call<P>,
    sharing: Sharing<'s>,
    method: &'static str,
    /// What the last attempt brought, and the id a lookup found.
    last: Option<Result<R, NetworkError>>,
    found: Option<Id>,
    attempts: u32,
    waited: Duration,
    started: Instant,
    /// When the IO being done now began.
    asked: Instant,
}

impl<'s, P: Borrow<Policy>, R: Response, Id> Driven<'s, P, R, Id> {
    pub(crate) fn new(policy: P, request: Request, sharing: Sharing<'s>) -> Self {
        let started = Instant::now();
        Self {
            call: Call::new(policy, request, super::now(), seed()),
            sharing,
            method: request.method.as_str(),
            last: None,
            found: None,
            attempts: 0,
            waited: Duration::ZERO,
            started,
            asked: started,
        }
    }

    /// The fleet the call's limits are shared with, if any: the driver
    /// renews its lease before each step.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet(&self) -> Option<&'s super::redis::RedisLimits> {
        match self.sharing {
            Sharing::Fleet(fleet) => Some(fleet),
            _ => None,
        }
    }

    /// Whether the call's next step at `now` is a send (its limits may
    /// still hold it): a fleet member asks for a probe only then.
    #[cfg(feature = "redis")]
    pub(crate) fn sends_at(&self, now: crate::outcome::Clock) -> bool {
        self.call.sends_at(now.mono)
    }

    /// What to do next, or the call's end. A decision the limits took
    /// (pacing, an open circuit) is logged, and so is a send about to go.
    pub(crate) fn next(&mut self, endpoint: &str, body: Option<&[u8]>) -> Result<Io, Run<R, Id>> {
        let io = match self.poll(endpoint) {
            Action::Send { attempt } => {
                log_attempt(self.method, endpoint, attempt, body);
                Io::Send {
                    attempt,
                    timeout: self.call.policy().spec().attempt_timeout,
                }
            }
            Action::Sleep(d) => Io::Sleep(d),
            Action::RefreshToken => Io::Refresh,
            Action::SearchExisting => Io::Search,
            Action::Done(c) => return Err(self.finish(Ok(c))),
            Action::GiveUp(r) => return Err(self.finish(Err(r))),
        };
        // An attempt's time is its IO's, not its log record's.
        self.asked = Instant::now();
        Ok(io)
    }

    /// Observes what a send brought, logs it, and keeps it.
    pub(crate) fn sent(&mut self, endpoint: &str, sent: Result<R, NetworkError>) {
        self.attempts += 1;
        let observed = match &sent {
            Ok(r) => Outcome::response(r.status(), r.headers()),
            Err(e) => Outcome::Network(*e),
        };
        self.observe(observed, (self.method, endpoint));
        self.last = Some(sent);
    }

    /// The sleep asked for is over.
    pub(crate) fn slept(&mut self, d: Duration) {
        self.waited += d;
    }

    /// Observes a token refresh's result and logs it.
    pub(crate) fn refreshed(&mut self, refresh: Refresh) {
        self.observe(Outcome::Refresh(refresh), ("-", "(token refresh)"));
    }

    /// Observes a lookup's result, keeps a found id, and logs it.
    pub(crate) fn looked_up(&mut self, lookup: Search<Id>) {
        let search = match lookup {
            Search::Found(id) => {
                self.found = Some(id);
                Search::Found(())
            }
            Search::NotFound => Search::NotFound,
            Search::Failed => Search::Failed,
        };
        self.observe(Outcome::Search(search), ("-", "(search existing)"));
    }

    fn poll(&mut self, endpoint: &str) -> Action {
        let now = super::now();
        let Some(limits) = self.sharing.limits() else {
            return self.call.poll(now, None);
        };
        let action = self.call.poll(now, Some(&mut lock(limits)));
        if let Some(e) = self.call.last_event() {
            let fresh = e.observed == Observed::Nothing && e.action == action;
            if fresh && !matches!(action, Action::Send { .. }) {
                log_event(self.method, endpoint, e, Duration::ZERO);
            }
        }
        action
    }

    fn observe(&mut self, outcome: Outcome<'_>, (method, endpoint): (&str, &str)) {
        let now = super::now();
        let mut shared = self.sharing.limits().map(lock);
        let event = self.call.observe(outcome, now, shared.as_deref_mut());
        drop(shared);
        // The driver answers exactly what was asked, so this cannot fail.
        debug_assert!(event.is_ok(), "{event:?}");
        if let Ok(e) = event {
            log_event(method, endpoint, e, self.asked.elapsed());
        }
    }

    /// The result for the call's final action.
    fn finish(&mut self, end: Result<Completion, Reason>) -> Run<R, Id> {
        let result = match (end, self.last.take(), self.found.take()) {
            (Ok(Completion::Success(_)), Some(Ok(r)), _) => Ok(Completion::Success(r)),
            (Ok(Completion::Existing(())), _, Some(id)) => Ok(Completion::Existing(id)),
            (Ok(Completion::Update(())), _, Some(id)) => Ok(Completion::Update(id)),
            // A success always follows a response and a found record always
            // follows a lookup that returned its id; these arms only keep the
            // match total.
            (Ok(Completion::Success(status)), last, _) => Err(Failure {
                reason: Reason::NotRetryable { status },
                last,
            }),
            (Ok(Completion::Existing(()) | Completion::Update(())), last, None) => Err(Failure {
                reason: Reason::SearchFailed,
                last,
            }),
            (Err(reason), last, _) => Err(Failure { reason, last }),
        };
        Run {
            result,
            attempts: self.attempts,
            waited: self.waited,
            elapsed: self.started.elapsed(),
        }
    }
}

fn lock(limits: &Mutex<Limits>) -> std::sync::MutexGuard<'_, Limits> {
    limits.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<P: Borrow<Policy>, R, Id> Drop for Driven<'_, P, R, Id> {
    fn drop(&mut self) {
        if let (Some(limits), true) = (self.sharing.limits(), self.call.holds_grant()) {
            let now = super::now();
            self.call.abandon(&mut lock(limits), now);
        }
    }
}
