//! How a call consults and feeds the limits every call to one API shares.

use core::borrow::Borrow;

use super::{Call, Next, OutcomeError};
use crate::action::{Action, Reason};
use crate::event::{Basis, Event, Observed};
use crate::headers::HintNotes;
use crate::limits::{Admit, Limits};
use crate::outcome::{Clock, NetworkError, Outcome};
use crate::policy::Policy;

impl<P: Borrow<Policy>> Call<P> {
    /// [`poll`](Self::poll), consulting the limits shared by every call to
    /// the API before a send: an open circuit breaker gives up at once
    /// ([`Reason::CircuitOpen`]); an exhausted or critical rate-limit window
    /// turns the send into a wait (pacing). Each such decision is recorded
    /// as the call's [`last_event`](Self::last_event), with
    /// [`Basis::Limits`].
    pub fn poll_with(&mut self, limits: &mut Limits, clock: Clock) -> Action {
        let action = self.poll(clock);
        if !matches!(action, Action::Send { .. }) || self.admitted {
            return action;
        }
        let now = self.now;
        let spec = self.policy.borrow().spec();
        let (pacing, jitter) = (spec.limits.pacing, spec.limits.reset_jitter);
        // A pacing wait is a server's word too: the same cap holds, so no
        // window reset a server announces can park a call for longer.
        let cap = spec.retry_after_cap;
        if pacing {
            if let Admit::Wait(wait, _) = limits.tracker.admit(now, jitter, &mut self.rng) {
                let capped = wait > cap;
                let wait = wait.min(cap);
                self.next = match self.spec().deadline {
                    Some(d) if self.elapsed().saturating_add(wait) > d => {
                        Next::GiveUp(Reason::DeadlineExceeded)
                    }
                    _ => Next::Sleep {
                        until: now.saturating_add(wait),
                        len: wait,
                    },
                };
                let action = self.record_limits(limits);
                if capped {
                    self.last.notes |= HintNotes::CAPPED;
                }
                return action;
            }
        }
        if let Some(breaker) = limits.breaker.as_mut() {
            if let Err(retry_after) = breaker.admit(now) {
                if pacing {
                    limits.tracker.cancel();
                }
                self.next = Next::GiveUp(Reason::CircuitOpen { retry_after });
                return self.record_limits(limits);
            }
        }
        if self.attempt == 1 {
            if let Some(budget) = limits.budget.as_mut() {
                budget.on_request(now);
            }
        }
        self.admitted = true;
        action
    }

    fn record_limits(&mut self, limits: &mut Limits) -> Action {
        self.last = Event {
            attempt: self.attempt,
            elapsed: self.elapsed(),
            observed: Observed::Nothing,
            rate_limit: limits.tracker.reading(self.now),
            action: self.action(),
            basis: Basis::Limits,
            notes: HintNotes::empty(),
        };
        self.last.action
    }

    /// [`observe`](Self::observe), feeding the shared limits: the response's
    /// rate-limit reading goes to the tracker, its verdict to the breaker; a
    /// retry is paid from the retry budget (when the budget cannot pay, the
    /// call gives up with [`Reason::BudgetExhausted`] instead of retrying),
    /// and a success refunds it.
    pub fn observe_with(
        &mut self,
        limits: &mut Limits,
        outcome: Outcome<'_>,
        clock: Clock,
    ) -> Result<&Event, OutcomeError> {
        let after_timeout = matches!(
            outcome,
            Outcome::Network(NetworkError::Timeout | NetworkError::ConnectTimeout)
        );
        let server_failed = match outcome {
            Outcome::Response { status, .. } => status == 429 || (500..=599).contains(&status),
            Outcome::Network(_) => true,
            Outcome::Refresh(_) | Outcome::Search(_) => false,
        };
        let sent = matches!(outcome, Outcome::Response { .. } | Outcome::Network(_));
        self.observe(outcome, clock)?;
        let admitted = core::mem::replace(&mut self.admitted, false);
        let now = self.now;
        if sent {
            if admitted {
                limits.tracker.landed(self.last.rate_limit.as_ref(), now);
            } else if let Some(reading) = &self.last.rate_limit {
                limits.tracker.observe(reading, now);
            }
            if let Some(breaker) = limits.breaker.as_mut() {
                breaker.record(now, !server_failed);
            }
        }
        let Some(budget) = limits.budget.as_mut() else {
            return Ok(&self.last);
        };
        let retry = matches!(
            self.last.basis,
            Basis::Backoff { .. }
                | Basis::RetryAfter
                | Basis::RateLimitReset
                | Basis::RateLimitDefault
        );
        match self.last.action {
            Action::Done(_) => budget.deposit(self.retry_cost.take()),
            Action::Sleep(_) | Action::Send { .. } if retry => {
                match budget.withdraw(now, after_timeout) {
                    Some(cost) => self.retry_cost = Some(cost),
                    None => {
                        self.next = Next::GiveUp(Reason::BudgetExhausted);
                        self.last.action = self.action();
                        self.last.basis = Basis::Limits;
                    }
                }
            }
            _ => {}
        }
        Ok(&self.last)
    }
}
