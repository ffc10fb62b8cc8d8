//! What a call asks the caller to do next, and how a call ends.

use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use crate::outcome::NetworkError;

/// The next thing the caller must do for a call.
///
/// `Copy` and allocation-free: poll as often as you like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send the request; `attempt` counts sends from 1. Then observe the
    /// response or network error.
    Send {
        /// Which send this is, from 1.
        attempt: u32,
    },
    /// Wait this long, then poll again. Nothing is observed for a sleep: a
    /// poll whose clock has reached the end of it returns the next `Send`.
    Sleep(#[serde(with = "humantime_serde")] Duration),
    /// Refresh the access token, then observe an
    /// [`Outcome::Refresh`](crate::Outcome::Refresh).
    RefreshToken,
    /// Look up the record by the request's external id, then observe an
    /// [`Outcome::Search`](crate::Outcome::Search).
    SearchExisting,
    /// The call is over and the request's purpose is achieved.
    Done(Completion),
    /// The call is over and failed; the reason says why.
    GiveUp(Reason),
}

impl Action {
    /// Whether the call is over (`Done` or `GiveUp`).
    pub(crate) const fn is_final(&self) -> bool {
        matches!(self, Self::Done(_) | Self::GiveUp(_))
    }
}

/// How a call succeeded. The engine's [`Action::Done`] carries the status
/// of the successful response; a driver's `Run` (feature `blocking` or `tokio`) hands
/// back the response itself (`R`) and the id its lookup found (`Id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Completion<R = u16, Id = ()> {
    /// The server answered with a success status: this status, or this
    /// response.
    Success(R),
    /// A conflict's search found the record: it already exists, use it.
    Existing(Id),
    /// A conflict's search found the record and the policy says to update it
    /// with this request's data (the caller sends the update).
    Update(Id),
}

/// The engine's completion as events and scenario files write it:
/// `{"success": {"status": 200}}`, `"existing"`, `"update"`.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Completion", rename_all = "snake_case")]
enum Written {
    Success { status: u16 },
    Existing,
    Update,
}

impl Serialize for Completion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Success(status) => Written::Success { status },
            Self::Existing(()) => Written::Existing,
            Self::Update(()) => Written::Update,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Completion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Written::deserialize(d)? {
            Written::Success { status } => Self::Success(status),
            Written::Existing => Self::Existing(()),
            Written::Update => Self::Update(()),
        })
    }
}

/// Why a call gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The status is final under the policy (400, 403, 404, other client
    /// errors, and anything the policy does not retry): fix the request.
    NotRetryable {
        /// The status received.
        status: u16,
    },
    /// A second 401, or a failed token refresh: re-authentication required.
    ReauthRequired,
    /// A 409 that a search could not resolve: no external id to search by,
    /// the policy gives up on conflicts, or the re-sent create conflicted
    /// again without the record being found.
    ConflictUnresolved,
    /// The search for the existing record failed.
    SearchFailed,
    /// A network failure that retrying cannot fix (TLS, protocol, other).
    NetworkFatal {
        /// The failure.
        error: NetworkError,
    },
    /// The request may already have been applied and is not safe to repeat:
    /// not idempotent, and no idempotency key or external id.
    UnsafeToRetry {
        /// The failure.
        error: NetworkError,
    },
    /// Every allowed retry was used.
    RetriesExhausted {
        /// Retries made.
        retries: u32,
    },
    /// The next wait would end past the policy's total deadline.
    DeadlineExceeded,
    /// The failure arrived once the policy's `max_retry_time` had passed.
    RetryTimeExceeded,
    /// The shared retry budget cannot pay for another retry: the API is
    /// failing for many calls, and retrying would multiply its load.
    BudgetExhausted,
    /// The circuit breaker is open: calls to this API fail at once until it
    /// lets probes through.
    CircuitOpen {
        /// Time until the breaker lets a probe through.
        #[serde(with = "humantime_serde")]
        retry_after: Duration,
    },
    /// The server asked for a longer wait than the policy accepts.
    RetryAfterTooLong {
        /// The wait the server asked for.
        #[serde(with = "humantime_serde")]
        wait: Duration,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRetryable { status } => {
                write!(f, "HTTP {status} is not retried: fix the request")
            }
            Self::ReauthRequired => f.write_str("re-authentication required"),
            Self::ConflictUnresolved => f.write_str("conflict could not be resolved"),
            Self::SearchFailed => f.write_str("search for the existing record failed"),
            Self::NetworkFatal { error } => write!(f, "{error} is not retried"),
            Self::UnsafeToRetry { error } => write!(
                f,
                "{error} after the request may have been applied; not idempotent, so not repeated"
            ),
            Self::RetriesExhausted { retries } => write!(f, "retries exhausted after {retries}"),
            Self::DeadlineExceeded => f.write_str("the next wait would cross the deadline"),
            Self::RetryTimeExceeded => {
                f.write_str("the failure came after the policy's max retry time")
            }
            Self::BudgetExhausted => f.write_str("retry budget exhausted"),
            Self::CircuitOpen { retry_after } => write!(
                f,
                "circuit open (probes in {})",
                humantime::format_duration(*retry_after)
            ),
            Self::RetryAfterTooLong { wait } => write!(
                f,
                "server asked to wait {} (more than the policy accepts)",
                humantime::format_duration(*wait)
            ),
        }
    }
}

impl fmt::Display for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success(status) => write!(f, "success ({status})"),
            Self::Existing(()) => f.write_str("record already exists"),
            Self::Update(()) => f.write_str("record exists: update it"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Send { attempt } => write!(f, "send #{attempt}"),
            Self::Sleep(d) => write!(f, "sleep {}", humantime::format_duration(*d)),
            Self::RefreshToken => f.write_str("refresh token"),
            Self::SearchExisting => f.write_str("search existing"),
            Self::Done(c) => write!(f, "done: {c}"),
            Self::GiveUp(r) => write!(f, "give up: {r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Completion;
    use crate::outcome::Search;

    /// The engine's completions and search results keep the forms events
    /// and scenario files have always written.
    #[test]
    fn written_forms() {
        let completions = [
            (Completion::Success(200), r#"{"success":{"status":200}}"#),
            (Completion::Existing(()), r#""existing""#),
            (Completion::Update(()), r#""update""#),
        ];
        for (c, text) in completions {
            assert_eq!(serde_json::to_string(&c).unwrap(), text);
            assert_eq!(serde_json::from_str::<Completion>(text).unwrap(), c);
        }
        let searches = [
            (Search::Found(()), r#""found""#),
            (Search::NotFound, r#""not_found""#),
            (Search::Failed, r#""failed""#),
        ];
        for (s, text) in searches {
            assert_eq!(serde_json::to_string(&s).unwrap(), text);
            assert_eq!(serde_json::from_str::<Search>(text).unwrap(), s);
        }
        assert!(serde_json::from_str::<Search>(r#""lost""#).is_err());
    }
}
