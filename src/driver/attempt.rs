//! The closure API's side of an attempt: what a closure may return, and the
//! hooks that run it.

use core::convert::Infallible;
use core::fmt;
use core::time::Duration;

use super::{Failure, Response};
use crate::action::Completion;
use crate::outcome::{Headers, NetworkError};

/// What one attempt of a closure returns: a response, or an error together
/// with the kind of failure the policy reads from it.
///
/// Implemented for `Result<R, NetworkError>` with any [`Response`] `R`, for
/// a bare `(status, headers)` pair, and, with their features, for
/// `http::Response` and reqwest's and ureq's results.
pub trait Attempt {
    /// The response a success hands back.
    type Response: Response;
    /// The error a failure hands back, in [`Failure::last`].
    type Error;

    /// The response, or the error and its kind.
    fn split(self) -> Result<Self::Response, (NetworkError, Self::Error)>;
}

impl<R: Response> Attempt for Result<R, NetworkError> {
    type Response = R;
    type Error = NetworkError;

    fn split(self) -> Result<R, (NetworkError, NetworkError)> {
        self.map_err(|e| (e, e))
    }
}

/// A response that cannot fail: a bare `(status, headers)` pair.
impl<H: Headers> Attempt for (u16, H) {
    type Response = (u16, H);
    type Error = Infallible;

    fn split(self) -> Result<(u16, H), (NetworkError, Infallible)> {
        Ok(self)
    }
}

/// An `http::Response` handed back as is (transports that report failures
/// as responses, or never fail).
#[cfg(feature = "http")]
impl<B> Attempt for http::Response<B> {
    type Response = http::Response<B>;
    type Error = Infallible;

    fn split(self) -> Result<http::Response<B>, (NetworkError, Infallible)> {
        Ok(self)
    }
}

/// A bare status and its headers, for transports of your own.
impl<H: Headers> Response for (u16, H) {
    fn status(&self) -> u16 {
        self.0
    }
    fn headers(&self) -> &dyn Headers {
        &self.1
    }
}

#[cfg(feature = "reqwest")]
impl Attempt for Result<reqwest::Response, reqwest::Error> {
    type Response = reqwest::Response;
    type Error = reqwest::Error;

    fn split(self) -> Result<reqwest::Response, (NetworkError, reqwest::Error)> {
        self.map_err(|e| (NetworkError::from(&e), e))
    }
}

#[cfg(feature = "ureq")]
impl Attempt for Result<http::Response<ureq::Body>, ureq::Error> {
    type Response = http::Response<ureq::Body>;
    type Error = ureq::Error;

    fn split(self) -> Result<Self::Response, (NetworkError, ureq::Error)> {
        self.map_err(|e| (NetworkError::from(&e), e))
    }
}

/// The hooks a closure runs under: each attempt's error is kept whole for
/// the caller, its kind goes to the call.
pub(crate) struct Closure<F, E> {
    pub(crate) attempt: F,
    /// The policy's attempt timeout, told to each attempt.
    pub(crate) timeout: Option<Duration>,
    pub(crate) error: Option<E>,
}

impl<F, E> Closure<F, E> {
    pub(crate) fn new(attempt: F, timeout: Option<Duration>) -> Self {
        Self {
            attempt,
            timeout,
            error: None,
        }
    }

    pub(crate) fn keep<R>(
        &mut self,
        result: Result<R, (NetworkError, E)>,
    ) -> Result<R, NetworkError> {
        result.map_err(|(kind, e)| {
            self.error = Some(e);
            kind
        })
    }

    /// The driver's result, with the last error as the closure returned it.
    pub(crate) fn finish<R>(
        self,
        result: Result<Completion<R, Infallible>, Failure<R>>,
    ) -> Result<R, Failure<R, E>> {
        match result {
            Ok(Completion::Success(r)) => Ok(r),
            // A closure call has no conflict search: no lookup finds an id.
            Ok(Completion::Existing(never) | Completion::Update(never)) => match never {},
            Err(Failure { reason, last }) => Err(Failure {
                reason,
                last: match last {
                    Some(Ok(r)) => Some(Ok(r)),
                    Some(Err(_)) => self.error.map(Err),
                    None => None,
                },
            }),
        }
    }
}

impl<F, E> fmt::Debug for Closure<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closure")
    }
}

/// The attempt's number and time limit, handed to each attempt of a
/// closure: a blocking one must bound its own IO by the timeout (blocking
/// IO cannot be interrupted); an async one is bounded by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptInfo {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The policy's per-attempt timeout.
    pub timeout: Option<Duration>,
}
