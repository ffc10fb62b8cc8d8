//! proptest strategies for what a server may answer: any status, realistic
//! and hostile headers, network failures, slow answers, misfits and clocks
//! that jump back.

use core::time::Duration;

use proptest::prelude::*;

use super::Answer;
use crate::outcome::{NetworkError, Refresh, Search};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The header names the parser reads, the error-code header the random
/// policies name, and one that must never leak.
pub(super) const NAMES: &[&str] = &[
    "Retry-After",
    "retry-after",
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Reset",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Reset",
    "inin-ratelimit-count",
    "inin-ratelimit-allowed",
    "inin-ratelimit-reset",
    "X-Error-Code",
    "Authorization",
];

/// Realistic, odd and random header values.
pub(super) fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // An exhausted window, often: it is what pacing reacts to.
        Just(b"0".to_vec()),
        (0u64..400).prop_map(|n| n.to_string().into_bytes()),
        (1_799_999_000u64..1_800_004_000).prop_map(|n| n.to_string().into_bytes()),
        Just(b"Fri, 15 Jan 2027 08:02:00 GMT".to_vec()),
        Just(b"Thu, 01 Jan 1970 00:00:00 GMT".to_vec()),
        Just(b"\"default\";r=0;t=30".to_vec()),
        Just(b"limit=10, remaining=0, reset=5".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"99999999999999999999999".to_vec()),
        Just(b"1.5".to_vec()),
        Just(b"15 Jan 2027 09:02:00 +0100".to_vec()),
        prop::sample::select(&["Throttling", "Busy:detail", "Gone"][..])
            .prop_map(|c| c.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

/// The statuses of the decision table, weighted, and any `u16`.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![
            200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504
        ]),
        any::<u16>(),
    ]
}

/// Any network failure.
pub(super) fn network() -> impl Strategy<Value = NetworkError> {
    prop::sample::select(vec![
        NetworkError::ConnectionRefused,
        NetworkError::Dns,
        NetworkError::ConnectTimeout,
        NetworkError::Timeout,
        NetworkError::ConnectionReset,
        NetworkError::Tls,
        NetworkError::Protocol,
        NetworkError::Other,
    ])
}

prop_compose! {
    /// One answer: any status, up to three headers, sometimes a network
    /// failure, a misfit or a clock that jumps back.
    fn answer()(
        status in status(),
        headers in prop::collection::vec((prop::sample::select(NAMES), header_value()), 0..4),
        network in prop::option::weighted(0.2, network()),
        refresh in prop_oneof![Just(Refresh::Refreshed), Just(Refresh::Failed)],
        search in prop_oneof![Just(Search::Found(())), Just(Search::NotFound), Just(Search::Failed)],
        latency in 0u64..200_000,
        back in prop_oneof![4 => Just(0u64), 1 => 0u64..400_000],
        misfit in prop::bool::weighted(0.05),
    ) -> Answer {
        Answer {
            status,
            headers: headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            network,
            refresh,
            search,
            latency: ms(latency),
            back: ms(back),
            misfit,
        }
    }
}

/// Up to `n` answers.
pub fn answers(n: usize) -> impl Strategy<Value = Vec<Answer>> {
    prop::collection::vec(answer(), 0..=n)
}
