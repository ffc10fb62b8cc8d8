//! The blocking driver: runs a call on the current thread.
//!
//! For a plain request, [`retry`] runs a closure per attempt:
//!
//! ```no_run
//! use steadfast::driver::blocking::retry;
//! use steadfast::{Method, Policy, Request};
//!
//! let agent: ureq::Agent = ureq::Agent::config_builder()
//!     .http_status_as_error(false)
//!     .build()
//!     .into();
//! let response = retry(&Policy::seed_guide(), Request::new(Method::Get), |a| {
//!     agent.get("http://127.0.0.1:8080/health").config().timeout_global(a.timeout).build().call()
//! });
//! ```
//!
//! For token refresh and conflict search, implement [`Hooks`] and [`run`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use steadfast::driver::blocking::{run, Hooks};
//! use steadfast::driver::{Lookup, Reply};
//! use steadfast::{Method, NetworkError, Policy, Refresh, Request};
//!
//! struct Contacts;
//!
//! impl Hooks for Contacts {
//!     type Response = Reply;
//!     type Id = String;
//!     fn send(&mut self, _attempt: u32, _timeout: Option<Duration>) -> Result<Reply, NetworkError> {
//!         // POST /contacts with your client, bounded by the timeout.
//!         Ok(Reply { status: 201, ..Reply::default() })
//!     }
//!     fn refresh_token(&mut self) -> Refresh { Refresh::Refreshed }
//!     fn find_existing(&mut self) -> Lookup<String> { Lookup::NotFound }
//! }
//!
//! let request = Request::new(Method::Post).with_external_id();
//! let run = run(&Policy::seed_guide(), request, &mut Contacts);
//! assert!(run.result.is_ok());
//! ```

use core::borrow::Borrow;
use core::time::Duration;
use std::sync::Mutex;
use std::time::Instant;

use super::attempt::{Attempt, AttemptInfo, Closure};
use super::log::log_attempt;
use super::run::seed;
use super::run::{Driven, Tally};
use super::{now, Failure, Lookup, Response, Run};
use crate::action::Action;
use crate::call::Call;
use crate::limits::Limits;
use crate::outcome::{Refresh, Request};
use crate::policy::Policy;

/// Your side of a blocking call.
pub trait Hooks {
    /// What `send` returns on a response.
    type Response: Response;
    /// The id a lookup returns.
    type Id;

    /// Sends attempt number `attempt` (from 1). The client must give up after
    /// `timeout` (the policy's per-attempt timeout) and report
    /// [`NetworkError::Timeout`](crate::NetworkError::Timeout): blocking IO
    /// can only be bounded by the client itself (the ureq adapter does it).
    fn send(
        &mut self,
        attempt: u32,
        timeout: Option<Duration>,
    ) -> Result<Self::Response, crate::NetworkError>;

    /// Refreshes the access token (share one [`TokenStore`](super::TokenStore) across threads
    /// so that concurrent 401s refresh once). Default: cannot refresh.
    fn refresh_token(&mut self) -> Refresh {
        Refresh::Failed
    }

    /// Looks up the record by the request's external id. Default: fails.
    fn find_existing(&mut self) -> Lookup<Self::Id> {
        Lookup::Failed
    }

    /// The endpoint, for logs.
    fn endpoint(&self) -> &str {
        ""
    }

    /// The request body, for logs (cut to 200 characters).
    fn body(&self) -> Option<&[u8]> {
        None
    }
}

/// Runs `attempt` under `policy` until it succeeds or the policy gives up,
/// sleeping between attempts. The closure gets the attempt's number and the
/// policy's attempt timeout, and must bound its IO by it (with ureq:
/// `.config().timeout_global(a.timeout).build()`); blocking IO cannot be
/// interrupted from outside. The failure says why, with the last response
/// or the closure's own last error.
///
/// For token refresh and conflict search, implement [`Hooks`] and call
/// [`run`].
pub fn retry<P, A, F>(
    policy: P,
    request: Request,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    F: FnMut(AttemptInfo) -> A,
{
    retry_with_limits(policy, request, None, attempt)
}

/// [`retry`], sharing `limits` with every other call given the same ones.
pub fn retry_with_limits<P, A, F>(
    policy: P,
    request: Request,
    limits: Option<&Mutex<Limits>>,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    F: FnMut(AttemptInfo) -> A,
{
    let mut hooks = Closure::new(attempt);
    let run = run_with_limits(policy, request, limits, &mut hooks);
    hooks.finish(run.result)
}

impl<A, F> Hooks for Closure<F, A::Error>
where
    A: Attempt,
    F: FnMut(AttemptInfo) -> A,
{
    type Response = A::Response;
    type Id = ();

    fn send(
        &mut self,
        attempt: u32,
        timeout: Option<Duration>,
    ) -> Result<A::Response, crate::NetworkError> {
        let result = (self.attempt)(AttemptInfo { attempt, timeout }).split();
        self.keep(result)
    }
}

/// Runs one call under `policy` to its end.
pub fn run<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    run_with_limits(policy, request, None, hooks)
}

/// Runs one call under `policy` to its end, sharing `limits` (rate-limit
/// pacing, retry budget, circuit breaker) with every other call given the
/// same ones. The lock is taken only around decisions.
pub fn run_with_limits<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    limits: Option<&Mutex<Limits>>,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    run_inner(policy, request, limits, None, hooks)
}

/// [`run_with_limits`] with limits a fleet of processes shares through
/// Redis (see [`redis`](super::redis)): renewals are made on this thread,
/// each bounded by the policy's attempt timeout (at most a second).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub fn run_in_fleet<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    fleet: &super::redis::RedisLimits,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    run_inner(policy, request, Some(fleet.local()), Some(fleet), hooks)
}

/// [`retry`] in a fleet: see [`run_in_fleet`].
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub fn retry_in_fleet<P, A, F>(
    policy: P,
    request: Request,
    fleet: &super::redis::RedisLimits,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    F: FnMut(AttemptInfo) -> A,
{
    let mut hooks = Closure::new(attempt);
    let run = run_in_fleet(policy, request, fleet, &mut hooks);
    hooks.finish(run.result)
}

#[cfg(feature = "redis")]
type Fleet = super::redis::RedisLimits;
#[cfg(not(feature = "redis"))]
type Fleet = core::convert::Infallible;

fn run_inner<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    limits: Option<&Mutex<Limits>>,
    fleet: Option<&Fleet>,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    // Dropped early (a hook panics, the future is dropped), this gives back
    // whatever the shared limits granted the call.
    let mut call = Driven::new(Call::new(policy, request, now(), seed()), limits);
    let timeout = call.call().policy().spec().attempt_timeout;
    let method = request.method.as_str();
    let mut tally = Tally::new();
    loop {
        #[cfg(feature = "redis")]
        if let Some(fleet) = fleet {
            fleet.prepare_blocking(now());
        }
        #[cfg(not(feature = "redis"))]
        let _ = fleet;
        let observed = match call.poll((method, hooks.endpoint())) {
            Action::Send { attempt } => {
                log_attempt(method, hooks.endpoint(), attempt, hooks.body());
                let started = Instant::now();
                let sent = hooks.send(attempt, timeout);
                tally.sent(&mut call, (method, hooks.endpoint()), sent, started)
            }
            Action::Sleep(d) => {
                std::thread::sleep(d);
                tally.waited += d;
                Ok(())
            }
            Action::RefreshToken => {
                let started = Instant::now();
                let refreshed = hooks.refresh_token();
                tally.refreshed(&mut call, refreshed, started)
            }
            Action::SearchExisting => {
                let started = Instant::now();
                let lookup = hooks.find_existing();
                tally.looked_up(&mut call, lookup, started)
            }
            Action::Done(c) => return tally.finish(Ok(c)),
            Action::GiveUp(r) => return tally.finish(Err(r)),
        };
        // The driver answers exactly what was asked, so this cannot fail.
        debug_assert!(observed.is_ok(), "{observed:?}");
    }
}
