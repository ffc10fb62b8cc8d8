//! Event records: one per observed outcome, saying what was seen and what
//! was decided, and why. `Copy`, allocation-free and serde-serializable.
//!
//! An event holds numbers and enums only, never a header value, so no
//! `Authorization`, cookie or token can leak through one.

use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::headers::{HintNotes, RateLimit};
use crate::outcome::{NetworkError, Outcome, Refresh, Search};

/// One decision of a call.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The send this event follows, from 1.
    pub attempt: u32,
    /// Time since the call started, on the monotonic clock.
    #[serde(with = "humantime_serde")]
    pub elapsed: Duration,
    /// What was observed.
    pub observed: Observed,
    /// The response's rate-limit reading, if it carried one.
    pub rate_limit: Option<RateLimit>,
    /// The action decided, as a poll at the same clock returns it.
    pub action: Action,
    /// Where the action (a wait, above all) came from.
    pub basis: Basis,
    /// What was odd about the response's hints.
    pub notes: HintNotes,
}

/// What an event observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// An HTTP response with this status.
    Status(u16),
    /// A network failure.
    Network(NetworkError),
    /// A token refresh result.
    Refresh(Refresh),
    /// A search result.
    Search(Search),
    /// Nothing: a decision taken before a send (pacing, an open circuit).
    Nothing,
}

/// Where a decision came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The decision table's rule for what was observed (every final action,
    /// a token refresh, a search).
    Rule,
    /// Re-send at once: after a token refresh, or a search that found nothing.
    Immediate,
    /// The server's `Retry-After`.
    RetryAfter,
    /// The rate-limit reset header.
    RateLimitReset,
    /// The policy's default wait for a 429 that said nothing usable.
    RateLimitDefault,
    /// Cross-call limits: rate-limit pacing, the retry budget, the circuit
    /// breaker.
    Limits,
    /// The backoff schedule at this step (from 0; a 504 looks one ahead).
    Backoff {
        /// The schedule step used.
        step: u32,
    },
}

impl Observed {
    /// What `outcome` is, as an event records it.
    pub(crate) fn of(outcome: &Outcome<'_>) -> Self {
        match *outcome {
            Outcome::Response { status, .. } => Self::Status(status),
            Outcome::Network(e) => Self::Network(e),
            Outcome::Refresh(r) => Self::Refresh(r),
            Outcome::Search(s) => Self::Search(s),
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "HTTP {s}"),
            Self::Network(e) => write!(f, "{e}"),
            Self::Refresh(Refresh::Refreshed) => f.write_str("token refreshed"),
            Self::Refresh(Refresh::Failed) => f.write_str("token refresh failed"),
            Self::Search(Search::Found(())) => f.write_str("search: found"),
            Self::Search(Search::NotFound) => f.write_str("search: not found"),
            Self::Search(Search::Failed) => f.write_str("search failed"),
            Self::Nothing => f.write_str("(before send)"),
        }
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rule => f.write_str("rule"),
            Self::Immediate => f.write_str("at once"),
            Self::RetryAfter => f.write_str("Retry-After"),
            Self::RateLimitReset => f.write_str("rate-limit reset"),
            Self::RateLimitDefault => f.write_str("429 default"),
            Self::Limits => f.write_str("limits"),
            Self::Backoff { step } => write!(f, "backoff step {}", u64::from(*step) + 1),
        }
    }
}

/// One aligned line: attempt, elapsed, observed, action, basis, then the
/// rate-limit reading and notes when there are any.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let elapsed = humantime::format_duration(self.elapsed).to_string();
        let observed = self.observed.to_string();
        let action = self.action.to_string();
        write!(
            f,
            "#{:<3} +{:<10} {:<22} -> {:<30} [{}]",
            self.attempt, elapsed, observed, action, self.basis
        )?;
        if let Some(rl) = &self.rate_limit {
            f.write_str(" rate-limit")?;
            if let Some(r) = rl.remaining {
                write!(f, " {r}")?;
                if let Some(l) = rl.limit {
                    write!(f, "/{l}")?;
                }
                f.write_str(" left")?;
            }
            if let Some(p) = rl.pressure {
                write!(f, " {p:?}")?;
            }
            if let Some(reset) = rl.reset {
                write!(f, " reset in {}", humantime::format_duration(reset))?;
            }
        }
        if !self.notes.is_empty() {
            f.write_str(" notes:")?;
            for (name, _) in self.notes.iter_names() {
                write!(f, " {name}")?;
            }
        }
        Ok(())
    }
}
