//! What the retrying seams (the tower layer, the reqwest middleware) share:
//! the limits they hold, the request the policy reads from an HTTP request,
//! and what a finished run hands back.

use core::convert::Infallible;
use std::sync::{Arc, Mutex};

use super::{Failure, RetryInfo, Run, Sharing};
use crate::action::Completion;
use crate::limits::Limits;
use crate::outcome::{Method, Request};

/// The limits a seam shares between its calls: in this process, or with a
/// fleet through Redis.
#[derive(Clone, Debug)]
pub(crate) enum Shared {
    Process(Arc<Mutex<Limits>>),
    #[cfg(feature = "redis")]
    Fleet(Arc<super::redis::RedisLimits>),
}

/// Where a seam's calls find their limits.
pub(crate) fn sharing(shared: Option<&Shared>) -> Sharing<'_> {
    match shared {
        None => Sharing::Alone,
        Some(Shared::Process(limits)) => Sharing::Process(limits),
        #[cfg(feature = "redis")]
        Some(Shared::Fleet(fleet)) => Sharing::Fleet(fleet),
    }
}

/// The request as the policy reads it: its method, and whether it carries
/// an idempotency key (which makes a failure that may have been applied
/// safe to retry).
pub(crate) fn request(method: &http::Method, headers: &http::HeaderMap) -> Request {
    let request = Request::new(Method::from(method));
    if headers.contains_key("idempotency-key") {
        request.with_idempotency_key()
    } else {
        request
    }
}

/// What a seam hands back for `run`: the response (a success, or the
/// status the policy gave up on) with how it came to be, or, when the last
/// attempt brought no response, why the call failed and the inner
/// service's last error (`error`, kept by the seam's hooks).
pub(crate) fn ended<R, E>(
    run: Run<R, Infallible>,
    error: Option<E>,
) -> Result<(R, RetryInfo), Failure<Infallible, E>> {
    let info = |gave_up| RetryInfo {
        attempts: run.attempts,
        gave_up,
        body_not_cloneable: false,
    };
    match run.result {
        Ok(Completion::Success(r)) => Ok((r, info(None))),
        Ok(Completion::Existing(never) | Completion::Update(never)) => match never {},
        Err(Failure {
            reason,
            last: Some(Ok(r)),
        }) => Ok((r, info(Some(reason)))),
        Err(Failure { reason, last }) => Err(Failure {
            reason,
            last: last.and(error).map(Err),
        }),
    }
}
