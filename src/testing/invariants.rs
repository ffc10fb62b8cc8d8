//! Invariants every policy must keep, as checks over a [`Trace`]. Each
//! returns `Err` with a sentence saying what broke.

use crate::action::Action;
use crate::event::Basis;
use crate::policy::Policy;
use crate::replay::Trace;

/// Counted retries stay within `max_retries`; sends exceed them only by the
/// one refresh re-send, the one conflict re-create and uncounted 429 waits.
pub(super) fn bounded_retries(policy: &Policy, run: &Trace) -> Result<(), String> {
    let max = policy.spec().max_retries;
    if run.retries > max {
        return Err(format!("{} retries counted, max {max}", run.retries));
    }
    let bound = u64::from(max) + 3 + u64::from(run.uncounted_waits);
    if u64::from(run.sends) > bound {
        return Err(format!("{} sends, at most {bound} allowed", run.sends));
    }
    Ok(())
}

/// No sleep ends past the policy's deadline.
pub(super) fn no_sleep_past_deadline(policy: &Policy, run: &Trace) -> Result<(), String> {
    let Some(deadline) = policy.spec().deadline else {
        return Ok(());
    };
    match run
        .sleeps
        .iter()
        .find(|(at, d)| at.saturating_add(*d) > deadline)
    {
        Some((at, d)) => Err(format!(
            "a {d:?} sleep at {at:?} ends past the {deadline:?} deadline"
        )),
        None => Ok(()),
    }
}

/// Every sleep is within [`Policy::max_sleep`].
pub(super) fn sleeps_within_cap(policy: &Policy, run: &Trace) -> Result<(), String> {
    let cap = policy.max_sleep();
    match run.sleeps.iter().find(|(_, d)| *d > cap) {
        Some((_, d)) => Err(format!("a {d:?} sleep is above the {cap:?} cap")),
        None => Ok(()),
    }
}

/// At most one token refresh per call.
pub(super) fn at_most_one_refresh(_: &Policy, run: &Trace) -> Result<(), String> {
    let refreshes = run
        .actions
        .iter()
        .filter(|a| matches!(a, Action::RefreshToken))
        .count();
    match refreshes {
        0 | 1 => Ok(()),
        n => Err(format!("{n} token refreshes in one call")),
    }
}

/// The call kept its contract: idempotent polls, sleeps that never grow,
/// misfits refused without effect, no send after a status whose rule is
/// "give up".
pub(super) fn contract_kept(_: &Policy, run: &Trace) -> Result<(), String> {
    match run.breaches.first() {
        Some(b) => Err(b.clone()),
        None => Ok(()),
    }
}

/// No failure that arrives once `max_retry_time` has passed is retried.
pub(super) fn no_retry_after_max_retry_time(policy: &Policy, run: &Trace) -> Result<(), String> {
    let Some(limit) = policy.spec().max_retry_time else {
        return Ok(());
    };
    let retried_late = run.events.iter().find(|e| {
        let retry = matches!(
            e.basis,
            Basis::Backoff { .. }
                | Basis::RetryAfter
                | Basis::RateLimitReset
                | Basis::RateLimitDefault
        );
        retry && e.elapsed >= limit
    });
    match retried_late {
        Some(e) => Err(format!(
            "a failure at {:?} was retried ({}) past the {limit:?} max retry time",
            e.elapsed, e.action
        )),
        None => Ok(()),
    }
}

impl Trace {
    /// Checks every invariant of a call under `policy` on this trace of
    /// the testing kit's [`drive`](crate::testing::drive):
    /// counted retries within `max_retries` (sends beyond them only for
    /// the one refresh re-send, the one conflict re-create and uncounted
    /// 429 waits), no sleep past the deadline or above
    /// [`Policy::max_sleep`], at most one token refresh, no send after a
    /// status whose rule is "give up", no retry once `max_retry_time` has
    /// passed, and the call's contract kept (idempotent polls, sleeps that
    /// never grow as the clock goes back, misfits refused without effect).
    /// The error says which was broken, and how. No send after a give-up
    /// status and the call's contract are [`breaches`](Trace::breaches)
    /// that `drive` records as it goes; a [`replay`](crate::replay)'s trace
    /// has none, so on it those two pass.
    pub fn check(&self, policy: &Policy) -> Result<(), String> {
        bounded_retries(policy, self)?;
        no_sleep_past_deadline(policy, self)?;
        sleeps_within_cap(policy, self)?;
        at_most_one_refresh(policy, self)?;
        no_retry_after_max_retry_time(policy, self)?;
        contract_kept(policy, self)
    }
}
