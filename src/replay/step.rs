//! One scripted outcome, as code builds it and as a scenario file writes it.

use core::time::Duration;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::{Clock, NetworkError, Outcome, Refresh, Search};

/// One scripted outcome, owned. A response or network failure arrives
/// `latency` after its send, or, when `at` is set, at that time since the
/// call started (a recorded incident's clock reading; never earlier than
/// the send).
///
/// In a scenario file a step is flat, with exactly one of `status` (and
/// `headers`), `network`, `refresh` or `search`, and optionally `after`
/// (the latency) or `at`:
///
/// ```
/// # use std::time::Duration;
/// # use steadfast::Step;
/// let step: Step = serde_json::from_str(
///     r#"{ "status": 503, "headers": { "Retry-After": "20" }, "after": "250ms" }"#,
/// )?;
/// assert_eq!(
///     step,
///     Step::status(503).header("Retry-After", "20").after(Duration::from_millis(250))
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// Header values are written as text: bytes that are not UTF-8 are written
/// replaced, and a repeated header name keeps its last value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FlatStep", into = "FlatStep")]
pub enum Step {
    /// A response arriving `latency` after the send.
    Response {
        /// The status code.
        status: u16,
        /// The headers, values as raw bytes.
        headers: Vec<(String, Vec<u8>)>,
        /// How long the attempt took.
        latency: Duration,
        /// When it arrived, since the call started (overrides `latency`).
        at: Option<Duration>,
    },
    /// A network failure arriving `latency` after the send.
    Network {
        /// The failure.
        error: NetworkError,
        /// How long the attempt took.
        latency: Duration,
        /// When it arrived, since the call started (overrides `latency`).
        at: Option<Duration>,
    },
    /// A token refresh result.
    Refresh(Refresh),
    /// A search result.
    Search(Search),
}

impl Step {
    /// An instant response with no headers.
    pub fn status(status: u16) -> Self {
        Self::Response {
            status,
            headers: Vec::new(),
            latency: Duration::ZERO,
            at: None,
        }
    }

    /// An instant network failure.
    pub fn network(error: NetworkError) -> Self {
        Self::Network {
            error,
            latency: Duration::ZERO,
            at: None,
        }
    }

    /// The same step with one more header (ignored on non-responses).
    #[must_use]
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        if let Self::Response { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.as_ref().to_vec()));
        }
        self
    }

    /// The same step taking `latency` (ignored on refresh and search).
    #[must_use]
    pub fn after(mut self, took: Duration) -> Self {
        if let Self::Response { latency, .. } | Self::Network { latency, .. } = &mut self {
            *latency = took;
        }
        self
    }

    /// The same step arriving at `t` since the call started.
    #[must_use]
    pub fn at(mut self, t: Duration) -> Self {
        if let Self::Response { at, .. } | Self::Network { at, .. } = &mut self {
            *at = Some(t);
        }
        self
    }

    /// The clock when this step's outcome arrives, sent at `sent`.
    pub(crate) fn arrival(&self, start: Clock, sent: Clock) -> Clock {
        match self {
            Self::Response { at: Some(t), .. } | Self::Network { at: Some(t), .. } => {
                let due = start.mono.saturating_add(*t);
                sent.advanced(due.saturating_sub(sent.mono))
            }
            Self::Response { latency, .. } | Self::Network { latency, .. } => {
                sent.advanced(*latency)
            }
            Self::Refresh(_) | Self::Search(_) => sent,
        }
    }

    pub(crate) fn outcome(&self) -> Outcome<'_> {
        match self {
            Self::Response {
                status, headers, ..
            } => Outcome::response(*status, headers),
            Self::Network { error, .. } => Outcome::Network(*error),
            Self::Refresh(r) => Outcome::Refresh(*r),
            Self::Search(s) => Outcome::Search(*s),
        }
    }
}

/// A step as a scenario file writes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network: Option<NetworkError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh: Option<Refresh>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    search: Option<Search>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    after: Option<Duration>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    at: Option<Duration>,
}

impl TryFrom<FlatStep> for Step {
    type Error = &'static str;

    fn try_from(f: FlatStep) -> Result<Self, Self::Error> {
        let step = match (f.status, f.network, f.refresh, f.search) {
            (Some(status), None, None, None) => f
                .headers
                .iter()
                .fold(Step::status(status), |s, (n, v)| s.header(n, v)),
            (None, Some(e), None, None) => Step::network(e),
            (None, None, Some(r), None) => Step::Refresh(r),
            (None, None, None, Some(s)) => Step::Search(s),
            _ => return Err("a step needs exactly one of status, network, refresh, search"),
        };
        let step = step.after(f.after.unwrap_or_default());
        Ok(match f.at {
            Some(t) => step.at(t),
            None => step,
        })
    }
}

impl From<Step> for FlatStep {
    fn from(step: Step) -> Self {
        let mut flat = FlatStep {
            status: None,
            headers: BTreeMap::new(),
            network: None,
            refresh: None,
            search: None,
            after: None,
            at: None,
        };
        match step {
            Step::Response {
                status,
                headers,
                latency,
                at,
            } => {
                flat.status = Some(status);
                flat.headers = headers
                    .into_iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
                    .collect();
                flat.after = (!latency.is_zero()).then_some(latency);
                flat.at = at;
            }
            Step::Network { error, latency, at } => {
                flat.network = Some(error);
                flat.after = (!latency.is_zero()).then_some(latency);
                flat.at = at;
            }
            Step::Refresh(r) => flat.refresh = Some(r),
            Step::Search(s) => flat.search = Some(s),
        }
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_their_file_form() {
        let steps = [
            Step::status(429)
                .header("Retry-After", "20")
                .header("X-Rate-Limit-Remaining", "0")
                .after(Duration::from_millis(250)),
            Step::status(200).at(Duration::from_secs(90)),
            Step::network(NetworkError::Timeout).after(Duration::from_secs(30)),
            Step::Refresh(Refresh::Failed),
            Step::Search(Search::NotFound),
        ];
        for step in steps {
            let text = serde_json::to_string(&step).unwrap();
            let back: Step = serde_json::from_str(&text).unwrap();
            assert_eq!(back, step, "{text}");
        }
    }

    #[test]
    fn a_step_of_no_kind_or_two_kinds_is_refused() {
        for text in [
            r#"{}"#,
            r#"{ "status": 200, "refresh": "refreshed" }"#,
            r#"{ "network": "dns", "search": "found" }"#,
        ] {
            let err = serde_json::from_str::<Step>(text).unwrap_err().to_string();
            assert!(err.contains("exactly one of"), "{text}: {err}");
        }
    }
}
