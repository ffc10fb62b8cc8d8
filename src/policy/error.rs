//! Why a policy is rejected: one error per nonsense a spec can hold, each
//! naming its field.

use core::time::Duration;

use thiserror::Error;

/// Why a policy was rejected. Each message names the field.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `schedule.delays` is empty.
    #[error("schedule.delays is empty: an explicit schedule needs at least one delay")]
    EmptySchedule,
    /// A schedule's factor is below 1 or not a finite number.
    #[error("schedule.factor must be a finite number >= 1, got {factor}")]
    FactorBelowOne {
        /// The factor given.
        factor: f64,
    },
    /// An exponential schedule's cap is below its base.
    #[error("schedule.cap ({cap:?}) is below schedule.base ({base:?})")]
    CapBelowBase {
        /// The base given.
        base: Duration,
        /// The cap given.
        cap: Duration,
    },
    /// A staged schedule's stage length is zero.
    #[error("schedule.stage is zero")]
    ZeroStage,
    /// `retry_after_cap` is zero.
    #[error("retry_after_cap is zero: every server wait would become a zero-delay retry")]
    ZeroCap,
    /// `min_server_wait` is above `retry_after_cap`.
    #[error("min_server_wait ({min:?}) is above retry_after_cap ({cap:?})")]
    FloorAboveCap {
        /// The floor given.
        min: Duration,
        /// The cap given.
        cap: Duration,
    },
    /// `rate_limit.default_wait` is zero or above `retry_after_cap`.
    #[error("rate_limit.default_wait ({wait:?}) must be above zero and at most retry_after_cap ({cap:?})")]
    BadRateLimitDefault {
        /// The default wait given.
        wait: Duration,
        /// The cap given.
        cap: Duration,
    },
    /// 429 waits do not count as retries and nothing else bounds them.
    #[error(
        "rate_limit.counts_as_retry is false but deadline and max_retry_time are unset: 429s could keep a call forever"
    )]
    UnboundedRateLimitWaits,
    /// A per-status override names a status outside 100..=599.
    #[error("statuses: {status} is not an HTTP status (100..=599)")]
    InvalidStatus {
        /// The status given.
        status: u16,
    },
    /// A code rule for the empty code.
    #[error("codes: a rule for the empty code, which no response carries")]
    EmptyCode,
    /// An empty `code_header`.
    #[error("code_header is empty: name a header or leave it unset")]
    EmptyCodeHeader,
    /// Sends in flight would be forgotten at once.
    #[error("limits.stale_after must be above zero")]
    ZeroStaleAfter,
    /// A retry budget that can never allow a retry or count anything.
    #[error("limits.budget: {0}")]
    BadBudget(&'static str),
    /// A circuit breaker that could never open or never close.
    #[error("limits.breaker: {0}")]
    BadBreaker(&'static str),
    /// Pressure thresholds are not fractions with critical <= warning.
    #[error("pressure thresholds must satisfy 0 <= critical <= warning <= 1, got critical {critical}, warning {warning}")]
    BadPressure {
        /// The critical threshold given.
        critical: f64,
        /// The warning threshold given.
        warning: f64,
    },
}
