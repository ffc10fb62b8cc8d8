//! What a response's headers said, as a call's [`Event`](crate::Event)
//! records it: the rate-limit reading ([`RateLimit`], its [`Pressure`]
//! judged by [`PressureThresholds`]) and what was odd ([`HintNotes`]). A
//! call reads `Retry-After` and the rate-limit dialects in one pass over
//! the headers of every response it observes: no allocation, no panic,
//! whatever the bytes.
//!
//! The rules for odd values are written where they are applied, in this
//! module's source: the value grammar (`number.rs`), `Retry-After`
//! (`retry_after.rs`) and the rate-limit dialects (`rate_limit.rs`). An
//! unusable value is skipped, so the next source of a wait applies, and
//! noted in [`HintNotes`], so the event says why.

mod date;
mod number;
mod rate_limit;
mod retry_after;

use core::time::Duration;

use bitflags::bitflags;
use serde::{Deserialize, Serialize};

use crate::outcome::Headers;
use rate_limit::{Acc, ResetUnit};
pub use rate_limit::{Pressure, PressureThresholds, RateLimit};

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    RetryAfter,
    RateLimit(Dialect),
}

/// Which rate-limit value a header carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Limit,
    Remaining,
    Reset(ResetUnit),
    Structured,
    Policy,
    IninCount,
    IninAllowed,
}

/// A known header name as three little-endian words — its first eight
/// bytes, its bytes 8..16 and its last eight (the words overlap: every name
/// is 9 to 22 bytes, so no tail is read byte by byte) — and per word the
/// bits that a case-insensitive comparison ignores (0x20 on every letter).
struct Known {
    len: usize,
    words: [u64; 3],
    case: [u64; 3],
    field: Field,
}

const fn known(name: &[u8], field: Field) -> Known {
    let last = name.len() - 8;
    // The middle word matters only past 16 bytes; shorter names repeat the
    // last word there, as `field` does.
    let starts = [0, if last < 8 { last } else { 8 }, last];
    let mut words = [0u64; 3];
    let mut case = [0u64; 3];
    let mut w = 0;
    while w < 3 {
        let mut i = 0;
        while i < 8 {
            let b = name[starts[w] + i];
            words[w] |= (b as u64) << (i * 8);
            if b.is_ascii_lowercase() {
                case[w] |= 0x20 << (i * 8);
            }
            i += 1;
        }
        w += 1;
    }
    Known {
        len: name.len(),
        words,
        case,
        field,
    }
}

/// A rate-limit dialect's name.
const fn rate(name: &[u8], dialect: Dialect) -> Known {
    known(name, Field::RateLimit(dialect))
}

const FIELDS: [Known; 15] = [
    known(b"retry-after", Field::RetryAfter),
    rate(b"x-rate-limit-limit", Dialect::Limit),
    rate(b"x-rate-limit-remaining", Dialect::Remaining),
    rate(b"x-rate-limit-reset", Dialect::Reset(ResetUnit::Epoch)),
    rate(b"x-ratelimit-limit", Dialect::Limit),
    rate(b"x-ratelimit-remaining", Dialect::Remaining),
    rate(b"x-ratelimit-reset", Dialect::Reset(ResetUnit::Epoch)),
    rate(b"ratelimit", Dialect::Structured),
    rate(b"ratelimit-policy", Dialect::Policy),
    rate(b"ratelimit-limit", Dialect::Limit),
    rate(b"ratelimit-remaining", Dialect::Remaining),
    rate(b"ratelimit-reset", Dialect::Reset(ResetUnit::Delta)),
    rate(b"inin-ratelimit-count", Dialect::IninCount),
    rate(b"inin-ratelimit-allowed", Dialect::IninAllowed),
    rate(b"inin-ratelimit-reset", Dialect::Reset(ResetUnit::Delta)),
];

/// The field a header name stands for, case-insensitively. It runs on every
/// header of every response, so it compares eight bytes at a time: a byte
/// matches a lowercase letter exactly or as its uppercase twin, and anything
/// else exactly.
fn field(name: &[u8]) -> Option<Field> {
    // Every known name is 9 to 22 bytes and starts with r, x or i: most
    // headers (content-type, date, server...) are turned away here.
    if !(9..=22).contains(&name.len()) || !matches!(name[0] | 0x20, b'r' | b'x' | b'i') {
        return None;
    }
    let len = name.len();
    let words = [
        word(name, 0),
        word(name, 8.min(len - 8)),
        word(name, len - 8),
    ];
    FIELDS
        .iter()
        .find(|k| {
            k.len == len
                && words[0] | k.case[0] == k.words[0]
                && words[2] | k.case[2] == k.words[2]
                // Names of up to 16 bytes are covered by the first and last
                // words alone.
                && (len <= 16 || words[1] | k.case[1] == k.words[1])
        })
        .map(|k| k.field)
}

/// Eight bytes of `name` from `at` as one word: a fixed-size load, no memcpy.
fn word(name: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    if let Some(chunk) = name.get(at..at + 8) {
        bytes.copy_from_slice(chunk);
    }
    u64::from_le_bytes(bytes)
}

/// Reads every hint in `headers` as a call does, with `unix_now` the wall
/// clock (for dates and epoch resets) and `thresholds` for the pressure.
/// The rate-limit reading is written where the caller keeps it (a call's
/// event) instead of copied there; the `Retry-After` wait and the notes
/// come back.
pub(crate) fn read_into(
    headers: &dyn Headers,
    unix_now: Duration,
    thresholds: &PressureThresholds,
    rate_limit: &mut Option<RateLimit>,
) -> (Option<Duration>, HintNotes) {
    let mut reader = Reader::new(unix_now);
    headers.for_each_header(&mut |name, value| {
        if let Some(f) = field(name) {
            reader.apply(f, value);
        }
    });
    reader.finish(thresholds, rate_limit)
}

/// Hints accumulated value by value.
struct Reader {
    unix_now: Duration,
    notes: HintNotes,
    retry_after: Option<Duration>,
    retry_after_seen: bool,
    acc: Option<Acc>,
}

impl Reader {
    fn new(unix_now: Duration) -> Self {
        Self {
            unix_now,
            notes: HintNotes::empty(),
            retry_after: None,
            retry_after_seen: false,
            acc: None,
        }
    }

    fn apply(&mut self, f: Field, value: &[u8]) {
        let Field::RateLimit(dialect) = f else {
            if self.retry_after_seen {
                self.notes |= HintNotes::RETRY_AFTER_REPEATED;
            }
            self.retry_after_seen = true;
            match retry_after::parse(value, self.unix_now, &mut self.notes) {
                Some(w) => self.retry_after = Some(self.retry_after.map_or(w, |o| o.max(w))),
                None => self.notes |= HintNotes::RETRY_AFTER_INVALID,
            }
            return;
        };
        self.rate_limit(dialect, value);
    }

    // Out of line: the closure that runs on every header then saves fewer
    // registers for the headers most responses carry (`Retry-After`, and
    // the many that no rule reads).
    #[inline(never)]
    fn rate_limit(&mut self, dialect: Dialect, value: &[u8]) {
        let notes = &mut self.notes;
        let acc = self.acc.get_or_insert_with(Acc::default);
        match dialect {
            Dialect::Limit => acc.limit(value, notes),
            Dialect::Remaining => acc.remaining(value, notes),
            Dialect::Reset(unit) => acc.reset(value, unit, self.unix_now, notes),
            Dialect::Structured => acc.structured(value, self.unix_now, notes),
            Dialect::Policy => acc.policy(value, notes),
            Dialect::IninCount => acc.inin_count(value, notes),
            Dialect::IninAllowed => acc.inin_allowed(value, notes),
        }
    }

    fn finish(
        self,
        thresholds: &PressureThresholds,
        rate_limit: &mut Option<RateLimit>,
    ) -> (Option<Duration>, HintNotes) {
        // Spelled out: `and_then` wrote every field of the reading even
        // when there was none.
        match self.acc {
            Some(acc) => *rate_limit = acc.finish(thresholds),
            None => *rate_limit = None,
        }
        (self.retry_after, self.notes)
    }
}

#[cfg(test)]
mod tests;
