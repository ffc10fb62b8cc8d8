//! Presets that reproduce well-known policies exactly.

use core::time::Duration;

use crate::policy::{OnConflict, Policy, PolicySpec, RateLimitRule, Rule, StatusRule};
use crate::schedule::{Jitter, Schedule};

impl Policy {
    /// The source guide's rules (DESIGN.md's table): 3 s, 9 s, 27 s, 300 s
    /// then give up (4 retries, 5 attempts); 401 refreshes once; 409 searches
    /// by external id; 429 waits `Retry-After`, else the reset header, else
    /// 60 s; 503 honours `Retry-After`; 504 backs off one step longer;
    /// server waits cut to 300 s and raised to at least 1 s; no jitter.
    pub fn seed_guide() -> Self {
        Self::trusted(PolicySpec::default())
    }

    /// The official Genesys Cloud Java/.NET SDKs' retry behaviour, with the
    /// SDK's `maxRetryTimeSec` set to 30 minutes (the SDK's own default of 0
    /// turns retrying off; change it with [`Policy::with_deadline`]).
    ///
    /// - only 429, 502, 503 and 504 are retried, and only while the call's
    ///   elapsed time stays under the max retry time (the deadline); the
    ///   retry count is not limited;
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
            deadline: Some(Duration::from_secs(30 * 60)),
            attempt_timeout: None,
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
            statuses: rules
                .map(|(status, rule)| StatusRule { status, rule })
                .to_vec(),
            other_server_errors: Rule::GiveUp,
            pressure: Default::default(),
            limits: Default::default(),
        })
    }
}
