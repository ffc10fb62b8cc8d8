//! The blocking driver: runs a call on the current thread.
//!
//! For a plain request, [`retry`] runs a closure per attempt:
//!
//! ```no_run
//! use steadfast::driver::{blocking::retry, Sharing};
//! use steadfast::{Method, Policy, Request};
//!
//! let agent: ureq::Agent = ureq::Agent::config_builder()
//!     .http_status_as_error(false)
//!     .build()
//!     .into();
//! let response = retry(&Policy::seed_guide(), Request::new(Method::Get), Sharing::Alone, |a| {
//!     agent.get("http://127.0.0.1:8080/health").config().timeout_global(a.timeout).build().call()
//! });
//! ```
//!
//! For token refresh and conflict search, implement [`Hooks`] and [`run`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use steadfast::driver::blocking::{run, Hooks};
//! use steadfast::driver::{Reply, Sharing};
//! use steadfast::{Method, NetworkError, Policy, Refresh, Request, Search};
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
//!     fn find_existing(&mut self) -> Search<String> { Search::NotFound }
//! }
//!
//! let request = Request::new(Method::Post).with_external_id();
//! let run = run(&Policy::seed_guide(), request, Sharing::Alone, &mut Contacts);
//! assert!(run.result.is_ok());
//! ```

use core::borrow::Borrow;
use core::convert::Infallible;
use core::time::Duration;

use super::attempt::{Attempt, AttemptInfo, Closure};
#[cfg(feature = "redis")]
use super::now;
use super::run::{Driven, Io};
use super::{Failure, Response, Run, Sharing};
use crate::outcome::{Refresh, Request, Search};
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
    fn find_existing(&mut self) -> Search<Self::Id> {
        Search::Failed
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
/// sleeping between attempts, with the limits `sharing` says (see
/// [`Sharing`]). The closure gets the attempt's number and the policy's
/// attempt timeout, and must bound its IO by it (with ureq:
/// `.config().timeout_global(a.timeout).build()`); blocking IO cannot be
/// interrupted from outside. The failure says why, with the last response
/// or the closure's own last error.
///
/// For token refresh and conflict search, implement [`Hooks`] and call
/// [`run`].
pub fn retry<'s, P, A, F>(
    policy: P,
    request: Request,
    sharing: impl Into<Sharing<'s>>,
    attempt: F,
) -> Result<A::Response, Failure<A::Response, A::Error>>
where
    P: Borrow<Policy>,
    A: Attempt,
    F: FnMut(AttemptInfo) -> A,
{
    let timeout = policy.borrow().spec().attempt_timeout;
    let mut hooks = Closure::new(attempt, timeout);
    let run = run(policy, request, sharing, &mut hooks);
    hooks.finish(run.result)
}

impl<A, F> Hooks for Closure<F, A::Error>
where
    A: Attempt,
    F: FnMut(AttemptInfo) -> A,
{
    type Response = A::Response;
    type Id = Infallible;

    /// The closure is told the policy's timeout, the one `timeout` is.
    fn send(
        &mut self,
        attempt: u32,
        _timeout: Option<Duration>,
    ) -> Result<A::Response, crate::NetworkError> {
        let timeout = self.timeout;
        let result = (self.attempt)(AttemptInfo { attempt, timeout }).split();
        self.keep(result)
    }
}

/// Runs one call under `policy` to its end, with the limits `sharing` says
/// (see [`Sharing`]). In a fleet, renewals are made on this thread, each
/// bounded by the policy's attempt timeout (at most a second).
pub fn run<'s, P: Borrow<Policy>, H: Hooks>(
    policy: P,
    request: Request,
    sharing: impl Into<Sharing<'s>>,
    hooks: &mut H,
) -> Run<H::Response, H::Id> {
    // Dropped early (a hook panics), this gives back whatever the shared
    // limits granted the call.
    let mut call = Driven::new(policy, request, sharing.into());
    loop {
        #[cfg(feature = "redis")]
        if let Some(fleet) = call.fleet() {
            let now = now();
            fleet.prepare_blocking(now, call.sends_at(now));
        }
        match call.next(hooks.endpoint(), hooks.body()) {
            Ok(Io::Send { attempt, timeout }) => {
                let sent = hooks.send(attempt, timeout);
                call.sent(hooks.endpoint(), sent);
            }
            Ok(Io::Sleep(d)) => {
                std::thread::sleep(d);
                call.slept(d);
            }
            Ok(Io::Refresh) => call.refreshed(hooks.refresh_token()),
            Ok(Io::Search) => call.looked_up(hooks.find_existing()),
            Err(run) => return run,
        }
    }
}
