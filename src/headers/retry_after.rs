//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
//!
//! Rules:
//! - a value starting with a digit is delay-seconds, read by the shared
//!   number grammar (`"1.5"` is 1.5 s; `"-1"`, `"+1"` are unusable);
//! - anything else is an HTTP-date in any of RFC 9110's three formats
//!   (IMF-fixdate, RFC 850, asctime), parsed by the `httpdate` crate;
//! - a date at or before the wall clock means "now": zero, noted;
//! - repeated headers: the longest usable wait wins (a comma is part of a
//!   date, so one value is never split);
//! - unusable values are skipped and noted; the next source applies.

use core::time::Duration;
use std::time::UNIX_EPOCH;

use super::{number, HintNotes};

/// The wait one `Retry-After` value asks for, or `None` if unusable.
// Inline: it runs inside the decision step (19 instructions a step saved).
#[inline]
pub(crate) fn parse(value: &[u8], unix_now: Duration, notes: &mut HintNotes) -> Option<Duration> {
    // Bare digits are what servers send: read them before anything else.
    if let Some(n) = number::digits(value) {
        return Some(Duration::from_secs(n));
    }
    let value = number::trim_ows(value);
    if value.first().is_some_and(u8::is_ascii_digit) {
        return number::seconds_trimmed(value);
    }
    let date = httpdate::parse_http_date(core::str::from_utf8(value).ok()?).ok()?;
    // Dates before 1970 are not representable as a wait either way: now.
    let at = date.duration_since(UNIX_EPOCH).unwrap_or_default();
    if at <= unix_now {
        *notes |= HintNotes::RETRY_AFTER_PAST;
    }
    Some(at.saturating_sub(unix_now))
}
