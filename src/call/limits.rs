//! How a call consults and feeds the limits every call to one API shares:
//! the call's side of the admission protocol (see [`crate::limits`]).

use core::borrow::Borrow;

use super::{Call, Next, Verdict};
use crate::action::{Action, Reason};
use crate::event::{Basis, Event, Observed};
use crate::headers::HintNotes;
use crate::limits::{Admission, Limits};
use crate::outcome::Clock;
use crate::policy::Policy;

impl<P: Borrow<Policy>> Call<P> {
    /// Asks the limits to let `send` through: an open circuit breaker gives
    /// up at once, an exhausted or critical rate-limit window turns the send
    /// into a wait, cut to the policy's `retry_after_cap` and refused past
    /// its deadline. Such a decision is the call's latest event, with
    /// [`Basis::Limits`].
    #[inline]
    pub(super) fn admit(&mut self, limits: &mut Limits, send: Action) -> Action {
        let first = self.attempt == 1;
        let admission = limits.admit(&mut self.grant, self.now, first, &mut self.rng);
        let mut notes = HintNotes::empty();
        self.next = match admission {
            Admission::Granted => return send,
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

    /// Feeds a decision's outcome to the limits before the call commits
    /// it: the response's rate-limit reading goes to the tracker, and
    /// whether the policy calls it a failure to the breaker; a re-send is
    /// paid from the retry budget (when it cannot pay, the call gives up
    /// with [`Reason::BudgetExhausted`] and its counters stay as they
    /// were), and a success refunds it.
    #[inline]
    pub(super) fn settle(&mut self, limits: &mut Limits, verdict: &mut Verdict) {
        let now = self.now;
        if let Some(health) = verdict.health {
            let reading = self.last.rate_limit.as_ref();
            limits.landed(&mut self.grant, reading, health, now);
        }
        if let Some(resend) = verdict.charge {
            if !limits.charge(&mut self.grant, resend, now, verdict.after_timeout) {
                verdict.give_up(Reason::BudgetExhausted);
                verdict.basis = Basis::Limits;
            }
        }
        match verdict.next {
            Next::Done(_) => limits.finish(&mut self.grant, true),
            Next::GiveUp(_) => limits.finish(&mut self.grant, false),
            _ => {}
        }
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
