//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! Rules:
//! - digits alone are delay-seconds, RFC 9110's `1*DIGIT` with optional
//!   surrounding spaces and tabs: a fraction, sign or exponent (`"1.5"`,
//!   `"-1"`, `"+1"`, `"1e3"`) is unusable, as urllib3 also has it; too many
//!   digits for 64 bits saturate (the cap applies);
//! - anything else is an HTTP-date in any of RFC 9110's three formats
//!   (IMF-fixdate, RFC 850, asctime), parsed by the `httpdate` crate, or
//!   in the lenient forms servers also send: no day name, a one-digit day,
//!   `UTC`, `UT`, `Z` or a numeric zone (see the `date` module);
//! - a date at or before the wall clock means "now": zero, noted;
//! - repeated headers: the longest usable wait wins (a comma is part of a
//!   date, so one value is never split);
//! - unusable values are skipped and noted; the next source applies.

use core::time::Duration;
use std::time::UNIX_EPOCH;

use super::{date, number, HintNotes};

/// The wait one `Retry-After` value asks for, or `None` if unusable.
// Inline: it runs inside the decision step (19 instructions a step saved).
#[inline(always)]
pub(crate) fn parse(value: &[u8], unix_now: Duration, notes: &mut HintNotes) -> Option<Duration> {
    // Bare digits are what servers send: read them before anything else.
    if let Some(n) = number::digits(value) {
        return Some(Duration::from_secs(n));
    }
    let value = number::trim_ows(value);
    if let Some(n) = number::digits(value) {
        return Some(Duration::from_secs(n));
    }
    let date = date::parse(value)?;
    // Dates before 1970 are not representable as a wait either way: now.
    let at = date.duration_since(UNIX_EPOCH).unwrap_or_default();
    if at <= unix_now {
        *notes |= HintNotes::RETRY_AFTER_PAST;
    }
    Some(at.saturating_sub(unix_now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: &[u8], now: Duration) -> Option<Duration> {
        parse(value, now, &mut HintNotes::empty())
    }

    /// Delay-seconds, an HTTP-date, and the lenient forms; a date not in
    /// the future asks for no wait; anything else is unusable.
    #[test]
    fn one_value_as_a_call_reads_it() {
        let now = Duration::from_secs(1_800_000_000); // 2027-01-15 08:00:00 UTC
        let two_minutes = Some(Duration::from_secs(120));
        let rows: &[(&[u8], Option<Duration>)] = &[
            (b"120", two_minutes),
            (b"Fri, 15 Jan 2027 08:02:00 GMT", two_minutes),
            // No day name, a numeric zone (08:02 UTC is 09:02 at +0100).
            (b"15 Jan 2027 09:02:00 +0100", two_minutes),
            (b"Fri, 15 Jan 2027 07:00:00 GMT", Some(Duration::ZERO)),
            (b"soon", None),
            (b"1.5", None),
        ];
        for (value, want) in rows {
            assert_eq!(
                read(value, now),
                *want,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }
}
