//! `Call`: the per-request state machine. Told what happened, it answers
//! with what to do next. It owns no clock, no socket and no global RNG.

use core::borrow::Borrow;
use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod limits;

use crate::action::{Action, Completion, Reason};
use crate::classify::{self, NetworkVerdict};
use crate::event::{Basis, Event, Observed};
use crate::headers::{self, HintNotes, Hints};
use crate::outcome::{Clock, NetworkError, Outcome, OutcomeKind, Refresh, Request, Search};
use crate::policy::{OnConflict, Policy, PolicySpec, Rule, StatusRetries};

/// One request's way through failures, from the first send to `Done` or
/// `GiveUp`.
///
/// `P` is how the call holds its policy: `&Policy`, `Arc<Policy>` or an owned
/// `Policy` all work. Creating a call allocates nothing, and neither does
/// anything after.
///
/// ```
/// use std::time::Duration;
/// use steadfast::{Action, Call, Clock, Method, Outcome, Policy, Request};
///
/// let policy = Policy::seed_guide();
/// let mut clock = Clock::default();
/// let mut call = Call::new(&policy, Request::new(Method::Get), clock, 7);
///
/// assert_eq!(call.poll(clock), Action::Send { attempt: 1 });
/// call.observe(Outcome::status(503), clock)?;
/// assert_eq!(call.poll(clock), Action::Sleep(Duration::from_secs(3)));
///
/// clock = clock.advanced(Duration::from_secs(3));
/// assert_eq!(call.poll(clock), Action::Send { attempt: 2 });
/// # Ok::<(), steadfast::OutcomeError>(())
/// ```
#[derive(Clone)]
pub struct Call<P> {
    policy: P,
    request: Request,
    origin: Duration,
    /// The latest monotonic reading seen: a clock that goes back is held here.
    now: Duration,
    next: Next,
    attempt: u32,
    retries: u32,
    backoffs: u32,
    refreshed: bool,
    recreated: bool,
    prev_delay: Duration,
    rng: fastrand::Rng,
    /// The latest decision's record, lent out by `observe`.
    last: Event,
    /// The current send passed the shared limits (`poll_with`).
    admitted: bool,
    /// What the retry budget charged for the latest retry, refunded by a
    /// success.
    retry_cost: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Send,
    Sleep { until: Duration, len: Duration },
    RefreshToken,
    SearchExisting,
    Done(Completion),
    GiveUp(Reason),
}

/// An outcome the call did not ask for. The call is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("the call got {got} while {waiting}")]
pub struct OutcomeError {
    /// What was observed.
    pub got: OutcomeKind,
    /// What the call was waiting for.
    pub waiting: Waiting,
}

/// What a call is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// A response or network error for the current send.
    Response,
    /// A token refresh result.
    Refresh,
    /// A search result.
    Search,
    /// The end of a sleep: poll once the clock has reached it.
    SleepEnd,
    /// Nothing: the call is over.
    Nothing,
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Response => "waiting for a response",
            Self::Refresh => "waiting for a token refresh result",
            Self::Search => "waiting for a search result",
            Self::SleepEnd => "sleeping (poll once the sleep is over)",
            Self::Nothing => "already finished",
        })
    }
}

impl<P: Borrow<Policy>> Call<P> {
    /// Starts a call at `clock`. `seed` seeds the call's jitter: fix it to
    /// replay a trace, vary it between calls so their jitter differs.
    pub fn new(policy: P, request: Request, clock: Clock, seed: u64) -> Self {
        let prev_delay = policy.borrow().spec().schedule.base();
        Self {
            policy,
            request,
            origin: clock.mono,
            now: clock.mono,
            next: Next::Send,
            attempt: 1,
            retries: 0,
            backoffs: 0,
            refreshed: false,
            recreated: false,
            prev_delay,
            rng: fastrand::Rng::with_seed(seed),
            last: Event {
                attempt: 0,
                elapsed: Duration::ZERO,
                observed: Observed::Status(0),
                rate_limit: None,
                action: Action::Send { attempt: 1 },
                basis: Basis::Rule,
                notes: HintNotes::empty(),
            },
            admitted: false,
            retry_cost: None,
        }
    }

    /// What to do now. Polling again at the same clock returns the same
    /// action; as the clock advances a `Sleep` shrinks, and a poll at or
    /// after its end returns the next `Send`.
    pub fn poll(&mut self, clock: Clock) -> Action {
        self.tick(clock);
        if let Next::Sleep { until, .. } = self.next {
            if self.now >= until {
                self.next = Next::Send;
            }
        }
        self.action()
    }

    /// Tells the call what happened in answer to its last action, and
    /// decides the next one (returned by the next `poll`). The returned event
    /// records the decision; it is `Copy`, so keep it with `*event`.
    ///
    /// An outcome that answers nothing the call asked for (a response while
    /// it sleeps, a search result it never requested, anything after the end)
    /// is an error and leaves the call unchanged.
    pub fn observe(&mut self, outcome: Outcome<'_>, clock: Clock) -> Result<&Event, OutcomeError> {
        let waiting = self.waiting();
        let fits = matches!(
            (waiting, outcome.kind()),
            (
                Waiting::Response,
                OutcomeKind::Response | OutcomeKind::Network
            ) | (Waiting::Refresh, OutcomeKind::Refresh)
                | (Waiting::Search, OutcomeKind::Search)
        );
        if !fits {
            return Err(OutcomeError {
                got: outcome.kind(),
                waiting,
            });
        }
        self.tick(clock);
        let attempt = self.attempt;
        let (next, basis, observed, hints) = match outcome {
            Outcome::Response { status, headers } => {
                let mut hints = headers::read(headers, clock.unix, &self.spec().pressure);
                let (next, basis) = self.on_status(status, &mut hints);
                (next, basis, Observed::Status(status), hints)
            }
            Outcome::Network(error) => {
                let (next, basis) = self.on_network(error);
                (next, basis, Observed::Network(error), Hints::default())
            }
            Outcome::Refresh(r) => immediate(self.on_refresh(r), Observed::Refresh(r)),
            Outcome::Search(s) => immediate(self.on_search(s), Observed::Search(s)),
        };
        self.next = next;
        let basis = match next {
            Next::Done(_) | Next::GiveUp(_) | Next::RefreshToken | Next::SearchExisting => {
                Basis::Rule
            }
            Next::Send | Next::Sleep { .. } => basis,
        };
        self.last = Event {
            attempt,
            elapsed: self.elapsed(),
            observed,
            rate_limit: hints.rate_limit,
            action: self.action(),
            basis,
            notes: hints.notes,
        };
        Ok(&self.last)
    }

    /// The record of the latest decision, if anything was observed yet.
    pub fn last_event(&self) -> Option<&Event> {
        (self.last.attempt > 0).then_some(&self.last)
    }

    /// What the call is waiting for.
    pub fn waiting(&self) -> Waiting {
        match self.next {
            Next::Send => Waiting::Response,
            Next::Sleep { .. } => Waiting::SleepEnd,
            Next::RefreshToken => Waiting::Refresh,
            Next::SearchExisting => Waiting::Search,
            Next::Done(_) | Next::GiveUp(_) => Waiting::Nothing,
        }
    }

    /// Sends made or asked for so far, counting the current one.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Retries used against the policy's `max_retries`.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The call's request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The call's policy.
    pub fn policy(&self) -> &Policy {
        self.policy.borrow()
    }

    /// Time since the call started, as of the latest clock it was given.
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_sub(self.origin)
    }

    fn spec(&self) -> &PolicySpec {
        self.policy.borrow().spec()
    }

    fn tick(&mut self, clock: Clock) {
        self.now = self.now.max(clock.mono);
    }

    fn action(&self) -> Action {
        match self.next {
            Next::Send => Action::Send {
                attempt: self.attempt,
            },
            // Capped by `len` so that no clock reading can lengthen a wait.
            Next::Sleep { until, len } => Action::Sleep(until.saturating_sub(self.now).min(len)),
            Next::RefreshToken => Action::RefreshToken,
            Next::SearchExisting => Action::SearchExisting,
            Next::Done(c) => Action::Done(c),
            Next::GiveUp(r) => Action::GiveUp(r),
        }
    }

    fn on_status(&mut self, status: u16, hints: &mut Hints) -> (Next, Basis) {
        let rule = classify::status(self.spec(), status);
        let retries = matches!(
            rule,
            Rule::Backoff { .. } | Rule::RateLimited | Rule::RetryAfterOnly
        );
        if retries
            && self.spec().status_retries == StatusRetries::IdempotentOnly
            && !self.request.method.is_idempotent()
        {
            return (Next::GiveUp(Reason::NotRetryable { status }), Basis::Rule);
        }
        match rule {
            Rule::Succeed => (Next::Done(Completion::Success { status }), Basis::Rule),
            Rule::GiveUp => (Next::GiveUp(Reason::NotRetryable { status }), Basis::Rule),
            Rule::RefreshToken if self.refreshed => {
                (Next::GiveUp(Reason::ReauthRequired), Basis::Rule)
            }
            Rule::RefreshToken => {
                self.refreshed = true;
                (Next::RefreshToken, Basis::Rule)
            }
            Rule::SearchExisting => {
                if self.spec().on_conflict == OnConflict::GiveUp || !self.request.external_id {
                    (Next::GiveUp(Reason::ConflictUnresolved), Basis::Rule)
                } else {
                    (Next::SearchExisting, Basis::Rule)
                }
            }
            Rule::RateLimited => self.rate_limited(hints),
            Rule::RetryAfterOnly => match hints.retry_after {
                Some(wait) => {
                    let wait = self.bounded_server_wait(wait, &mut hints.notes);
                    (self.retry_in(wait, true), Basis::RetryAfter)
                }
                None => (Next::GiveUp(Reason::NotRetryable { status }), Basis::Rule),
            },
            Rule::Backoff {
                retry_after,
                extra_steps,
            } => {
                if let (true, Some(wait)) = (retry_after, hints.retry_after) {
                    if self.spec().schedule.honours_retry_after(self.backoffs) {
                        self.backoffs = self.backoffs.saturating_add(1);
                        let wait = self.bounded_server_wait(wait, &mut hints.notes);
                        return (self.retry_in(wait, true), Basis::RetryAfter);
                    }
                    hints.notes |= HintNotes::RETRY_AFTER_IGNORED;
                }
                self.backoff(extra_steps)
            }
        }
    }

    fn rate_limited(&mut self, hints: &mut Hints) -> (Next, Basis) {
        let rule = self.spec().rate_limit;
        let reset = hints.rate_limit.and_then(|r| r.reset);
        let (hint, basis) = match (hints.retry_after, reset) {
            (Some(w), _) => (w, Basis::RetryAfter),
            (None, Some(w)) if rule.use_reset => (w, Basis::RateLimitReset),
            _ => {
                let next = self.retry_in(rule.default_wait, rule.counts_as_retry);
                return (next, Basis::RateLimitDefault);
            }
        };
        if rule.give_up_above.is_some_and(|max| hint > max) {
            let reason = Reason::RetryAfterTooLong { wait: hint };
            return (Next::GiveUp(reason), basis);
        }
        let wait = self.bounded_server_wait(hint, &mut hints.notes);
        (self.retry_in(wait, rule.counts_as_retry), basis)
    }

    fn on_network(&mut self, error: NetworkError) -> (Next, Basis) {
        match classify::network(self.spec(), error, &self.request) {
            NetworkVerdict::Retry => self.backoff(0),
            NetworkVerdict::Unsafe => (Next::GiveUp(Reason::UnsafeToRetry { error }), Basis::Rule),
            NetworkVerdict::Fatal => (Next::GiveUp(Reason::NetworkFatal { error }), Basis::Rule),
        }
    }

    fn on_refresh(&mut self, refresh: Refresh) -> Next {
        match refresh {
            Refresh::Refreshed => self.retry_in(Duration::ZERO, false),
            Refresh::Failed => Next::GiveUp(Reason::ReauthRequired),
        }
    }

    fn on_search(&mut self, search: Search) -> Next {
        match search {
            Search::Found if self.spec().on_conflict == OnConflict::Update => {
                Next::Done(Completion::Update)
            }
            Search::Found => Next::Done(Completion::Existing),
            Search::NotFound if !self.recreated => {
                self.recreated = true;
                self.retry_in(Duration::ZERO, false)
            }
            Search::NotFound => Next::GiveUp(Reason::ConflictUnresolved),
            Search::Failed => Next::GiveUp(Reason::SearchFailed),
        }
    }

    fn backoff(&mut self, extra_steps: u32) -> (Next, Basis) {
        let step = self.backoffs.saturating_add(extra_steps);
        let elapsed = self.elapsed();
        let policy = self.policy.borrow();
        let spec = policy.spec();
        let delay = spec.schedule.delay(step, elapsed);
        let (base, cap) = (spec.schedule.base(), spec.schedule.cap());
        let wait = spec
            .jitter
            .apply(delay, self.prev_delay, base, cap, &mut self.rng);
        self.prev_delay = wait;
        self.backoffs = self.backoffs.saturating_add(1);
        (self.retry_in(wait, true), Basis::Backoff { step })
    }

    /// A server-given wait, cut to the policy's cap and raised to its floor.
    fn bounded_server_wait(&self, wait: Duration, notes: &mut HintNotes) -> Duration {
        let spec = self.spec();
        if wait > spec.retry_after_cap {
            *notes |= HintNotes::CAPPED;
            spec.retry_after_cap
        } else if wait < spec.min_server_wait {
            *notes |= HintNotes::RAISED_TO_FLOOR;
            spec.min_server_wait
        } else {
            wait
        }
    }

    /// Re-send after `wait`, if the retry count and the deadline allow it.
    fn retry_in(&mut self, wait: Duration, counts: bool) -> Next {
        let spec = self.spec();
        if counts && self.retries >= spec.max_retries {
            return Next::GiveUp(Reason::RetriesExhausted {
                retries: self.retries,
            });
        }
        if spec
            .deadline
            .is_some_and(|d| self.elapsed().saturating_add(wait) > d)
        {
            return Next::GiveUp(Reason::DeadlineExceeded);
        }
        if counts {
            self.retries = self.retries.saturating_add(1);
        }
        self.attempt = self.attempt.saturating_add(1);
        if wait.is_zero() {
            Next::Send
        } else {
            Next::Sleep {
                until: self.now.saturating_add(wait),
                len: wait,
            }
        }
    }
}

/// A decision on a refresh or search result: no headers were read, and a
/// re-send comes at once.
fn immediate(next: Next, observed: Observed) -> (Next, Basis, Observed, Hints) {
    (next, Basis::Immediate, observed, Hints::default())
}

impl<P> fmt::Debug for Call<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("request", &self.request)
            .field("next", &self.next)
            .field("attempt", &self.attempt)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}
