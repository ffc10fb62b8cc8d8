//! What a server may answer, for proptest: any status, realistic and
//! hostile headers, network failures, slow answers, and refresh and search
//! results (the steps a call waiting for a response passes over, and the
//! ones a call waiting for a refresh or a search observes).

use core::time::Duration;

use proptest::prelude::*;

use crate::outcome::{NetworkError, Refresh, Search};
use crate::replay::Step;

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

/// Any step: mostly responses with up to three headers, then network
/// failures (each taking up to 200 s), token refresh and search results.
///
/// ```
/// use proptest::prelude::*;
/// use steadfast::Step;
///
/// let steps = prop::collection::vec(any::<Step>(), 0..=24);
/// # let _ = steps;
/// ```
impl Arbitrary for Step {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        let headers = prop::collection::vec((prop::sample::select(NAMES), header_value()), 0..4)
            .prop_map(|hs| hs.into_iter().map(|(n, v)| (n.to_owned(), v)).collect());
        let latency = (0u64..200_000).prop_map(ms);
        prop_oneof![
            6 => (status(), headers, latency.clone()).prop_map(|(status, headers, latency)| {
                Step::Response { status, headers, latency, at: None }
            }),
            2 => (network(), latency).prop_map(|(error, latency)| Step::Network {
                error,
                latency,
                at: None,
            }),
            1 => prop_oneof![Just(Refresh::Refreshed), Just(Refresh::Failed)].prop_map(Step::Refresh),
            1 => prop_oneof![
                Just(Search::Found(())),
                Just(Search::NotFound),
                Just(Search::Failed)
            ]
            .prop_map(Step::Search),
        ]
        .boxed()
    }
}
