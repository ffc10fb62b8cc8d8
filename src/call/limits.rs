//! How a call consults and feeds the limits every call to one API shares:
//! the call's side of the admission protocol (see [`crate::limits`]).

use core::borrow::Borrow;

use super::{Call, Next, OutcomeError};
use crate::action::{Action, Reason};
use crate::event::{Basis, Event, Observed};
use crate::headers::HintNotes;
use crate::limits::{Admission, Limits};
use crate::outcome::{Clock, Outcome};
use crate::policy::Policy;

impl<P: Borrow<Policy>> Call<P> {
    /// [`poll`](Self::poll), consulting the limits shared by every call to
    /// the API before a send: an open circuit breaker gives up at once
    /// ([`Reason::CircuitOpen`]); an exhausted or critical rate-limit window
    /// turns the send into a wait (pacing), cut to the policy's
    /// `retry_after_cap` and refused past its deadline. Each such decision
    /// is recorded as the call's [`last_event`](Self::last_event), with
    /// [`Basis::Limits`].
    ///
    /// A send let through is held by the call until
    /// [`observe_with`](Self::observe_with) reports on it, or
    /// [`abandon`](Self::abandon) gives it back. A call polled through
    /// limits reports through them too: plain [`observe`](Self::observe)
    /// would leave its send counted until `stale_after` forgets it.
    // Pinned, as `Call::poll` is.
    #[inline(always)]
    pub fn poll_with(&mut self, limits: &mut Limits, clock: Clock) -> Action {
        let action = self.poll(clock);
        if !matches!(action, Action::Send { .. }) || self.grant.admitted() {
            return action;
        }
        let first = self.attempt == 1;
        let spec = &self.policy.borrow().spec().limits;
        let admission = limits.admit(&mut self.grant, self.now, first, spec, &mut self.rng);
        let mut notes = HintNotes::empty();
        self.next = match admission {
            Admission::Granted => return action,
            Admission::Wait { wait, capped } => {
                if capped {
                    notes |= HintNotes::CAPPED;
                }
                let wait = self.capped(wait, &mut notes);
                self.after(wait)
            }
            Admission::Refused(retry_after) => Next::GiveUp(Reason::CircuitOpen { retry_after }),
        };
        self.last = Event {
            attempt: self.attempt,
            elapsed: self.elapsed(),
            observed: Observed::Nothing,
            rate_limit: limits.reading(self.now),
            action: self.action(),
            basis: Basis::Limits,
            notes,
        };
        self.last.action
    }

    /// [`observe`](Self::observe), feeding the shared limits: the response's
    /// rate-limit reading goes to the tracker, and whether the policy calls
    /// it a failure to the breaker; a retry is paid from the retry budget
    /// before the call commits it (when the budget cannot pay, the call
    /// gives up with [`Reason::BudgetExhausted`] and its counters stay as
    /// they were), and a success refunds it.
    // Pinned, as `Call::poll` is.
    #[inline(always)]
    pub fn observe_with(
        &mut self,
        limits: &mut Limits,
        outcome: Outcome<'_>,
        clock: Clock,
    ) -> Result<&Event, OutcomeError> {
        self.fits(&outcome)?;
        let mut verdict = self.decide(outcome, clock);
        let now = self.now;
        if let Some(health) = verdict.health {
            let reading = self.last.rate_limit.as_ref();
            limits.landed(&mut self.grant, reading, health, now);
        }
        if verdict.charge && !limits.charge(&mut self.grant, now, verdict.after_timeout) {
            verdict.give_up(Reason::BudgetExhausted);
            verdict.basis = Basis::Limits;
        }
        match verdict.next {
            Next::Done(_) => limits.finish(&mut self.grant, true),
            Next::GiveUp(_) => limits.finish(&mut self.grant, false),
            _ => {}
        }
        Ok(self.commit(verdict))
    }

    /// Gives back everything the shared limits granted this call — the
    /// send in flight and its place in the rate-limit window, a half-open
    /// probe slot, a budget charge awaiting its refund — as if it had never
    /// been admitted. For a call that will not report: cancelled, timed
    /// out by its caller, or lost to a panic. The drivers do this when
    /// their future is dropped or a hook panics.
    ///
    /// The call itself is unchanged: polled again, it asks the limits anew.
    pub fn abandon(&mut self, limits: &mut Limits, clock: Clock) {
        self.tick(clock);
        limits.release(&mut self.grant, self.now);
    }

    /// Whether the call holds anything of the shared limits that
    /// [`abandon`](Self::abandon) would give back.
    #[cfg(any(feature = "blocking", feature = "tokio"))]
    pub(crate) fn holds_grant(&self) -> bool {
        self.grant.holds_anything()
    }
}
