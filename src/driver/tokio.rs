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
//! use steadfast::driver::{tokio::retry, Sharing};
//! use steadfast::{Method, Policy, Request};
//!
//! let client = reqwest::Client::new();
//! let policy = Policy::seed_guide();
//! let response = retry(&policy, Request::new(Method::Get), Sharing::Alone, |_| {
//!     client.get("http://127.0.0.1:8080/health").send()
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! For token refresh and conflict search, implement [`AsyncHooks`] and [`run`]:
//!
//! ```no_run
//! use steadfast::driver::tokio::{run, AsyncHooks};
//! use steadfast::driver::{Reply, Sharing};
//! use steadfast::{Method, NetworkError, Policy, Request};
//!
//! struct Ping;
//!
//! impl AsyncHooks for Ping {
//!     type Response = Reply;
//!     type Id = String;
//!     async fn send(&mut self, _attempt: u32) -> Result<Reply, NetworkError> {
//!         Ok(Reply { status: 200, ..Reply::default() })
//!     }
//! }
//!
//! # async fn demo() {
//! let run = run(&Policy::seed_guide(), Request::new(Method::Get), Sharing::Alone, &mut Ping).await;
//! assert!(run.result.is_ok());
//! # }
//! ```

use core::borrow::Borrow;
use core::convert::Infallible;
use core::future::Future;

use super::attempt::{Attempt, AttemptInfo, Closure};
use super::run::{Driven, Io};
use super::{Failure, Response, Run, Sharing};
use crate::outcome::{NetworkError, Refresh, Request, Search};
use crate::policy::Policy;

/// Your side of an async call.
pub trait AsyncHooks {
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
    fn find_existing(&mut self) -> impl Future<Output = Search<Self::Id>> + Send {
        async { Search::Failed }
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
/// with the limits `sharing` says (see [`Sharing`]): each attempt is the
/// future the closure returns for the attempt's [`AttemptInfo`], bounded by
/// the policy's attempt timeout, with `tokio::time::sleep` between
/// attempts. The failure says why, with the last response or the closure's
/// own last error.
///
/// For token refresh and conflict search, implement [`AsyncHooks`] and call
/// [`run`].
pub async fn retry<'s, P, A, F, Fut>(
    policy: P,
    request: Request,
    sharing: impl Into<Sharing<'s>>,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    A::Error: Send,
    F: FnMut(AttemptInfo) -> Fut + Send,
    Fut: Future<Output = A> + Send,
{
    let timeout = policy.borrow().spec().attempt_timeout;
    let mut hooks = Closure::new(attempt, timeout);
    let run = run(policy, request, sharing, &mut hooks).await;
    hooks.finish(run.result)
}

impl<A, F, Fut> AsyncHooks for Closure<F, A::Error>
where
    A: Attempt,
    A::Error: Send,
    F: FnMut(AttemptInfo) -> Fut + Send,
    Fut: Future<Output = A> + Send,
{
    type Response = A::Response;
    type Id = Infallible;

    fn send(
        &mut self,
        attempt: u32,
    ) -> impl Future<Output = Result<A::Response, NetworkError>> + Send {
        let timeout = self.timeout;
        let sent = (self.attempt)(AttemptInfo { attempt, timeout });
        async move {
            let result = sent.await.split();
            self.keep(result)
        }
    }
}

/// Runs one call under `policy` to its end, with the limits `sharing` says
/// (see [`Sharing`]). In a fleet, the process makes sure it holds a lease
/// of sends before each decision (see [`redis`](super::redis)).
pub async fn run<'s, P: Borrow<Policy>, H: AsyncHooks>(
    policy: P,
    request: Request,
    sharing: impl Into<Sharing<'s>>,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    // Dropped early (a hook panics, the future is dropped), this gives back
    // whatever the shared limits granted the call.
    let mut call = Driven::new(policy, request, sharing.into());
    loop {
        #[cfg(feature = "redis")]
        if let Some(fleet) = call.fleet() {
            let now = super::now();
            fleet.prepare(now, call.sends_at(now)).await;
        }
        match call.next(hooks.endpoint(), hooks.body()) {
            Ok(Io::Send { attempt, timeout }) => {
                let sent = match timeout {
                    Some(t) => ::tokio::time::timeout(t, hooks.send(attempt))
                        .await
                        .unwrap_or(Err(NetworkError::Timeout)),
                    None => hooks.send(attempt).await,
                };
                call.sent(hooks.endpoint(), sent);
            }
            Ok(Io::Sleep(d)) => {
                ::tokio::time::sleep(d).await;
                call.slept(d);
            }
            Ok(Io::Refresh) => call.refreshed(hooks.refresh_token().await),
            Ok(Io::Search) => call.looked_up(hooks.find_existing().await),
            Err(run) => return run,
        }
    }
}
