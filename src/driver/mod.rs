//! Drivers: run a [`Call`](crate::Call) to its end by executing its actions
//! with your code — send an attempt, sleep, refresh the token, look up the
//! existing record. Every decision stays in the core; a driver only does
//! what it is told, reads the real clocks, and logs each event.
//!
//! - [`blocking`] (feature `blocking`): the current thread sleeps.
//! - [`tokio`](mod@crate::driver::tokio) (feature `tokio`): sleeps are
//!   `tokio::time::sleep`; dropping the future cancels everything.
//!
//! Adapters turn a client's responses and errors into what the core reads:
//! `http::Response` (feature `http`), `reqwest` (feature `reqwest`), `ureq`
//! (feature `ureq`).

use core::fmt;
use core::time::Duration;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::action::{Completion, Reason};
use crate::outcome::{Clock, Headers, NetworkError};

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

#[cfg(any(feature = "blocking", feature = "tokio"))]
mod attempt;
#[cfg(any(feature = "blocking", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "blocking", feature = "tokio"))))]
pub use attempt::{Attempt, AttemptInfo};
#[cfg(feature = "http")]
mod http_adapter;
#[cfg(any(feature = "blocking", feature = "tokio"))]
mod log;
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub mod middleware;
#[cfg(any(feature = "blocking", feature = "tokio"))]
mod redact;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "reqwest")]
mod reqwest_adapter;
#[cfg(any(feature = "blocking", feature = "tokio"))]
mod run;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
mod seam;
#[cfg(any(feature = "blocking", feature = "tokio"))]
mod token;
#[cfg(any(feature = "blocking", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "blocking", feature = "tokio"))))]
pub use token::TokenStore;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(feature = "ureq")]
mod ureq_adapter;

/// A response as a driver needs it: the status and the headers. The
/// driver hands the whole value back to you when the call ends.
pub trait Response {
    /// The status code.
    fn status(&self) -> u16;
    /// The headers.
    fn headers(&self) -> &dyn Headers;
}

/// No response: the failure of a seam that hands every response back
/// itself (the tower layer, the middleware) is a `Failure<Infallible, E>`.
impl Response for core::convert::Infallible {
    fn status(&self) -> u16 {
        match *self {}
    }
    fn headers(&self) -> &dyn Headers {
        match *self {}
    }
}

/// A plain owned response, for transports that are not one of the adapted
/// clients (and for tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response for Reply {
    fn status(&self) -> u16 {
        self.status
    }
    fn headers(&self) -> &dyn Headers {
        &self.headers
    }
}

/// How a retrying seam (the tower layer, the reqwest middleware) handled a
/// request, put into the extensions of the response it hands back.
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "tower", feature = "reqwest-middleware")))
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryInfo {
    /// Sends made.
    pub attempts: u32,
    /// Why the policy stopped retrying, when it gave up.
    pub gave_up: Option<Reason>,
    /// The body could not be cloned, so the request was sent once, without
    /// the policy.
    pub body_not_cloneable: bool,
}

/// Where the limits a driven call shares live: told to a driver's `run` or
/// `retry` (and so to every seam built on them).
///
/// A `&Mutex<Limits>` or `&Arc<Mutex<Limits>>` converts into
/// [`Sharing::Process`]; with feature `redis`, a
/// [`&RedisLimits`](redis::RedisLimits) or `&Arc<RedisLimits>` into
/// `Sharing::Fleet`.
#[cfg(any(feature = "blocking", feature = "tokio"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "blocking", feature = "tokio"))))]
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub enum Sharing<'a> {
    /// The call is alone: no limits but its policy's own.
    #[default]
    Alone,
    /// Limits the calls of this process share (rate-limit pacing, retry
    /// budget, circuit breaker). The lock is taken only around decisions.
    Process(&'a std::sync::Mutex<crate::limits::Limits>),
    /// Limits a fleet of processes shares through Redis (see
    /// [`redis`]): the process renews its lease before each decision.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Fleet(&'a redis::RedisLimits),
}

#[cfg(any(feature = "blocking", feature = "tokio"))]
impl<'a> Sharing<'a> {
    /// The limits in this process a call locks around its decisions.
    fn limits(self) -> Option<&'a std::sync::Mutex<crate::limits::Limits>> {
        match self {
            Self::Alone => None,
            Self::Process(limits) => Some(limits),
            #[cfg(feature = "redis")]
            Self::Fleet(fleet) => Some(fleet.local()),
        }
    }
}

#[cfg(any(feature = "blocking", feature = "tokio"))]
impl<'a> From<&'a std::sync::Mutex<crate::limits::Limits>> for Sharing<'a> {
    fn from(limits: &'a std::sync::Mutex<crate::limits::Limits>) -> Self {
        Self::Process(limits)
    }
}

#[cfg(any(feature = "blocking", feature = "tokio"))]
impl<'a> From<&'a std::sync::Arc<std::sync::Mutex<crate::limits::Limits>>> for Sharing<'a> {
    fn from(limits: &'a std::sync::Arc<std::sync::Mutex<crate::limits::Limits>>) -> Self {
        Self::Process(limits)
    }
}

#[cfg(feature = "redis")]
impl<'a> From<&'a redis::RedisLimits> for Sharing<'a> {
    fn from(fleet: &'a redis::RedisLimits) -> Self {
        Self::Fleet(fleet)
    }
}

#[cfg(feature = "redis")]
impl<'a> From<&'a std::sync::Arc<redis::RedisLimits>> for Sharing<'a> {
    fn from(fleet: &'a std::sync::Arc<redis::RedisLimits>) -> Self {
        Self::Fleet(fleet)
    }
}

/// How a driven call failed: the reason, and what the last attempt brought.
/// Its `Display` says both: "retries exhausted after 3; last error:
/// connection refused".
#[derive(Debug)]
pub struct Failure<R, E = NetworkError> {
    /// Why.
    pub reason: Reason,
    /// The last attempt's response, or the error it got instead (the
    /// client's own error from the closure API, the error's kind from the
    /// `Hooks` drivers); `None` when the call gave up before any attempt
    /// finished (an open circuit, a budget refusal).
    pub last: Option<Result<R, E>>,
}

impl<R, E> Failure<R, E> {
    /// The last response, if the last attempt got one.
    pub fn response(&self) -> Option<&R> {
        match &self.last {
            Some(Ok(r)) => Some(r),
            _ => None,
        }
    }

    /// The last attempt's error, if it got no response.
    pub fn error(&self) -> Option<&E> {
        match &self.last {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }
}

impl<R: Response, E: fmt::Display> fmt::Display for Failure<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        match &self.last {
            Some(Ok(r)) => write!(f, "; last response: HTTP {}", r.status()),
            Some(Err(e)) => write!(f, "; last error: {e}"),
            None => Ok(()),
        }
    }
}

impl<R, E> std::error::Error for Failure<R, E>
where
    R: Response + fmt::Debug,
    E: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error().map(|e| e as _)
    }
}

/// Everything a driven call ends with.
#[derive(Debug)]
#[non_exhaustive]
pub struct Run<R, Id> {
    /// Success or failure.
    pub result: Result<Completion<R, Id>, Failure<R>>,
    /// Sends made.
    pub attempts: u32,
    /// Total time slept between attempts.
    pub waited: Duration,
    /// Time from start to end.
    pub elapsed: Duration,
}

/// The drivers' clock: monotonic time since the first call in this process,
/// and the system's wall clock. Read [`Limits::snapshot`](crate::Limits::snapshot)
/// of limits the drivers share with it.
pub fn now() -> Clock {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Clock::new(origin.elapsed(), unix)
}

/// A fresh jitter seed: process-random keys hashed with a counter, so calls
/// started together still draw different jitter.
#[cfg(any(feature = "blocking", feature = "tokio"))]
pub(crate) fn seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    KEYS.get_or_init(RandomState::new).hash_one(n)
}

#[cfg(all(test, any(feature = "blocking", feature = "tokio")))]
mod tests {
    use std::collections::HashSet;

    /// Calls started at once, on one thread or several, draw different
    /// jitter: no two of them get the same seed.
    #[test]
    fn calls_started_together_get_different_seeds() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..250).map(|_| super::seed()).collect::<Vec<_>>()))
            .collect();
        let seeds: HashSet<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(seeds.len(), 1000);
    }
}
