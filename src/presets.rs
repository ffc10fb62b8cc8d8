//! Presets that reproduce well-known policies exactly.

use core::time::Duration;
use std::collections::BTreeMap;

use crate::limits::{BudgetSpec, LimitsSpec};
use crate::policy::{OnConflict, Policy, PolicySpec, RateLimitRule, Rule, StatusRetries};
use crate::schedule::{Jitter, Schedule};

/// Status overrides from `(status, rule)` pairs.
fn overrides(pairs: &[(u16, Rule)]) -> BTreeMap<u16, Rule> {
    pairs.iter().copied().collect()
}

/// A 429 rule for policies that never read rate-limit resets and count every
/// wait as a retry (their 429s are backoffs or Retry-After waits).
const PLAIN_429: RateLimitRule = RateLimitRule {
    default_wait: Duration::from_secs(1),
    use_reset: false,
    give_up_above: None,
    counts_as_retry: true,
};

/// The API error codes the AWS SDKs treat as throttling, retried by
/// [`Policy::aws_standard`] (as listed by the AWS SDK for Rust's error-code
/// retry classifier).
const AWS_THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// The API error codes the AWS SDKs treat as transient, retried by
/// [`Policy::aws_standard`].
const AWS_TRANSIENT_CODES: &[&str] = &["RequestTimeout", "RequestTimeoutException"];

impl Policy {
    /// The source guide's rules (the decision table of `docs/design.md`): 3 s, 9 s, 27 s, 300 s
    /// then give up (4 retries, 5 attempts); 401 refreshes once; 409 searches
    /// by external id; 429 waits `Retry-After`, else the reset header, else
    /// 60 s; 503 honours `Retry-After`; 504 backs off one step longer;
    /// server waits cut to 300 s and raised to at least 1 s; no jitter.
    pub fn seed_guide() -> Self {
        Self::trusted(PolicySpec::default())
    }

    /// What to start with for a real API: the guide's rules, with full
    /// jitter, and limits its calls share — pacing by the rate-limit
    /// headers, the adaptive rate for a server that throttles without them
    /// (one drop per overload, [`LimitsSpec::throttle_gap`], and a bucket of
    /// a tenth of a second of it, [`LimitsSpec::adaptive_burst`]), and a retry
    /// budget of 20 % of the last 10 s of requests plus 5 a second, which
    /// pays for retries of failures, not of throttles. A 429 that says
    /// nothing of when to come back waits 1 s, not the guide's 60 s: the
    /// adaptive rate paces what follows. After a reset, the calls sharing a
    /// tracker are let through one by one, so there is no reset jitter.
    pub fn recommended() -> Self {
        let guide = PolicySpec::default();
        Self::trusted(PolicySpec {
            jitter: Jitter::Full,
            rate_limit: RateLimitRule {
                default_wait: Duration::from_secs(1),
                ..guide.rate_limit
            },
            limits: LimitsSpec {
                pacing: true,
                reset_jitter: Duration::ZERO,
                adaptive: true,
                adaptive_burst: Duration::from_millis(100),
                budget: Some(BudgetSpec::Percentage {
                    basis_points: 2_000,
                    window: Duration::from_secs(10),
                    min_per_second: 5,
                }),
                ..LimitsSpec::default()
            },
            ..guide
        })
    }

    /// The official Genesys Cloud Java/.NET SDKs' retry behaviour, with the
    /// SDK's `maxRetryTimeSec` set to 30 minutes (the SDK's own default of 0
    /// turns retrying off; change it with [`Policy::with_max_retry_time`]).
    ///
    /// - only 429, 502, 503 and 504 are retried, and only when the failure
    ///   arrives before the max retry time ([`PolicySpec::max_retry_time`]:
    ///   checked at the failure, so the last wait may end past it, as in the
    ///   SDKs); the retry count is not limited;
    /// - 429 waits `Retry-After`, or 3 s without one, and gives up when
    ///   `Retry-After` exceeds 180 s; rate-limit reset headers are not read;
    /// - 502/503/504 wait `Retry-After` or 3 s for the first 5 retries, then
    ///   `3^min(3, floor(elapsed / 300 s) + 1)` s, ignoring `Retry-After`;
    /// - no token refresh, no conflict search, no network-error retries,
    ///   no jitter, and a `Retry-After: 0` is taken at its word.
    pub fn genesys_sdk() -> Self {
        let backoff = Rule::Backoff {
            retry_after: true,
            extra_steps: 0,
            throttle: false,
        };
        let rules = [
            (401, Rule::GiveUp),
            (409, Rule::GiveUp),
            (500, Rule::GiveUp),
            (502, backoff),
            (503, backoff),
            (504, backoff),
        ];
        Self::trusted(PolicySpec {
            max_retries: u32::MAX,
            schedule: Schedule::Staged {
                first: Duration::from_secs(3),
                first_retries: 5,
                unit: Duration::from_secs(1),
                factor: 3,
                stage: Duration::from_secs(300),
                max_power: 3,
            },
            jitter: Jitter::None,
            // Not the SDKs': steadfast bounds every call. The deadline leaves
            // room for the last wait the max retry time lets start.
            deadline: Some(Duration::from_secs(35 * 60)),
            max_retry_time: Some(Duration::from_secs(30 * 60)),
            attempt_timeout: Some(Duration::from_secs(60)),
            retry_after_cap: Duration::from_secs(180),
            min_server_wait: Duration::ZERO,
            rate_limit: RateLimitRule {
                default_wait: Duration::from_secs(3),
                use_reset: false,
                give_up_above: Some(Duration::from_secs(180)),
                counts_as_retry: false,
            },
            on_conflict: OnConflict::GiveUp,
            retry_network_errors: false,
            status_retries: StatusRetries::All,
            statuses: overrides(&rules),
            codes: BTreeMap::new(),
            code_header: None,
            other_server_errors: Rule::GiveUp,
            pressure: Default::default(),
            limits: Default::default(),
        })
    }

    /// urllib3's `Retry.DEFAULT` (`Retry(total=3)`, urllib3 2.x), as
    /// documented:
    /// - 3 retries in all;
    /// - `backoff_factor` 0: no delay between retries;
    /// - statuses are retried only for `Retry-After`'s statuses (413, 429,
    ///   503) when the response carries one (`respect_retry_after_header`),
    ///   and only for `allowed_methods` (DELETE, GET, HEAD, OPTIONS, PUT,
    ///   TRACE); `status_forcelist` is empty, so nothing else is retried;
    /// - connection errors are retried for any method, read errors (timeout,
    ///   reset) only for idempotent ones;
    /// - `Retry-After` is taken as sent, seconds or HTTP-date, up to
    ///   `Retry.DEFAULT_RETRY_AFTER_MAX` (6 hours: a longer wait is cut to
    ///   it), a past date meaning now;
    /// - no token refresh, no conflict search, no rate-limit headers.
    ///
    /// `Retry.DEFAULT` is what a `PoolManager` uses when given no retries.
    /// `Retry()` constructed with no arguments has `total=10` instead: the
    /// same policy with `max_retries` 10. Any `Retry(total=…,
    /// backoff_factor=…, backoff_max=…, backoff_jitter=…)` is this policy
    /// with that retry count, [`Schedule::Urllib3`] and [`Jitter::Added`]:
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use steadfast::{Jitter, Policy, Schedule};
    /// // Retry(total=5, backoff_factor=0.5, backoff_jitter=0.25)
    /// let mut spec = Policy::urllib3().spec().clone();
    /// spec.max_retries = 5;
    /// spec.schedule = Schedule::Urllib3 {
    ///     factor: Duration::from_millis(500),
    ///     max: Duration::from_secs(120), // Retry.DEFAULT_BACKOFF_MAX
    /// };
    /// spec.jitter = Jitter::Added { max: Duration::from_millis(250) };
    /// let policy = Policy::new(spec)?;
    /// # Ok::<(), steadfast::PolicyError>(())
    /// ```
    ///
    /// Where steadfast differs: a request with an idempotency key or
    /// external id is also retried after a read error (urllib3 knows only
    /// methods), and TRACE counts as [`Method::Other`](crate::Method).
    /// A `Retry-After` retry for a status outside `status_forcelist` (rule
    /// [`Rule::RetryAfterOnly`]) does not advance the backoff step, where
    /// urllib3 counts every retry in its history.
    pub fn urllib3() -> Self {
        let after = Rule::RetryAfterOnly;
        let rules = [
            (401, Rule::GiveUp),
            (409, Rule::GiveUp),
            (413, after),
            (429, after),
            (500, Rule::GiveUp),
            (502, Rule::GiveUp),
            (503, after),
            (504, Rule::GiveUp),
        ];
        Self::trusted(PolicySpec {
            max_retries: 3,
            // backoff_factor 0: every wait is zero.
            schedule: Schedule::Urllib3 {
                factor: Duration::ZERO,
                max: Duration::from_secs(120),
            },
            jitter: Jitter::None,
            // Not urllib3's (its default timeout waits forever): steadfast
            // bounds every call, loosely enough for three 6-hour waits.
            deadline: Some(Duration::from_secs(24 * 3600)),
            max_retry_time: None,
            attempt_timeout: Some(Duration::from_secs(30)),
            retry_after_cap: Duration::from_secs(6 * 3600),
            min_server_wait: Duration::ZERO,
            rate_limit: PLAIN_429,
            on_conflict: OnConflict::GiveUp,
            retry_network_errors: true,
            status_retries: StatusRetries::IdempotentOnly,
            statuses: overrides(&rules),
            codes: BTreeMap::new(),
            code_header: None,
            other_server_errors: Rule::GiveUp,
            pressure: Default::default(),
            limits: LimitsSpec {
                pacing: false,
                ..LimitsSpec::default()
            },
        })
    }

    /// The AWS SDKs' "standard" retry mode, as documented:
    /// - 3 attempts (2 retries);
    /// - transient errors (500, 502, 503, 504, connection errors and
    ///   timeouts) and throttling (429) are retried with the same backoff;
    ///   `Retry-After` is not read;
    /// - so is any error response whose API error code is a throttling or
    ///   transient code (the AWS SDK for Rust's lists: `Throttling`,
    ///   `ThrottlingException`, `SlowDown`, `RequestTimeout` and the rest;
    ///   `spec().codes` lists them), whatever its status (a 400 `ThrottlingException`). The code comes
    ///   from the `x-amzn-ErrorType` header (JSON protocols), or from the
    ///   body through [`Outcome::with_code`](crate::Outcome::with_code);
    /// - backoff: a uniform draw in `[0, min(1 s × 2^i, 20 s)]` (full
    ///   jitter, 20 s max backoff);
    /// - a retry quota shared by every call to the service: 500 tokens, a
    ///   retry costs 5 (10 after a timeout), a success refunds what its retry
    ///   cost, a success without retry adds 1 ([`BudgetSpec::AWS_STANDARD`];
    ///   share it with [`Limits`](crate::Limits));
    /// - no token refresh or conflict search.
    ///
    /// Where steadfast differs: a timeout or reset is retried only for a
    /// request that may repeat (idempotent, or with a key or external id);
    /// AWS operations carry idempotency tokens, so mark them so.
    pub fn aws_standard() -> Self {
        Self::trusted(aws(false))
    }

    /// The AWS SDKs' "adaptive" retry mode: [`aws_standard`](Self::aws_standard),
    /// and a client-side send rate shared by the calls that share its
    /// [`Limits`](crate::Limits) ([`LimitsSpec::adaptive`]). Nothing is paced
    /// until the first throttle (a 429, a 503, a throttling code); then the
    /// rate drops to 0.7 of the rate measured (half-second buckets, smoothed
    /// 0.8) and grows back along CUBIC (`0.4·(t − K)³ + W_max`), at most twice
    /// the measured rate, at least 0.5 sends per second — botocore's
    /// `retries/adaptive.py` and aws-smithy-runtime's `client_rate_limiter`.
    ///
    /// Where steadfast differs: a 429 or 503 without a code is a throttle
    /// too (AWS services always send a code; other servers may not), and
    /// pacing ends once `stale_after` passes without a throttle.
    pub fn aws_adaptive() -> Self {
        Self::trusted(aws(true))
    }
}

/// The AWS SDKs' retry rules, with or without the adaptive rate.
fn aws(adaptive: bool) -> PolicySpec {
    let backoff = |throttle| Rule::Backoff {
        retry_after: false,
        extra_steps: 0,
        throttle,
    };
    let codes = AWS_THROTTLING_CODES
        .iter()
        .map(|&code| (code.to_owned(), backoff(true)))
        .chain(
            AWS_TRANSIENT_CODES
                .iter()
                .map(|&code| (code.to_owned(), backoff(false))),
        )
        .collect();
    let rules = [
        (401, Rule::GiveUp),
        (409, Rule::GiveUp),
        (429, backoff(true)),
        (500, backoff(false)),
        (502, backoff(false)),
        (503, backoff(true)),
        (504, backoff(false)),
    ];
    PolicySpec {
        max_retries: 2,
        schedule: Schedule::Exponential {
            base: Duration::from_secs(1),
            factor: 2.0,
            cap: Duration::from_secs(20),
        },
        jitter: Jitter::Full,
        // Not the SDKs' own: steadfast bounds every call.
        deadline: Some(Duration::from_secs(5 * 60)),
        max_retry_time: None,
        attempt_timeout: Some(Duration::from_secs(30)),
        retry_after_cap: Duration::from_secs(20),
        min_server_wait: Duration::ZERO,
        rate_limit: PLAIN_429,
        on_conflict: OnConflict::GiveUp,
        retry_network_errors: true,
        status_retries: StatusRetries::All,
        statuses: overrides(&rules),
        codes,
        code_header: Some("x-amzn-ErrorType".to_owned()),
        other_server_errors: Rule::GiveUp,
        pressure: Default::default(),
        limits: LimitsSpec {
            pacing: false,
            adaptive,
            // Every throttle drops the rate, and the bucket holds a second
            // of it, as in the SDKs.
            throttle_gap: Duration::ZERO,
            adaptive_burst: Duration::from_secs(1),
            budget: Some(BudgetSpec::AWS_STANDARD),
            ..LimitsSpec::default()
        },
    }
}
