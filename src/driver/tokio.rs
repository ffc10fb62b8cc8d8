//! The tokio driver: runs a call as a future. Sleeps are
//! `tokio::time::sleep`, each attempt is bounded by the policy's attempt
//! timeout, and dropping the future cancels everything — the driver spawns
//! nothing.
//!
//! For a plain request, [`retry`] runs a closure per attempt:
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use steadfast::driver::tokio::retry;
//! use steadfast::{Method, Policy, Request};
//!
//! let client = reqwest::Client::new();
//! let policy = Policy::seed_guide();
//! let response = retry(&policy, Request::new(Method::Get), || {
//!     client.get("http://127.0.0.1:8080/health").send()
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! For token refresh and conflict search, implement [`Hooks`] and [`run`]:
//!
//! ```no_run
//! use steadfast::driver::tokio::{run, Hooks};
//! use steadfast::driver::Reply;
//! use steadfast::{Method, NetworkError, Policy, Request};
//!
//! struct Ping;
//!
//! impl Hooks for Ping {
//!     type Response = Reply;
//!     type Id = String;
//!     async fn send(&mut self, _attempt: u32) -> Result<Reply, NetworkError> {
//!         Ok(Reply { status: 200, ..Reply::default() })
//!     }
//! }
//!
//! # async fn demo() {
//! let run = run(&Policy::seed_guide(), Request::new(Method::Get), &mut Ping).await;
//! assert!(run.result.is_ok());
//! # }
//! ```

use core::borrow::Borrow;
use core::future::Future;
use std::time::Instant;

use std::sync::Mutex;

use super::attempt::{Attempt, Closure};
use super::log::log_attempt;
use super::run::seed;
use super::run::{Driven, Tally};
use super::{now, Failure, Lookup, Response, Run};
use crate::action::Action;
use crate::call::Call;
use crate::limits::Limits;
use crate::outcome::{NetworkError, Refresh, Request};
use crate::policy::Policy;

/// Your side of an async call.
pub trait Hooks {
    /// What `send` returns on a response.
    type Response: Response;
    /// The id a lookup returns.
    type Id;

    /// Sends attempt number `attempt` (from 1). The driver bounds it with the
    /// policy's attempt timeout and reports [`NetworkError::Timeout`] when it
    /// runs out (the future is dropped, which cancels the request).
    fn send(
        &mut self,
        attempt: u32,
    ) -> impl Future<Output = Result<Self::Response, NetworkError>> + Send;

    /// Refreshes the access token (share one [`TokenStore`](super::TokenStore) across tasks so
    /// that concurrent 401s refresh once). Default: cannot refresh.
    fn refresh_token(&mut self) -> impl Future<Output = Refresh> + Send {
        async { Refresh::Failed }
    }

    /// Looks up the record by the request's external id. Default: fails.
    fn find_existing(&mut self) -> impl Future<Output = Lookup<Self::Id>> + Send {
        async { Lookup::Failed }
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

/// Runs `attempt` under `policy` until it succeeds or the policy gives up:
/// each attempt is the future the closure returns, bounded by the policy's
/// attempt timeout, with `tokio::time::sleep` between attempts. The failure
/// says why, with the last response or the closure's own last error.
///
/// For token refresh and conflict search, implement [`Hooks`] and call
/// [`run`].
pub async fn retry<P, A, F, Fut>(
    policy: P,
    request: Request,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    A::Error: Send,
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = A> + Send,
{
    retry_with_limits(policy, request, None, attempt).await
}

/// [`retry`], sharing `limits` with every other call given the same ones.
pub async fn retry_with_limits<P, A, F, Fut>(
    policy: P,
    request: Request,
    limits: Option<&Mutex<Limits>>,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    A::Error: Send,
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = A> + Send,
{
    let mut hooks = Closure::new(attempt);
    let run = run_with_limits(policy, request, limits, &mut hooks).await;
    hooks.finish(run.result)
}

/// [`retry`], pacing with a fleet of processes through Redis (see
/// [`redis`](super::redis)).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub async fn retry_in_fleet<P, A, F, Fut>(
    policy: P,
    request: Request,
    fleet: &super::redis::RedisLimits,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    A::Error: Send,
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = A> + Send,
{
    let mut hooks = Closure::new(attempt);
    let run = run_in_fleet(policy, request, fleet, &mut hooks).await;
    hooks.finish(run.result)
}

impl<A, F, Fut> Hooks for Closure<F, A::Error>
where
    A: Attempt,
    A::Error: Send,
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = A> + Send,
{
    type Response = A::Response;
    type Id = ();

    fn send(
        &mut self,
        _attempt: u32,
    ) -> impl Future<Output = Result<A::Response, NetworkError>> + Send {
        let sent = (self.attempt)();
        async move {
            let result = sent.await.split();
            self.keep(result)
        }
    }
}

/// Runs one call under `policy` to its end.
pub async fn run<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    run_with_limits(policy, request, None, hooks).await
}

/// Runs one call under `policy` to its end, sharing `limits` (rate-limit
/// pacing, retry budget, circuit breaker) with every other call given the
/// same ones. The lock is taken only around decisions.
pub async fn run_with_limits<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    limits: Option<&Mutex<Limits>>,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    run_inner(policy, request, limits, None, hooks).await
}

/// Runs one call under `policy` to its end, pacing with a fleet of
/// processes through Redis: before each decision the process makes sure it
/// holds a lease of sends (see [`redis`](super::redis)).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub async fn run_in_fleet<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    fleet: &super::redis::RedisLimits,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    run_inner(policy, request, Some(fleet.local()), Some(fleet), hooks).await
}

#[cfg(not(feature = "redis"))]
type Fleet = core::convert::Infallible;
#[cfg(feature = "redis")]
type Fleet = super::redis::RedisLimits;

/// The limits a seam (the middleware, the tower layer) shares between its
/// calls: in this process, or with a fleet through Redis.
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
#[derive(Clone, Debug)]
pub(crate) enum Shared {
    Local(std::sync::Arc<Mutex<Limits>>),
    #[cfg(feature = "redis")]
    Fleet(std::sync::Arc<Fleet>),
}

/// Runs one call with the limits a seam holds, if any.
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
pub(crate) async fn run_shared<P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    shared: Option<&Shared>,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    match shared {
        None => run_inner(policy, request, None, None, hooks).await,
        Some(Shared::Local(limits)) => run_inner(policy, request, Some(limits), None, hooks).await,
        #[cfg(feature = "redis")]
        Some(Shared::Fleet(fleet)) => {
            run_inner(policy, request, Some(fleet.local()), Some(fleet), hooks).await
        }
    }
}

async fn run_inner<P: Borrow<Policy>, H: Hooks>(
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
            fleet.prepare(now()).await;
        }
        #[cfg(not(feature = "redis"))]
        let _ = fleet;
        let observed = match call.poll((method, hooks.endpoint())) {
            Action::Send { attempt } => {
                log_attempt(method, hooks.endpoint(), attempt, hooks.body());
                let started = Instant::now();
                let sent = match timeout {
                    Some(t) => ::tokio::time::timeout(t, hooks.send(attempt))
                        .await
                        .unwrap_or(Err(NetworkError::Timeout)),
                    None => hooks.send(attempt).await,
                };
                tally.sent(&mut call, (method, hooks.endpoint()), sent, started)
            }
            Action::Sleep(d) => {
                ::tokio::time::sleep(d).await;
                tally.waited += d;
                Ok(())
            }
            Action::RefreshToken => {
                let started = Instant::now();
                let refreshed = hooks.refresh_token().await;
                tally.refreshed(&mut call, refreshed, started)
            }
            Action::SearchExisting => {
                let started = Instant::now();
                let lookup = hooks.find_existing().await;
                tally.looked_up(&mut call, lookup, started)
            }
            Action::Done(c) => return tally.finish(Ok(c)),
            Action::GiveUp(r) => return tally.finish(Err(r)),
        };
        // The driver answers exactly what was asked, so this cannot fail.
        debug_assert!(observed.is_ok(), "{observed:?}");
    }
}
