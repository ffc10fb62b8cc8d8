//! Header parsing: `Retry-After` and the rate-limit dialects, read in one
//! pass into [`Hints`]. No allocation, no panic, whatever the bytes.
//!
//! The rules for odd values are written where they are applied:
//! [`number`] (the value grammar), [`retry_after`] and [`rate_limit`].
//! An unusable value is skipped, so the next source of a wait applies, and
//! noted in [`HintNotes`], so the event says why.

pub mod number;
pub mod rate_limit;
pub mod retry_after;

use core::time::Duration;

use bitflags::bitflags;
use serde::{Deserialize, Serialize};

use crate::outcome::Headers;
use crate::policy::PressureThresholds;
use rate_limit::{Acc, ResetUnit};
pub use rate_limit::{Pressure, RateLimit};

bitflags! {
    /// What was odd about a response's hints. Serialized as `"A | B"`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct HintNotes: u16 {
        /// A `Retry-After` value was unusable and skipped.
        const RETRY_AFTER_INVALID = 1;
        /// `Retry-After` was an HTTP-date in the past: read as zero.
        const RETRY_AFTER_PAST = 1 << 1;
        /// `Retry-After` came more than once: the longest usable wait won.
        const RETRY_AFTER_REPEATED = 1 << 2;
        /// A rate-limit reset value was unusable and skipped.
        const RESET_INVALID = 1 << 3;
        /// A rate-limit reset was in the past: read as zero.
        const RESET_PAST = 1 << 4;
        /// A rate-limit reset could not be in the dialect's unit and was read
        /// in the other (see [`rate_limit`]).
        const RESET_UNIT_GUESSED = 1 << 5;
        /// A rate-limit limit or remaining value was unusable and skipped.
        const RATE_LIMIT_INVALID = 1 << 6;
        /// The server's wait was above the policy's cap and was cut to it.
        const CAPPED = 1 << 7;
        /// The server's wait was below the policy's floor and was raised to it.
        const RAISED_TO_FLOOR = 1 << 8;
        /// The server's `Retry-After` was not used at this step (the
        /// schedule ignores it here, as the Genesys SDKs do past five retries).
        const RETRY_AFTER_IGNORED = 1 << 9;
    }
}

/// What one response's headers say about when to try again.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hints {
    /// The usable `Retry-After` wait, before the policy's cap and floor.
    pub retry_after: Option<Duration>,
    /// The rate-limit reading, if any rate-limit header was present.
    pub rate_limit: Option<RateLimit>,
    /// What was odd.
    pub notes: HintNotes,
}

#[derive(Clone, Copy)]
enum Field {
    RetryAfter,
    Limit,
    Remaining,
    Reset(ResetUnit),
    Structured,
    Policy,
    IninCount,
    IninAllowed,
}

const FIELDS: &[(&[u8], Field)] = &[
    (b"retry-after", Field::RetryAfter),
    (b"x-rate-limit-limit", Field::Limit),
    (b"x-rate-limit-remaining", Field::Remaining),
    (b"x-rate-limit-reset", Field::Reset(ResetUnit::Epoch)),
    (b"x-ratelimit-limit", Field::Limit),
    (b"x-ratelimit-remaining", Field::Remaining),
    (b"x-ratelimit-reset", Field::Reset(ResetUnit::Epoch)),
    (b"ratelimit", Field::Structured),
    (b"ratelimit-policy", Field::Policy),
    (b"ratelimit-limit", Field::Limit),
    (b"ratelimit-remaining", Field::Remaining),
    (b"ratelimit-reset", Field::Reset(ResetUnit::Delta)),
    (b"inin-ratelimit-count", Field::IninCount),
    (b"inin-ratelimit-allowed", Field::IninAllowed),
    (b"inin-ratelimit-reset", Field::Reset(ResetUnit::Delta)),
];

fn field(name: &[u8]) -> Option<Field> {
    // Every known name starts with r, x or i: most headers of a response
    // (content-type, date, server...) are turned away on their first byte.
    if !matches!(
        name.first().map(u8::to_ascii_lowercase),
        Some(b'r' | b'x' | b'i')
    ) {
        return None;
    }
    FIELDS
        .iter()
        .find(|(known, _)| eq_lowercase(name, known))
        .map(|&(_, f)| f)
}

/// `name == known` ignoring ASCII case, for a `known` already in lowercase:
/// one comparison per byte instead of lowering both sides.
fn eq_lowercase(name: &[u8], known: &[u8]) -> bool {
    name.len() == known.len()
        && name
            .iter()
            .zip(known)
            .all(|(&a, &k)| a == k || (k.is_ascii_lowercase() && a ^ 0x20 == k))
}

/// Reads every hint in `headers`, with `unix_now` the wall clock (for dates
/// and epoch resets) and `thresholds` for the pressure.
pub fn read(headers: &dyn Headers, unix_now: Duration, thresholds: &PressureThresholds) -> Hints {
    let mut notes = HintNotes::empty();
    let mut retry_after: Option<Duration> = None;
    let mut retry_after_seen = 0u32;
    let mut acc = Acc::default();
    headers.for_each_header(&mut |name, value| {
        let Some(f) = field(name) else { return };
        match f {
            Field::RetryAfter => {
                retry_after_seen = retry_after_seen.saturating_add(1);
                match retry_after::parse(value, unix_now, &mut notes) {
                    Some(w) => retry_after = Some(retry_after.map_or(w, |o| o.max(w))),
                    None => notes |= HintNotes::RETRY_AFTER_INVALID,
                }
            }
            Field::Limit => acc.limit(value, &mut notes),
            Field::Remaining => acc.remaining(value, &mut notes),
            Field::Reset(unit) => acc.reset(value, unit, unix_now, &mut notes),
            Field::Structured => acc.structured(value, unix_now, &mut notes),
            Field::Policy => acc.policy(value, &mut notes),
            Field::IninCount => acc.inin_count(value, &mut notes),
            Field::IninAllowed => acc.inin_allowed(value, &mut notes),
        }
    });
    if retry_after_seen > 1 {
        notes |= HintNotes::RETRY_AFTER_REPEATED;
    }
    Hints {
        retry_after,
        rate_limit: acc.finish(thresholds),
        notes,
    }
}
