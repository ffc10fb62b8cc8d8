//! HTTP-dates: RFC 9110's three formats through `httpdate`, then the
//! lenient forms real servers send (and Python's `email.utils` accepts):
//!
//! ```text
//! [ day-name "," ] day month year hh:mm:ss zone
//! ```
//!
//! - `day-name` may be left out; when given it must be the right one
//!   (`httpdate` checks it);
//! - `day` is one or two digits;
//! - `zone` is `GMT`, `UT`, `UTC`, `Z` or a numeric `+hhmm` / `-hhmm`.
//!
//! Month and day names are spelled as RFC 9110 spells them (`Jan`, `Mon`).
//! The layer only rewrites the text into an IMF-fixdate and shifts the
//! result by the zone's offset: the calendar stays `httpdate`'s. A missing
//! day name is found by offering the seven to `httpdate`, which accepts
//! only the right one.

use core::time::Duration;
use std::time::SystemTime;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The instant an HTTP-date names, strict formats first.
pub(super) fn parse(value: &[u8]) -> Option<SystemTime> {
    let text = core::str::from_utf8(value).ok()?;
    httpdate::parse_http_date(text)
        .ok()
        .or_else(|| lenient(text.trim_matches([' ', '\t'])))
}

fn lenient(text: &str) -> Option<SystemTime> {
    let (day_name, rest) = match text.split_once(',') {
        Some((name, rest)) => (Some(DAY_NAMES.into_iter().find(|d| *d == name)?), rest),
        None => (None, text),
    };
    let mut fields = rest.split_ascii_whitespace();
    let (day, month, year, time, zone) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() {
        return None;
    }
    let day = match day.as_bytes() {
        [d] => [b'0', *d],
        [a, b] => [*a, *b],
        _ => return None,
    };
    let month = MONTHS.into_iter().find(|m| *m == month)?;
    // Digits and colons are `httpdate`'s to check; the lengths are ours, so
    // that the rewrite fills the IMF-fixdate exactly.
    let (year, time) = (
        <[u8; 4]>::try_from(year.as_bytes()).ok()?,
        <[u8; 8]>::try_from(time.as_bytes()).ok()?,
    );
    let (ahead, offset) = zone_offset(zone)?;
    let fixdate = |name: &str| {
        let mut text = *b"Ddd, DD Mmm YYYY hh:mm:ss GMT";
        text[..3].copy_from_slice(name.as_bytes());
        text[5..7].copy_from_slice(&day);
        text[8..11].copy_from_slice(month.as_bytes());
        text[12..16].copy_from_slice(&year);
        text[17..25].copy_from_slice(&time);
        text
    };
    // On the stack: a header reader allocates nothing, odd dates included.
    let parse = |name: &str| {
        let text = fixdate(name);
        httpdate::parse_http_date(core::str::from_utf8(&text).ok()?).ok()
    };
    let local = match day_name {
        Some(name) => parse(name)?,
        None => DAY_NAMES.into_iter().find_map(parse)?,
    };
    // Local time is UTC plus the offset: take it back off.
    if ahead {
        local.checked_sub(offset)
    } else {
        local.checked_add(offset)
    }
}

/// Whether the zone is ahead of UTC, and by how much.
fn zone_offset(zone: &str) -> Option<(bool, Duration)> {
    if matches!(zone, "GMT" | "UT" | "UTC" | "Z") {
        return Some((true, Duration::ZERO));
    }
    let (sign, digits) = zone.split_at_checked(1)?;
    let ahead = match sign {
        "+" => true,
        "-" => false,
        _ => return None,
    };
    let [h1, h2, m1, m2] = digits.as_bytes() else {
        return None;
    };
    let digit = |b: &u8| b.is_ascii_digit().then(|| u64::from(b - b'0'));
    let (hours, minutes) = (digit(h1)? * 10 + digit(h2)?, digit(m1)? * 10 + digit(m2)?);
    if minutes >= 60 {
        return None;
    }
    Some((ahead, Duration::from_secs(hours * 3600 + minutes * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// 2027-01-15 08:02:00 UTC, a Friday.
    const AT: u64 = 1_800_000_120;

    #[test]
    fn accepted_forms() {
        let rows: &[(&str, i64)] = &[
            // RFC 9110's three formats.
            ("Fri, 15 Jan 2027 08:02:00 GMT", 0),
            ("Friday, 15-Jan-27 08:02:00 GMT", 0),
            ("Fri Jan 15 08:02:00 2027", 0),
            // No day name.
            ("15 Jan 2027 08:02:00 GMT", 0),
            // Other names for UTC.
            ("Fri, 15 Jan 2027 08:02:00 UTC", 0),
            ("Fri, 15 Jan 2027 08:02:00 UT", 0),
            ("Fri, 15 Jan 2027 08:02:00 Z", 0),
            ("Fri, 15 Jan 2027 08:02:00 +0000", 0),
            ("Fri, 15 Jan 2027 08:02:00 -0000", 0),
            // Numeric zones: 09:32 at +01:30 is 08:02 UTC.
            ("Fri, 15 Jan 2027 09:32:00 +0130", 0),
            ("Fri, 15 Jan 2027 03:02:00 -0500", 0),
            ("Fri, 15 Jan 2027 18:02:00 +1000", 0),
            ("Fri, 15 Jan 2027 13:47:00 +0545", 0),
            ("15 Jan 2027 08:02:00 +0100", -3600),
            // Single-digit day, alone or padded by spaces.
            ("Tue, 5 Jan 2027 08:02:00 GMT", -10 * 86_400),
            ("5 Jan 2027 08:02:00 UTC", -10 * 86_400),
            ("Tue,  5 Jan 2027 08:02:00 GMT", -10 * 86_400),
            // Surrounding whitespace.
            ("  15 Jan 2027 08:02:00 GMT\t", 0),
        ];
        for &(text, shift) in rows {
            let want = UNIX_EPOCH + Duration::from_secs(AT.saturating_add_signed(shift));
            assert_eq!(parse(text.as_bytes()), Some(want), "{text}");
        }
    }

    #[test]
    fn rejected_forms() {
        for text in [
            "",
            "soon",
            // A wrong or misspelt day name.
            "Thu, 15 Jan 2027 08:02:00 GMT",
            "Fry, 15 Jan 2027 08:02:00 GMT",
            "Friday, 15 Jan 2027 08:02:00 GMT",
            // Month and day names as RFC 9110 spells them only.
            "Fri, 15 jan 2027 08:02:00 GMT",
            "15 JAN 2027 08:02:00 GMT",
            // Impossible dates and times.
            "30 Feb 2027 08:02:00 GMT",
            "15 Jan 2027 24:00:00 GMT",
            "15 Jan 2027 08:60:00 GMT",
            "0 Jan 2027 08:02:00 GMT",
            "123 Jan 2027 08:02:00 GMT",
            // Two-digit years, missing seconds, missing or unknown zones.
            "15 Jan 27 08:02:00 GMT",
            "15 Jan 2027 08:02 GMT",
            "15 Jan 2027 08:02:00",
            "15 Jan 2027 08:02:00 EST",
            "15 Jan 2027 08:02:00 +01:00",
            "15 Jan 2027 08:02:00 +0160",
            "15 Jan 2027 08:02:00 +01000",
            // Trailing words, numbers, non-UTF-8.
            "15 Jan 2027 08:02:00 GMT extra",
            "1.5",
            "-1",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text:?}");
        }
        assert_eq!(parse(b"15 Jan 2027 08:02:00 \xff"), None);
    }

    proptest::proptest! {
        /// Any instant from 1970 to 9999, written in the lenient form (no
        /// day name, maybe a one-digit day, a numeric zone) for any zone,
        /// reads back as that instant.
        #[test]
        fn a_lenient_date_names_its_instant(
            secs in 0u64..253_402_300_800,
            minutes in -1439i64..=1439,
            one_digit_day: bool,
        ) {
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            let offset = Duration::from_secs(minutes.unsigned_abs() * 60);
            let local = if minutes < 0 { at.checked_sub(offset) } else { at.checked_add(offset) };
            // At the ends of the range the local time may leave httpdate's.
            let Some(local) = local.filter(|l| {
                l.duration_since(UNIX_EPOCH).is_ok_and(|d| d.as_secs() < 253_402_300_800)
            }) else {
                return Ok(());
            };
            // "Sun, 06 Nov 1994 08:49:37 GMT" -> "6 Nov 1994 08:49:37 +0130"
            let fixdate = httpdate::fmt_http_date(local);
            let mut text = fixdate[5..25].to_owned();
            if one_digit_day && text.starts_with('0') {
                text.remove(0);
            }
            let sign = if minutes < 0 { '-' } else { '+' };
            let (h, m) = (minutes.unsigned_abs() / 60, minutes.unsigned_abs() % 60);
            let text = format!("{text} {sign}{h:02}{m:02}");
            proptest::prop_assert_eq!(parse(text.as_bytes()), Some(at), "{}", text);
        }
    }

    #[test]
    fn offsets_at_the_ends_of_time_do_not_panic() {
        let before = parse(b"1 Jan 1970 00:00:00 +2359").unwrap();
        assert!(before < UNIX_EPOCH);
        assert!(parse(b"31 Dec 9999 23:59:59 -2359").is_some());
    }
}
