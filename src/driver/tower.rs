//! A tower [`Layer`] that retries any `Service<http::Request<B>>` under a
//! steadfast policy (feature `tower`), hyper-util's client included: the
//! decision table, `Retry-After` and rate-limit headers, the idempotency
//! rules, the attempt timeout (a tokio timer) and the deadline, and
//! optionally limits shared with other calls.
//!
//! ```no_run
//! use steadfast::driver::tower::RetryLayer;
//! use steadfast::Policy;
//! use tower_layer::Layer;
//!
//! # fn wrap<S>(client: S) {
//! let service = RetryLayer::new(Policy::seed_guide()).layer(client);
//! # }
//! ```
//!
//! The request body must be `Clone` (each attempt sends a copy: with
//! hyper, `http_body_util::Full<Bytes>` is). When the policy gives up on a
//! status, the last response is handed back; otherwise the error is a
//! [`Failure`] saying why the policy stopped, with the inner service's last
//! error when an attempt brought one (none when the call was refused
//! before any attempt finished: an open circuit, a refused budget). A
//! response's extensions carry a [`RetryInfo`](super::RetryInfo): attempts
//! made, and why the policy gave up. An error is read through its
//! `source()` chain: an `io::Error` there says what kind of failure it
//! was, anything else is [`NetworkError::Other`] and not retried. Dropping
//! the response future at any point gives back what shared limits granted
//! the call.

use core::convert::Infallible;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::error::Error as StdError;
use std::io;
use std::sync::{Arc, Mutex};

use tower_layer::Layer;
use tower_service::Service;

use super::seam::{self, Shared};
use super::tokio::{run, AsyncHooks};
use super::Failure;
use crate::limits::Limits;
use crate::outcome::NetworkError;
use crate::policy::Policy;

/// Wraps services in [`Retry`].
#[derive(Clone, Debug)]
pub struct RetryLayer {
    policy: Arc<Policy>,
    limits: Option<Shared>,
}

impl RetryLayer {
    /// Retries under `policy`, each call on its own.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
            limits: None,
        }
    }

    /// Shares `limits` between every call through the wrapped services and
    /// anyone else holding them.
    #[must_use]
    pub fn with_limits(mut self, limits: Arc<Mutex<Limits>>) -> Self {
        self.limits = Some(Shared::Process(limits));
        self
    }

    /// Paces with a fleet of processes through Redis instead (see
    /// [`redis`](super::redis)).
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[must_use]
    pub fn with_fleet(mut self, fleet: Arc<super::redis::RedisLimits>) -> Self {
        self.limits = Some(Shared::Fleet(fleet));
        self
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service that retries its inner service under a policy.
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    layer: RetryLayer,
}

impl<S, B, R> Service<http::Request<B>> for Retry<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: StdError + Send + Sync + 'static,
    B: Clone + Send + Sync + 'static,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = Failure<Infallible, S::Error>;
    type Future = Pin<
        Box<dyn Future<Output = Result<http::Response<R>, Failure<Infallible, S::Error>>> + Send>,
    >;

    /// Always ready: each attempt waits for the inner service's readiness
    /// itself, since attempts are spread over time.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let layer = self.layer.clone();
        Box::pin(async move {
            let call = seam::request(request.method(), request.headers());
            let mut hooks = Attempts {
                inner,
                request,
                error: None,
            };
            let sharing = seam::sharing(layer.limits.as_ref());
            let run = run(&*layer.policy, call, sharing, &mut hooks).await;
            let (mut r, info) = seam::ended(run, hooks.error)?;
            r.extensions_mut().insert(info);
            Ok(r)
        })
    }
}

/// One call's attempts through the inner service.
struct Attempts<S, B, E> {
    inner: S,
    request: http::Request<B>,
    error: Option<E>,
}

impl<S, B, R> AsyncHooks for Attempts<S, B, S::Error>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send,
    S::Error: StdError + Send + Sync + 'static,
    B: Clone + Send + Sync,
    R: Send,
{
    type Response = http::Response<R>;
    type Id = core::convert::Infallible;

    fn send(
        &mut self,
        _attempt: u32,
    ) -> impl Future<Output = Result<http::Response<R>, NetworkError>> + Send {
        let copy = copy(&self.request);
        async move {
            let sent = match poll_fn(|cx| self.inner.poll_ready(cx)).await {
                Ok(()) => self.inner.call(copy).await,
                Err(e) => Err(e),
            };
            sent.map_err(|e| {
                let kind = kind_of(&e);
                self.error = Some(e);
                kind
            })
        }
    }
}

/// A copy of `request` for one attempt: everything but the extensions,
/// which need not be clonable and are for the first attempt's layers only.
fn copy<B: Clone>(request: &http::Request<B>) -> http::Request<B> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The kind of failure an error is, from the first `io::Error` in its
/// source chain.
fn kind_of(error: &(dyn StdError + 'static)) -> NetworkError {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io.kind().into();
        }
        next = e.source();
    }
    NetworkError::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] io::Error);

    #[test]
    fn errors_are_read_through_their_source_chain() {
        let rows = [
            (
                io::ErrorKind::ConnectionRefused,
                NetworkError::ConnectionRefused,
            ),
            (io::ErrorKind::TimedOut, NetworkError::Timeout),
            (
                io::ErrorKind::ConnectionReset,
                NetworkError::ConnectionReset,
            ),
            (io::ErrorKind::UnexpectedEof, NetworkError::ConnectionReset),
            (io::ErrorKind::WouldBlock, NetworkError::Timeout),
            (io::ErrorKind::BrokenPipe, NetworkError::ConnectionReset),
            (io::ErrorKind::PermissionDenied, NetworkError::Other),
        ];
        for (kind, want) in rows {
            assert_eq!(kind_of(&Outer(io::Error::from(kind))), want, "{kind:?}");
            assert_eq!(kind_of(&io::Error::from(kind)), want, "{kind:?}");
        }
        assert_eq!(kind_of(&std::fmt::Error), NetworkError::Other);
    }

    #[test]
    fn a_copy_keeps_everything_but_extensions() {
        let mut request = http::Request::post("http://127.0.0.1/contacts")
            .header("Idempotency-Key", "k-1")
            .version(http::Version::HTTP_11)
            .body("{}")
            .unwrap();
        request.extensions_mut().insert(7u8);
        let copy = copy(&request);
        assert_eq!(copy.method(), request.method());
        assert_eq!(copy.uri(), request.uri());
        assert_eq!(copy.version(), request.version());
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(copy.body(), request.body());
        assert!(copy.extensions().get::<u8>().is_none());
    }
}
