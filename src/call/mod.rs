//! `Call`: the per-request state machine. Told what happened, it answers
//! with what to do next. It owns no clock, no socket and no global RNG.

use core::borrow::Borrow;
use core::fmt;
use core::time::Duration;

use thiserror::Error;

mod limits;

use crate::action::{Action, Completion, Reason};
use crate::classify::{self, NetworkVerdict};
use crate::event::{Basis, Event, Observed};
use crate::headers::{self, HintNotes};
use crate::limits::{Grant, Health, Limits, Resend};
use crate::outcome::{Clock, NetworkError, Outcome, Refresh, Request, Search};
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
/// assert_eq!(call.poll(clock, None), Action::Send { attempt: 1 });
/// call.observe(Outcome::status(503), clock, None)?;
/// assert_eq!(call.poll(clock, None), Action::Sleep(Duration::from_secs(3)));
///
/// clock = clock.advanced(Duration::from_secs(3));
/// assert_eq!(call.poll(clock, None), Action::Send { attempt: 2 });
/// # Ok::<(), steadfast::OutcomeError>(())
/// ```
pub struct Call<P> {
    policy: P,
    request: Request,
    origin: Duration,
    /// The latest monotonic reading seen: a clock that goes back is held here.
    now: Duration,
    next: Next,
    attempt: u32,
    retries: u32,
    progress: Progress,
    /// The jitter's and the reset jitter's draws: the one state a decision
    /// moves as it is made (a veto ends the call, so no draw is read
    /// again).
    rng: fastrand::Rng,
    /// The latest decision's record, lent out by `observe`.
    last: Event,
    /// What the shared limits granted the call, held until
    /// it reports or is abandoned.
    grant: Grant,
}

/// A clone is a separate call from the same point, holding nothing of the
/// shared limits: what they granted stays with the original, to be given
/// back once.
impl<P: Clone> Clone for Call<P> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
            rng: self.rng.clone(),
            grant: Grant::default(),
            ..*self
        }
    }
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
    pub got: Observed,
    /// What the call was waiting for: the answer to the action it last
    /// returned.
    pub(crate) waiting: Waiting,
}

/// What a call is waiting for, as its last action says: the kind of
/// outcome `observe` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
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

impl Waiting {
    /// Whether `outcome` is the answer this wait is for.
    #[inline]
    pub(crate) fn answered_by(self, outcome: &Outcome<'_>) -> bool {
        matches!(
            (self, outcome),
            (
                Self::Response,
                Outcome::Response { .. } | Outcome::Network(_)
            ) | (Self::Refresh, Outcome::Refresh(_))
                | (Self::Search, Outcome::Search(_))
        )
    }
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
        let prev_delay = policy.borrow().schedule_bounds().0;
        Self {
            policy,
            request,
            origin: clock.mono,
            now: clock.mono,
            next: Next::Send,
            attempt: 1,
            retries: 0,
            progress: Progress {
                backoffs: 0,
                refreshed: false,
                recreated: false,
                prev_delay,
            },
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
            grant: Grant::default(),
        }
    }

    /// What to do now. Polling again at the same clock returns the same
    /// action; as the clock advances a `Sleep` shrinks, and a poll at or
    /// after its end returns the next `Send`.
    ///
    /// `limits` are the [`Limits`] every call to the API shares, or `None`
    /// for a call alone. Before a send they may veto it: an open circuit
    /// breaker gives up at once ([`Reason::CircuitOpen`]); an exhausted or
    /// critical rate-limit window turns the send into a wait (pacing), cut
    /// to the policy's `retry_after_cap` and refused past its deadline. Each
    /// such decision is recorded as the call's
    /// [`last_event`](Self::last_event), with [`Basis::Limits`]. A send they
    /// let through is held by the call until [`observe`](Self::observe)
    /// reports on it through the same limits, or [`abandon`](Self::abandon)
    /// gives it back; a call reported without them leaves its send counted
    /// until the limits' `stale_after` forgets it.
    // Inlining of the call's entry points is pinned: left to the caller's
    // build, it swung the decision step by 10 % with unrelated changes.
    #[inline(always)]
    pub fn poll(&mut self, clock: Clock, limits: Option<&mut Limits>) -> Action {
        self.tick(clock);
        if let Next::Sleep { until, .. } = self.next {
            if self.now >= until {
                self.next = Next::Send;
            }
        }
        let action = self.action();
        match limits {
            Some(limits) if matches!(action, Action::Send { .. }) && !self.grant.admitted() => {
                self.admit(limits, action)
            }
            _ => action,
        }
    }

    /// Tells the call what happened in answer to its last action, and
    /// decides the next one (returned by the next `poll`). The returned event
    /// records the decision; it is `Copy`, so keep it with `*event`.
    ///
    /// With `limits` (the ones the call was polled with), the outcome feeds
    /// them: the response's rate-limit reading goes to the tracker, and
    /// whether the policy calls it a failure to the breaker; a retry (and a
    /// rate-limit wait the policy does not count as one, when the limits'
    /// `charge_uncounted_waits` says so) is paid from the retry budget
    /// before the call commits it (when the budget cannot pay, the call
    /// gives up with [`Reason::BudgetExhausted`] and its counters stay as
    /// they were), and a success refunds it.
    ///
    /// An outcome that answers nothing the call asked for (a response while
    /// it sleeps, a search result it never requested, anything after the end)
    /// is an error and leaves the call and the limits unchanged.
    // Pinned, as `poll` is.
    #[inline(always)]
    pub fn observe(
        &mut self,
        outcome: Outcome<'_>,
        clock: Clock,
        limits: Option<&mut Limits>,
    ) -> Result<&Event, OutcomeError> {
        self.fits(&outcome)?;
        let mut verdict = self.decide(outcome, clock);
        if let Some(limits) = limits {
            self.settle(limits, &mut verdict);
        }
        Ok(self.commit(verdict))
    }

    /// Whether `outcome` answers what the call asked for.
    fn fits(&self, outcome: &Outcome<'_>) -> Result<(), OutcomeError> {
        let waiting = self.waiting();
        if waiting.answered_by(outcome) {
            return Ok(());
        }
        Err(OutcomeError {
            got: Observed::of(outcome),
            waiting,
        })
    }

    /// The decision on an outcome that [`fits`](Self::fits), made on a
    /// copy of the call's progress: nothing of the call moves until the
    /// limits have had their say and [`commit`](Self::commit) writes it.
    #[inline(always)]
    fn decide(&mut self, outcome: Outcome<'_>, clock: Clock) -> Verdict {
        self.tick(clock);
        // What was observed goes straight into the event (a veto by the
        // limits changes the action, never this): copying a 120-byte record
        // through the verdict cost the step a fifth of its instructions.
        let (observed, retry_after, notes) = match outcome {
            Outcome::Response {
                status, headers, ..
            } => {
                let (retry_after, notes) = headers::read_into(
                    headers,
                    clock.unix,
                    &self.policy.borrow().spec().pressure,
                    &mut self.last.rate_limit,
                );
                (Observed::Status(status), retry_after, notes)
            }
            Outcome::Network(_) | Outcome::Refresh(_) | Outcome::Search(_) => {
                self.no_headers(Observed::of(&outcome))
            }
        };
        self.last.observed = observed;
        let mut v = Verdict {
            progress: self.progress,
            next: Next::Send,
            basis: Basis::Immediate,
            retry_after,
            notes,
            retry: false,
            charge: None,
            health: None,
            after_timeout: false,
        };
        match outcome {
            Outcome::Response {
                status,
                headers,
                code,
            } => {
                let rule = classify::response(self.spec(), status, code, headers);
                self.on_status(status, rule, &mut v);
            }
            Outcome::Network(error) => {
                v.after_timeout =
                    matches!(error, NetworkError::Timeout | NetworkError::ConnectTimeout);
                self.on_network(error, &mut v);
            }
            Outcome::Refresh(r) => self.on_refresh(r, &mut v),
            Outcome::Search(s) => self.on_search(s, &mut v),
        }
        if !v.next_is_resend() {
            v.basis = Basis::Rule;
        }
        v
    }

    /// What an outcome without headers hints: nothing, and no reading is
    /// kept from an earlier response.
    fn no_headers(&mut self, observed: Observed) -> (Observed, Option<Duration>, HintNotes) {
        self.last.rate_limit = None;
        (observed, None, HintNotes::empty())
    }

    /// Makes a verdict the call's: the counters, the next action and the
    /// event, each written once.
    #[inline(always)]
    fn commit(&mut self, v: Verdict) -> &Event {
        let attempt = self.attempt;
        if v.next_is_resend() {
            self.attempt = self.attempt.saturating_add(1);
        }
        if v.retry {
            self.retries = self.retries.saturating_add(1);
        }
        self.next = v.next;
        self.progress = v.progress;
        // `observed` and `rate_limit` were written by `decide`.
        self.last.attempt = attempt;
        self.last.elapsed = self.elapsed();
        self.last.action = self.decided();
        self.last.basis = v.basis;
        self.last.notes = v.notes;
        &self.last
    }

    /// Whether the next poll at monotonic `now` asks for a send (before the
    /// limits have their say).
    #[cfg(feature = "redis")]
    pub(crate) fn sends_at(&self, now: Duration) -> bool {
        match self.next {
            Next::Send => true,
            Next::Sleep { until, .. } => until <= now.max(self.now),
            _ => false,
        }
    }

    /// The record of the latest decision, if anything was observed yet.
    pub fn last_event(&self) -> Option<&Event> {
        (self.last.attempt > 0).then_some(&self.last)
    }

    /// What the call is waiting for.
    pub(crate) fn waiting(&self) -> Waiting {
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

    /// [`action`](Self::action) at the clock its `next` was decided at:
    /// a sleep is still whole.
    #[inline(always)]
    fn decided(&self) -> Action {
        match self.next {
            Next::Sleep { len, .. } => Action::Sleep(len),
            _ => self.action(),
        }
    }

    #[inline(always)]
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

    #[inline(always)]
    fn on_status(&mut self, status: u16, rule: Rule, v: &mut Verdict) {
        let retries = matches!(
            rule,
            Rule::Backoff { .. } | Rule::RateLimited | Rule::RetryAfterOnly
        );
        // What the policy would retry is a failure of the server's, whether
        // or not this call may retry it.
        v.health = Some(match rule {
            Rule::RateLimited | Rule::Backoff { throttle: true, .. } => Health::Throttled,
            _ if retries => Health::Failed,
            _ => Health::Ok,
        });
        if retries
            && self.spec().status_retries == StatusRetries::IdempotentOnly
            && !self.request.method.is_idempotent()
        {
            return v.give_up(Reason::NotRetryable { status });
        }
        match rule {
            Rule::Succeed => v.next = Next::Done(Completion::Success(status)),
            Rule::GiveUp => v.give_up(Reason::NotRetryable { status }),
            Rule::RefreshToken if v.progress.refreshed => v.give_up(Reason::ReauthRequired),
            Rule::RefreshToken => {
                v.progress.refreshed = true;
                v.next = Next::RefreshToken;
            }
            Rule::SearchExisting => {
                if self.spec().on_conflict == OnConflict::GiveUp || !self.request.external_id {
                    v.give_up(Reason::ConflictUnresolved);
                } else {
                    v.next = Next::SearchExisting;
                }
            }
            Rule::RateLimited => self.rate_limited(v),
            Rule::RetryAfterOnly => match v.retry_after {
                Some(wait) => {
                    let wait = self.bounded_server_wait(wait, &mut v.notes);
                    self.retry_in(v, wait, true, Basis::RetryAfter);
                }
                None => v.give_up(Reason::NotRetryable { status }),
            },
            Rule::Backoff {
                retry_after,
                extra_steps,
                throttle,
            } => {
                if let (true, Some(wait)) = (retry_after, v.retry_after) {
                    if self
                        .spec()
                        .schedule
                        .honours_retry_after(v.progress.backoffs)
                    {
                        v.progress.backoffs = v.progress.backoffs.saturating_add(1);
                        let wait = self.bounded_server_wait(wait, &mut v.notes);
                        return self.retry_in(v, wait, true, Basis::RetryAfter);
                    }
                    v.notes |= HintNotes::RETRY_AFTER_IGNORED;
                }
                // The adaptive rate spaces throttled sends: a longer wait
                // each time would only leave a straggler behind the fleet.
                // (The SDKs' rules back off as usual.)
                let limits = &self.spec().limits;
                let paced = throttle && limits.adaptive && !limits.sdk_adaptive();
                self.backoff(v, extra_steps, paced);
            }
        }
    }

    fn rate_limited(&mut self, v: &mut Verdict) {
        let rule = self.spec().rate_limit;
        let reset = self.last.rate_limit.and_then(|r| r.reset);
        let (hint, basis) = match (v.retry_after, reset) {
            (Some(w), _) => (w, Basis::RetryAfter),
            (None, Some(w)) if rule.use_reset => (w, Basis::RateLimitReset),
            _ => (rule.default_wait, Basis::RateLimitDefault),
        };
        if basis != Basis::RateLimitDefault && rule.give_up_above.is_some_and(|max| hint > max) {
            return v.give_up(Reason::RetryAfterTooLong { wait: hint });
        }
        let wait = match basis {
            Basis::RateLimitDefault => hint,
            _ => self.bounded_server_wait(hint, &mut v.notes),
        };
        self.retry_in(v, wait, rule.counts_as_retry, basis);
        if v.next_is_resend() && v.charge.is_none() {
            v.charge = Some(Resend::UncountedWait);
        }
    }

    fn on_network(&mut self, error: NetworkError, v: &mut Verdict) {
        // Failures on the way to the server or in its answer say it is
        // struggling; TLS, protocol and other errors say nothing of it.
        v.health = Some(if error.before_send() || error.maybe_applied() {
            Health::Failed
        } else {
            Health::Unknown
        });
        match classify::network(self.spec(), error, &self.request) {
            NetworkVerdict::Retry => self.backoff(v, 0, false),
            NetworkVerdict::Unsafe => v.give_up(Reason::UnsafeToRetry { error }),
            NetworkVerdict::Fatal => v.give_up(Reason::NetworkFatal { error }),
        }
    }

    fn on_refresh(&self, refresh: Refresh, v: &mut Verdict) {
        match refresh {
            Refresh::Refreshed => self.retry_in(v, Duration::ZERO, false, Basis::Immediate),
            Refresh::Failed => v.give_up(Reason::ReauthRequired),
        }
    }

    fn on_search(&self, search: Search, v: &mut Verdict) {
        match search {
            Search::Found(()) if self.spec().on_conflict == OnConflict::Update => {
                v.next = Next::Done(Completion::Update(()));
            }
            Search::Found(()) => v.next = Next::Done(Completion::Existing(())),
            Search::NotFound if !v.progress.recreated => {
                v.progress.recreated = true;
                self.retry_in(v, Duration::ZERO, false, Basis::Immediate);
            }
            Search::NotFound => v.give_up(Reason::ConflictUnresolved),
            Search::Failed => v.give_up(Reason::SearchFailed),
        }
    }

    /// Backoff retry number `backoffs + extra_steps`, or `extra_steps` when
    /// `flat`.
    fn backoff(&mut self, v: &mut Verdict, extra_steps: u32, flat: bool) {
        let taken = if flat { 0 } else { v.progress.backoffs };
        let step = taken.saturating_add(extra_steps);
        let elapsed = self.elapsed();
        let policy = self.policy.borrow();
        let spec = policy.spec();
        let delay = spec.schedule.delay(step, elapsed);
        let (base, cap) = policy.schedule_bounds();
        let p = &mut v.progress;
        let wait = spec
            .jitter
            .draw(delay, p.prev_delay, base, cap, &mut self.rng);
        p.prev_delay = wait;
        p.backoffs = p.backoffs.saturating_add(1);
        self.retry_in(v, wait, true, Basis::Backoff { step });
    }

    /// A server-given wait, cut to the policy's cap and raised to its floor.
    #[inline(always)]
    fn bounded_server_wait(&self, wait: Duration, notes: &mut HintNotes) -> Duration {
        let floor = self.spec().min_server_wait;
        match self.capped(wait, notes) {
            wait if wait < floor => {
                *notes |= HintNotes::RAISED_TO_FLOOR;
                floor
            }
            wait => wait,
        }
    }

    /// A wait the server set, directly or through the limits, cut to the
    /// policy's cap: no header can park a call for longer.
    #[inline(always)]
    fn capped(&self, wait: Duration, notes: &mut HintNotes) -> Duration {
        let cap = self.spec().retry_after_cap;
        if wait > cap {
            *notes |= HintNotes::CAPPED;
            cap
        } else {
            wait
        }
    }

    /// Re-send after `wait`, if the retry count and the deadline allow it;
    /// `counts`: the re-send uses one of `max_retries` (and so is paid
    /// from the retry budget).
    #[inline(always)]
    fn retry_in(&self, v: &mut Verdict, wait: Duration, counts: bool, basis: Basis) {
        if counts && self.retries >= self.spec().max_retries {
            return v.give_up(Reason::RetriesExhausted {
                retries: self.retries,
            });
        }
        // Measured when the failure arrives; the wait itself may run past.
        let failure = basis != Basis::Immediate;
        if let (true, Some(limit)) = (failure, self.spec().max_retry_time) {
            if self.elapsed() >= limit {
                return v.give_up(Reason::RetryTimeExceeded);
            }
        }
        v.next = self.after(wait);
        if v.next_is_resend() {
            v.basis = basis;
            v.retry = counts;
            v.charge = counts.then_some(match v.health {
                Some(Health::Throttled) => Resend::Throttled,
                _ => Resend::Retry,
            });
        }
    }

    /// The next send, `wait` from now, unless that crosses the deadline.
    #[inline(always)]
    fn after(&self, wait: Duration) -> Next {
        if self
            .spec()
            .deadline
            .is_some_and(|d| self.elapsed().saturating_add(wait) > d)
        {
            Next::GiveUp(Reason::DeadlineExceeded)
        } else if wait.is_zero() {
            Next::Send
        } else {
            // `len` is exactly `until - now`, so the action just decided
            // needs no subtraction (`decided`); near the end of time the
            // wait is what is left of it.
            match self.now.checked_add(wait) {
                Some(until) => Next::Sleep { until, len: wait },
                None => Next::Sleep {
                    until: Duration::MAX,
                    len: Duration::MAX.saturating_sub(self.now),
                },
            }
        }
    }
}

/// One decision on an outcome, held until the limits have had their say:
/// what comes next and why, whether it counts, and what the limits need to
/// know.
#[derive(Clone, Copy, Debug)]
struct Verdict {
    /// The call's progress as this decision leaves it.
    progress: Progress,
    next: Next,
    basis: Basis,
    /// The usable `Retry-After` wait, before the policy's cap and floor.
    retry_after: Option<Duration>,
    /// What was odd about the response's hints, and about this decision.
    notes: HintNotes,
    /// The re-send uses one of `max_retries`.
    retry: bool,
    /// What the retry budget is asked to pay for.
    charge: Option<Resend>,
    /// What a send's outcome says of the server (`None`: not a send's).
    health: Option<Health>,
    /// The outcome was a timeout (the AWS quota charges more for it).
    after_timeout: bool,
}

/// What the schedule remembers from one decision to the next.
#[derive(Clone, Copy, Debug)]
struct Progress {
    /// Backoff steps taken (and `Retry-After` waits the schedule honoured).
    backoffs: u32,
    /// The one token refresh was asked for.
    refreshed: bool,
    /// The one re-create after a conflict's empty search was made.
    recreated: bool,
    /// The latest backoff wait, for the jitters that build on it.
    prev_delay: Duration,
}

impl Verdict {
    fn give_up(&mut self, reason: Reason) {
        self.next = Next::GiveUp(reason);
        self.retry = false;
        self.charge = None;
    }

    fn next_is_resend(&self) -> bool {
        matches!(self.next, Next::Send | Next::Sleep { .. })
    }
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
