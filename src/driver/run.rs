//! A call as a driver runs it: the guard that gives back what the shared
//! limits granted it, and the tally the driver's result is built from.

use core::borrow::Borrow;
use core::time::Duration;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use super::log::log_event;
use super::{Failure, Last, Lookup, Response, Run, Success};
use crate::action::{Action, Completion, Reason};
use crate::call::{Call, OutcomeError};
use crate::event::{Event, Observed};
use crate::limits::Limits;
use crate::outcome::{NetworkError, Outcome, Refresh, Search};
use crate::policy::Policy;

/// What a driver remembers between actions to build the result.
pub(crate) struct Tally<R, Id> {
    pub last: Option<Last<R>>,
    pub found: Option<Id>,
    pub attempts: u32,
    pub waited: Duration,
    pub started: Instant,
}

impl<R, Id> Tally<R, Id> {
    pub(crate) fn new() -> Self {
        Self {
            last: None,
            found: None,
            attempts: 0,
            waited: Duration::ZERO,
            started: Instant::now(),
        }
    }

    /// Observes what a send brought, logs it, and keeps the response.
    pub(crate) fn sent<P: Borrow<Policy>>(
        &mut self,
        driven: &mut Driven<'_, P>,
        (method, endpoint): (&str, &str),
        sent: Result<R, NetworkError>,
        started: Instant,
    ) -> Result<(), OutcomeError>
    where
        R: Response,
    {
        self.attempts += 1;
        let event = match &sent {
            Ok(r) => driven.observe(Outcome::response(r.status(), r.headers())),
            Err(e) => driven.observe(Outcome::Network(*e)),
        };
        let logged = event.map(|e| log_event(method, endpoint, e, started.elapsed()));
        self.last = Some(match sent {
            Ok(r) => Last::Response(r),
            Err(e) => Last::Error(e),
        });
        logged
    }

    /// Observes a token refresh's result and logs it.
    pub(crate) fn refreshed<P: Borrow<Policy>>(
        &mut self,
        driven: &mut Driven<'_, P>,
        refresh: Refresh,
        started: Instant,
    ) -> Result<(), OutcomeError> {
        let event = driven.observe(Outcome::Refresh(refresh));
        event.map(|e| log_event("-", "(token refresh)", e, started.elapsed()))
    }

    /// Observes a lookup's result, keeps a found id, and logs it.
    pub(crate) fn looked_up<P: Borrow<Policy>>(
        &mut self,
        driven: &mut Driven<'_, P>,
        lookup: Lookup<Id>,
        started: Instant,
    ) -> Result<(), OutcomeError> {
        let search = match lookup {
            Lookup::Found(id) => {
                self.found = Some(id);
                Search::Found
            }
            Lookup::NotFound => Search::NotFound,
            Lookup::Failed => Search::Failed,
        };
        let event = driven.observe(Outcome::Search(search));
        event.map(|e| log_event("-", "(search existing)", e, started.elapsed()))
    }

    /// The result for the call's final action.
    pub(crate) fn finish(mut self, end: Result<Completion, Reason>) -> Run<R, Id> {
        let result = match (end, self.last.take(), self.found.take()) {
            (Ok(Completion::Success { .. }), Some(Last::Response(r)), _) => {
                Ok(Success::Response(r))
            }
            (Ok(Completion::Existing), _, Some(id)) => Ok(Success::Existing(id)),
            (Ok(Completion::Update), _, Some(id)) => Ok(Success::Update(id)),
            // A success always follows a response and a found record always
            // follows a lookup that returned its id; these arms only keep the
            // match total.
            (Ok(Completion::Success { status }), last, _) => Err(Failure {
                reason: Reason::NotRetryable { status },
                last,
            }),
            (Ok(Completion::Existing | Completion::Update), last, None) => Err(Failure {
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

/// A call as a driver runs it, with the limits it shares. Whatever the
/// limits granted the call comes back when this is dropped before the
/// call has reported: its future dropped at an await, a hook panicking.
pub(crate) struct Driven<'l, P: Borrow<Policy>> {
    call: Call<P>,
    limits: Option<&'l Mutex<Limits>>,
}

impl<'l, P: Borrow<Policy>> Driven<'l, P> {
    pub(crate) fn new(call: Call<P>, limits: Option<&'l Mutex<Limits>>) -> Self {
        Self { call, limits }
    }

    pub(crate) fn call(&self) -> &Call<P> {
        &self.call
    }

    /// The call's next action, through the shared limits when there are
    /// any. The clock is read before the lock is taken, and the lock is
    /// held only for the decision, never across IO or a sleep. A decision
    /// the limits took (pacing, an open circuit) is logged.
    pub(crate) fn poll(&mut self, (method, endpoint): (&str, &str)) -> Action {
        let now = super::now();
        let Some(limits) = self.limits else {
            return self.call.poll(now, None);
        };
        let action = self.call.poll(now, Some(&mut lock(limits)));
        if let Some(e) = self.call.last_event() {
            let fresh = e.observed == Observed::Nothing && e.action == action;
            if fresh && !matches!(action, Action::Send { .. }) {
                log_event(method, endpoint, e, Duration::ZERO);
            }
        }
        action
    }

    fn observe(&mut self, outcome: Outcome<'_>) -> Result<&Event, OutcomeError> {
        let now = super::now();
        let mut shared = self.limits.map(lock);
        self.call.observe(outcome, now, shared.as_deref_mut())
    }
}

impl<P: Borrow<Policy>> Drop for Driven<'_, P> {
    fn drop(&mut self) {
        if let (Some(limits), true) = (self.limits, self.call.holds_grant()) {
            let now = super::now();
            self.call.abandon(&mut lock(limits), now);
        }
    }
}

/// A fresh jitter seed: process-random keys hashed with a counter, so calls
/// started together still draw different jitter.
pub(crate) fn seed() -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    KEYS.get_or_init(RandomState::new).hash_one(n)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    /// Calls started at once, on one thread or several, draw different
    /// jitter: no two of them get the same seed.
    #[test]
    fn calls_started_together_get_different_seeds() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..250).map(|_| super::seed()).collect::<Vec<_>>()))
            .collect();
        let seeds: HashSet<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(seeds.len(), 1000);
    }
}
