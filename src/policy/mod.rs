//! The policy: every knob of the decision rules, validated once at
//! construction so that no call can meet a nonsense value.

pub(crate) mod error;
mod limits;

pub use error::PolicyError;
use limits::validate_limits;
pub use limits::{BreakerSpec, BudgetSpec, LimitsSpec};

use core::time::Duration;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::headers::PressureThresholds;
use crate::schedule::{Jitter, Schedule};

/// A validated retry policy. Build one from a [`PolicySpec`] with
/// [`Policy::new`], take a preset ([`Policy::seed_guide`],
/// [`Policy::genesys_sdk`]), or deserialize one (validation runs then too).
///
/// Calls borrow it (`&Policy`) or share it (`Arc<Policy>`); it is never
/// copied into a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PolicySpec", into = "PolicySpec")]
pub struct Policy {
    spec: PolicySpec,
    /// The schedule's shortest and longest delay, worked out once: an
    /// explicit schedule would scan its delays on every call and backoff.
    bounds: (Duration, Duration),
}

/// The knobs of a policy, unvalidated. Defaults are the source guide's
/// (`PolicySpec::default()` validates into [`Policy::seed_guide`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySpec {
    /// Retries after the first send that the schedule (and, when
    /// [`RateLimitRule::counts_as_retry`], rate-limit waits) may use. A token
    /// refresh re-send and a conflict re-create are bounded on their own (one
    /// each) and do not count.
    pub max_retries: u32,
    /// Backoff delays for server errors and retryable network failures.
    pub schedule: Schedule,
    /// Randomisation of backoff delays.
    pub jitter: Jitter,
    /// Total time budget of a call: a sleep that would end past it is never
    /// started; the call gives up instead. Every preset has one; `None` opts
    /// out (then only the attempt timeout and the retry count bound a call).
    #[serde(with = "humantime_serde")]
    pub deadline: Option<Duration>,
    /// Retry only failures that arrive before this much time has passed
    /// since the call started; a failure at or after it ends the call.
    /// Unlike [`deadline`](Self::deadline), a wait started before it may end
    /// after it (the Genesys Cloud SDKs' `maxRetryTimeMsec`).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub max_retry_time: Option<Duration>,
    /// Per-attempt timeout, enforced by the drivers (the core never waits):
    /// an attempt that runs out is a [`NetworkError::Timeout`](crate::NetworkError::Timeout).
    /// Every preset has one; `None` opts out and lets a silent server hold
    /// an attempt for as long as the client allows.
    #[serde(with = "humantime_serde")]
    pub attempt_timeout: Option<Duration>,
    /// Longest wait a server may impose via `Retry-After` or a rate-limit
    /// reset; longer hints are cut to it, so a hostile server cannot park a
    /// client for a day.
    #[serde(with = "humantime_serde")]
    pub retry_after_cap: Duration,
    /// Shortest wait taken on a server's hint. A `Retry-After: 0` or a reset
    /// in the past is raised to it, so a server cannot turn clients into a
    /// zero-delay hammer.
    #[serde(with = "humantime_serde")]
    pub min_server_wait: Duration,
    /// How a 429 is waited out.
    pub rate_limit: RateLimitRule,
    /// What a conflict (409) leads to once the search finds the record.
    pub on_conflict: OnConflict,
    /// Whether network failures are retried at all: failures before the
    /// request left (refused, DNS, connect timeout) always, failures after
    /// it may have been applied (timeout, reset) only for a
    /// [`Request`](crate::Request) that may repeat.
    pub retry_network_errors: bool,
    /// Which requests a retryable status may retry.
    pub status_retries: StatusRetries,
    /// Per-status rules that replace the built-in decision table's, by
    /// status (100 to 599).
    pub statuses: BTreeMap<u16, Rule>,
    /// Rules by API error code, ahead of the status rules: an error
    /// response (not 2xx) whose code is listed follows the code's rule. The
    /// code comes with the outcome ([`Outcome::with_code`], parsed from the
    /// body by the caller) or from [`code_header`](Self::code_header).
    ///
    /// [`Outcome::with_code`]: crate::Outcome::with_code
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub codes: BTreeMap<String, Rule>,
    /// A response header carrying the API error code (AWS's
    /// `x-amzn-ErrorType`), read up to its first `:`; used when the outcome
    /// brings no code of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_header: Option<String>,
    /// The rule for 5xx statuses the table does not name (the table names
    /// 500, 501, 502, 503, 504, 505 and 511).
    pub other_server_errors: Rule,
    /// Rate-limit pressure thresholds, as fractions of the limit remaining.
    pub pressure: PressureThresholds,
    /// Pacing, retry budget and circuit breaker, shared across calls: read
    /// by [`Limits::new`](crate::Limits::new) only, so limits built from this
    /// policy carry them to every call they are lent to.
    pub limits: LimitsSpec,
}

/// What to do with a response status. The built-in decision table (see the
/// README) gives each status one; [`PolicySpec::statuses`] overrides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// The call is done.
    Succeed,
    /// Give up: retrying will not help.
    GiveUp,
    /// Refresh the token once and re-send at once.
    RefreshToken,
    /// Search for the existing record by external id.
    SearchExisting,
    /// Wait as a rate limit says, then re-send.
    RateLimited,
    /// Wait the server's `Retry-After` and re-send; without a usable one,
    /// give up (urllib3's rule for 413, 429 and 503).
    RetryAfterOnly,
    /// Back off by the schedule, then re-send.
    Backoff {
        /// Take the server's `Retry-After` instead of the schedule's delay
        /// when it is present and usable.
        #[serde(default)]
        retry_after: bool,
        /// Steps to look ahead in the schedule (504: one step longer).
        #[serde(default)]
        extra_steps: u32,
        /// The status or code says the server is throttling (503, AWS's
        /// `ThrottlingException`): shared limits with an adaptive rate
        /// slow down on it. A 429 (`RateLimited`) always does.
        #[serde(default, skip_serializing_if = "core::ops::Not::not")]
        throttle: bool,
    },
}

/// Which requests a retryable status (5xx, 429...) may retry. Network
/// failures follow their own rule (see
/// [`PolicySpec::retry_network_errors`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusRetries {
    /// Any request: the server did not apply a request it answered with an
    /// error.
    #[default]
    All,
    /// Only idempotent methods (urllib3's `allowed_methods`).
    IdempotentOnly,
}

/// What a resolved conflict leads to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Search; a found record completes the call as
    /// [`Completion::Existing`](crate::Completion::Existing).
    #[default]
    ReturnExisting,
    /// Search; a found record completes the call as
    /// [`Completion::Update`](crate::Completion::Update).
    Update,
    /// Give up on a conflict without searching.
    GiveUp,
}

/// How a 429 is waited out: `Retry-After`, else the rate-limit reset header
/// (when `use_reset`), else `default_wait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitRule {
    /// Wait when the response says nothing usable (the guide: 60 s).
    #[serde(with = "humantime_serde")]
    pub default_wait: Duration,
    /// Whether the rate-limit reset header is read when `Retry-After` is absent.
    pub use_reset: bool,
    /// Give up instead of waiting when the server asks for longer than this.
    #[serde(with = "humantime_serde")]
    pub give_up_above: Option<Duration>,
    /// Whether a 429 wait uses one of `max_retries`. When it does not, the
    /// policy must have a deadline, or a server could keep the call forever.
    pub counts_as_retry: bool,
}

impl Default for RateLimitRule {
    fn default() -> Self {
        Self {
            default_wait: Duration::from_secs(60),
            use_reset: true,
            give_up_above: None,
            counts_as_retry: true,
        }
    }
}

impl Default for PolicySpec {
    fn default() -> Self {
        Self {
            max_retries: 4,
            schedule: Schedule::seed_guide(),
            jitter: Jitter::None,
            // Neither bound is the guide's; without them a server that
            // accepts and never answers holds a call forever. The guide's
            // whole schedule (4 waits of at most 300 s, 5 attempts of at most
            // 30 s) fits in the deadline.
            deadline: Some(Duration::from_secs(30 * 60)),
            max_retry_time: None,
            attempt_timeout: Some(Duration::from_secs(30)),
            retry_after_cap: Duration::from_secs(300),
            min_server_wait: Duration::from_secs(1),
            rate_limit: RateLimitRule::default(),
            on_conflict: OnConflict::ReturnExisting,
            retry_network_errors: true,
            status_retries: StatusRetries::All,
            statuses: BTreeMap::new(),
            codes: BTreeMap::new(),
            code_header: None,
            other_server_errors: Rule::Backoff {
                retry_after: false,
                extra_steps: 0,
                throttle: false,
            },
            pressure: PressureThresholds::default(),
            limits: LimitsSpec::default(),
        }
    }
}

impl Policy {
    /// Validates `spec` into a policy.
    ///
    /// ```
    /// use steadfast::{Policy, PolicySpec, PolicyError, Schedule};
    /// use std::time::Duration;
    ///
    /// let spec = PolicySpec {
    ///     schedule: Schedule::Exponential {
    ///         base: Duration::from_secs(3),
    ///         factor: 0.5,
    ///         cap: Duration::from_secs(300),
    ///     },
    ///     ..PolicySpec::default()
    /// };
    /// assert_eq!(Policy::new(spec), Err(PolicyError::FactorBelowOne { factor: 0.5 }));
    /// ```
    pub fn new(spec: PolicySpec) -> Result<Self, PolicyError> {
        spec.schedule.validate()?;
        if spec.retry_after_cap.is_zero() {
            return Err(PolicyError::ZeroCap);
        }
        if spec.min_server_wait > spec.retry_after_cap {
            return Err(PolicyError::FloorAboveCap {
                min: spec.min_server_wait,
                cap: spec.retry_after_cap,
            });
        }
        let wait = spec.rate_limit.default_wait;
        if wait.is_zero() || wait > spec.retry_after_cap {
            return Err(PolicyError::BadRateLimitDefault {
                wait,
                cap: spec.retry_after_cap,
            });
        }
        if !spec.rate_limit.counts_as_retry
            && spec.deadline.is_none()
            && spec.max_retry_time.is_none()
        {
            return Err(PolicyError::UnboundedRateLimitWaits);
        }
        if let Some(&status) = spec.statuses.keys().find(|s| !(100..=599).contains(*s)) {
            return Err(PolicyError::InvalidStatus { status });
        }
        if spec.codes.contains_key("") {
            return Err(PolicyError::EmptyCode);
        }
        if spec.code_header.as_deref() == Some("") {
            return Err(PolicyError::EmptyCodeHeader);
        }
        validate_limits(&spec.limits)?;
        let PressureThresholds { warning, critical } = spec.pressure;
        if !(0.0..=1.0).contains(&critical) || !(critical..=1.0).contains(&warning) {
            return Err(PolicyError::BadPressure { critical, warning });
        }
        Ok(Self::trusted(spec))
    }

    /// The validated knobs.
    pub fn spec(&self) -> &PolicySpec {
        &self.spec
    }

    /// The longest sleep any call under this policy can be told to take:
    /// the larger of the schedule's cap and `retry_after_cap`.
    pub fn max_sleep(&self) -> Duration {
        self.bounds.1.max(self.spec.retry_after_cap)
    }

    /// The same policy with a total deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        // A deadline only ever tightens a policy, so validity is kept.
        self.spec.deadline = Some(deadline);
        self
    }

    /// The same policy retrying only failures that arrive before `limit`
    /// into the call ([`PolicySpec::max_retry_time`]).
    #[must_use]
    pub fn with_max_retry_time(mut self, limit: Duration) -> Self {
        // Like a deadline, it only ever ends calls sooner.
        self.spec.max_retry_time = Some(limit);
        self
    }

    /// The same policy with jitter. Jitter never leaves `[0, cap]`, so
    /// validity is kept.
    #[must_use]
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.spec.jitter = jitter;
        self
    }

    /// The same policy with every duration divided by `by`: schedule, caps,
    /// floor, default waits, deadline, attempt timeout and the limits'
    /// reset jitter, staleness, budget window and breaker windows (the
    /// percentage budget's retries per second are multiplied, so a window
    /// allows as many). For demos and tests that must not wait in real
    /// time; server hints stay as sent and meet the scaled cap. Fails if a
    /// duration becomes zero where zero is refused.
    pub fn scaled_down(&self, by: u32) -> Result<Self, PolicyError> {
        let by = by.max(1);
        let mut spec = self.spec.clone();
        spec.schedule = spec.schedule.map_durations(|d| d / by);
        spec.retry_after_cap /= by;
        spec.min_server_wait /= by;
        spec.rate_limit.default_wait /= by;
        spec.rate_limit.give_up_above = spec.rate_limit.give_up_above.map(|d| d / by);
        spec.deadline = spec.deadline.map(|d| d / by);
        spec.max_retry_time = spec.max_retry_time.map(|d| d / by);
        spec.attempt_timeout = spec.attempt_timeout.map(|d| d / by);
        spec.limits = spec.limits.scaled_down(by);
        Self::new(spec)
    }

    /// Used by presets, whose specs are checked by tests.
    pub(crate) fn trusted(spec: PolicySpec) -> Self {
        let bounds = (spec.schedule.base(), spec.schedule.cap());
        Self { spec, bounds }
    }

    /// The schedule's base and cap.
    pub(crate) fn schedule_bounds(&self) -> (Duration, Duration) {
        self.bounds
    }
}

impl TryFrom<PolicySpec> for Policy {
    type Error = PolicyError;

    fn try_from(spec: PolicySpec) -> Result<Self, Self::Error> {
        Self::new(spec)
    }
}

impl From<Policy> for PolicySpec {
    fn from(policy: Policy) -> Self {
        policy.spec
    }
}
