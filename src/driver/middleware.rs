//! A [`reqwest_middleware`] middleware that retries under a steadfast policy
//! (feature `reqwest-middleware`): the decision table, `Retry-After` and
//! rate-limit headers, the idempotency rules for failures that may have
//! been applied, the attempt timeout and the deadline, and optionally
//! limits shared with other calls.
//!
//! ```no_run
//! use steadfast::driver::middleware::RetryMiddleware;
//! use steadfast::Policy;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::new(Policy::seed_guide()))
//!     .build();
//! ```
//!
//! When the policy gives up on a status, the last response is handed back
//! (as reqwest-retry does); when it gives up after errors, the last error;
//! when it gives up before any attempt finished (an open circuit, a refused
//! budget), a [`Failure`]`<Infallible, Infallible>` saying why, as the
//! middleware error.
//! Either way the response's extensions carry a [`RetryInfo`] saying how
//! many attempts were made and why the call stopped. A request whose body
//! cannot be cloned (a stream) is sent once, and its `RetryInfo` says so.
//! With [`RetryMiddleware::with_token`], each attempt carries the current
//! token of a shared [`TokenStore`] as `Authorization: Bearer`, and a 401
//! refreshes it once (one fetch however many requests hit 401 together)
//! before the request is sent again; without it, a 401 is given up on.

use core::convert::Infallible;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::{Arc, Mutex};

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use super::seam::{self, Shared};
use super::tokio::{run, AsyncHooks};
use super::{Failure, RetryInfo, TokenStore};
use crate::limits::Limits;
use crate::outcome::{NetworkError, Refresh};
use crate::policy::Policy;

/// Retries requests under a policy; add it with
/// `reqwest_middleware::ClientBuilder::with`.
#[derive(Clone, Debug)]
pub struct RetryMiddleware {
    policy: Arc<Policy>,
    limits: Option<Shared>,
    token: Option<Token>,
}

type Fetch = dyn Fn() -> Pin<Box<dyn Future<Output = Option<String>> + Send>> + Send + Sync;

/// The shared token and how to fetch a new one.
#[derive(Clone)]
struct Token {
    store: Arc<TokenStore<String>>,
    fetch: Arc<Fetch>,
}

impl fmt::Debug for Token {
    // The token is a secret: never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token { .. }")
    }
}

impl RetryMiddleware {
    /// Retries under `policy`, each call on its own.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Arc::new(policy),
            limits: None,
            token: None,
        }
    }

    /// Sends the current token of `store` with every attempt, and on a 401
    /// refreshes it with `fetch` (once for all requests that hit 401
    /// together), then sends again. `fetch` returns the new token, or
    /// `None` when it cannot (the call then gives up: re-authentication
    /// required).
    #[must_use]
    pub fn with_token<F, Fut>(mut self, store: Arc<TokenStore<String>>, fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        let fetch: Arc<Fetch> = Arc::new(move || Box::pin(fetch()));
        self.token = Some(Token { store, fetch });
        self
    }

    /// Shares `limits` (pacing, retry budget, circuit breaker) between every
    /// request through this middleware and anyone else holding them.
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

impl Middleware for RetryMiddleware {
    fn handle<'a, 'b, 'c, 'f>(
        &'a self,
        req: reqwest::Request,
        extensions: &'b mut Extensions,
        next: Next<'c>,
    ) -> core::pin::Pin<
        Box<dyn Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'f>,
    >
    where
        'a: 'f,
        'b: 'f,
        'c: 'f,
        Self: 'f,
    {
        Box::pin(self.retry(req, extensions, next))
    }
}

impl RetryMiddleware {
    async fn retry(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if req.try_clone().is_none() {
            tracing::warn!(
                method = %req.method(),
                "sent once: the request body cannot be cloned, so it cannot be retried"
            );
            let mut response = next.run(req, extensions).await?;
            response.extensions_mut().insert(RetryInfo {
                attempts: 1,
                gave_up: None,
                body_not_cloneable: true,
            });
            return Ok(response);
        }
        let request = seam::request(req.method(), req.headers());
        // The logs redact it.
        let endpoint = req.url().as_str().to_owned();
        let mut hooks = Attempts {
            req,
            extensions,
            next,
            endpoint,
            error: None,
            token: self.token.as_ref(),
            seen: 0,
        };
        let sharing = seam::sharing(self.limits.as_ref());
        let run = run(&*self.policy, request, sharing, &mut hooks).await;
        match seam::ended(run, hooks.error) {
            Ok((mut response, info)) => {
                response.extensions_mut().insert(info);
                Ok(response)
            }
            Err(Failure {
                last: Some(Err(error)),
                ..
            }) => Err(error),
            // No attempt brought an error of the client's: an open circuit,
            // a refused budget.
            Err(Failure { reason, .. }) => Err(reqwest_middleware::Error::middleware(Failure::<
                Infallible,
                Infallible,
            > {
                reason,
                last: None,
            })),
        }
    }
}

/// One request's attempts through the rest of the middleware chain.
struct Attempts<'e, 'n> {
    req: reqwest::Request,
    extensions: &'e mut Extensions,
    next: Next<'n>,
    endpoint: String,
    error: Option<reqwest_middleware::Error>,
    token: Option<&'e Token>,
    /// The generation of the token the last attempt carried.
    seen: u64,
}

impl AsyncHooks for Attempts<'_, '_> {
    type Response = reqwest::Response;
    type Id = core::convert::Infallible;

    fn send(
        &mut self,
        _attempt: u32,
    ) -> impl Future<Output = Result<reqwest::Response, NetworkError>> + Send {
        // Checked cloneable before the first attempt; a request cannot
        // become uncloneable, but a failure here is an error, not a panic.
        let mut req = self.req.try_clone();
        if let (Some(req), Some(token)) = (req.as_mut(), self.token) {
            let (generation, value) = token.store.current();
            self.seen = generation;
            // A token that is not a valid header value is not sent: the
            // server's 401 then asks for a new one.
            if let Ok(mut value) = http::HeaderValue::from_str(&format!("Bearer {value}")) {
                value.set_sensitive(true);
                req.headers_mut().insert(http::header::AUTHORIZATION, value);
            }
        }
        async move {
            let Some(req) = req else {
                return Err(NetworkError::Other);
            };
            match self.next.clone().run(req, self.extensions).await {
                Ok(response) => Ok(response),
                Err(e) => {
                    let kind = match &e {
                        reqwest_middleware::Error::Reqwest(e) => NetworkError::from(e),
                        reqwest_middleware::Error::Middleware(_) => NetworkError::Other,
                    };
                    self.error = Some(e);
                    Err(kind)
                }
            }
        }
    }

    fn refresh_token(&mut self) -> impl Future<Output = Refresh> + Send {
        let (token, seen) = (self.token, self.seen);
        async move {
            match token {
                Some(t) => t.store.refresh_async(seen, (t.fetch)()).await,
                None => Refresh::Failed,
            }
        }
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }
}
