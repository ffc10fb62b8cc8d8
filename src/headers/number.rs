//! The value grammar shared by every numeric header.
//!
//! Rules, applied to every numeric value the crate reads:
//! - surrounding spaces and tabs (HTTP's OWS) are ignored; any other
//!   whitespace makes the value unusable;
//! - digits only, leading zeros allowed: `"007"` is 7;
//! - no sign: `"-1"` and `"+1"` are unusable (the grammar has none, and a
//!   sign means the server is broken);
//! - a decimal fraction is accepted where a rate-limit dialect's duration
//!   is meant (`"1.5"` is 1.5 s, digits past nanoseconds are dropped), not
//!   where a count is, and not in `Retry-After` (RFC 9110: digits only);
//! - a number too large for 64 bits saturates: the policy's cap applies next;
//! - anything else (empty, letters, non-UTF-8 bytes) is unusable.

use core::time::Duration;

pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Reads ASCII digits, saturating; `None` if empty or not all digits.
pub(crate) fn digits(v: &[u8]) -> Option<u64> {
    // Nineteen digits always fit in a u64, so the usual short value needs no
    // overflow checks (this runs inside the decision step); only the rest
    // saturates.
    let (head, tail) = v.split_at(v.len().min(19));
    if head.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for &b in head {
        n = n * 10 + u64::from(digit(b)?);
    }
    for &b in tail {
        n = n.saturating_mul(10).saturating_add(u64::from(digit(b)?));
    }
    Some(n)
}

fn digit(b: u8) -> Option<u8> {
    let d = b.wrapping_sub(b'0');
    (d <= 9).then_some(d)
}

/// A count: digits only.
pub(crate) fn count(v: &[u8]) -> Option<u64> {
    digits(trim_ows(v))
}

/// A non-negative number of seconds, possibly fractional. One pass over
/// the bytes: this runs on every `Retry-After`, inside the decision step.
pub(crate) fn seconds(v: &[u8]) -> Option<Duration> {
    seconds_trimmed(trim_ows(v))
}

/// [`seconds`] of a value already stripped of OWS.
pub(crate) fn seconds_trimmed(v: &[u8]) -> Option<Duration> {
    // Plain digits are the common case: one tight loop.
    if let Some(n) = digits(v) {
        return Some(Duration::from_secs(n));
    }
    let mut secs = 0u64;
    let mut nanos = 0u32;
    // Digits seen before the dot, and after it (None: no dot yet).
    let mut whole_digits = 0usize;
    let mut frac_digits: Option<usize> = None;
    for &b in v {
        match (b, frac_digits.as_mut()) {
            (b'0'..=b'9', None) => {
                secs = secs.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                whole_digits += 1;
            }
            (b'0'..=b'9', Some(n)) => {
                if *n < 9 {
                    nanos = nanos * 10 + u32::from(b - b'0');
                }
                *n += 1;
            }
            (b'.', None) => frac_digits = Some(0),
            _ => return None,
        }
    }
    match frac_digits {
        _ if whole_digits == 0 => None,
        Some(0) => None,
        Some(n) => {
            // Pad to exactly nine digits of nanoseconds.
            let scale = 10u32.pow(9 - n.min(9) as u32);
            Some(
                Duration::new(secs, 0)
                    .saturating_add(Duration::from_nanos(u64::from(nanos * scale))),
            )
        }
        None => Some(Duration::from_secs(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_table() {
        let ms = Duration::from_millis;
        let cases: &[(&[u8], Option<Duration>)] = &[
            (b"120", Some(ms(120_000))),
            (b"  120\t", Some(ms(120_000))),
            (b"007", Some(ms(7_000))),
            (b"0", Some(Duration::ZERO)),
            (b"1.5", Some(ms(1_500))),
            (b"0.0000000019", Some(Duration::from_nanos(1))),
            (b"-1", None),
            (b"+1", None),
            (b"1.", None),
            (b".5", None),
            (b"1e3", None),
            (b"", None),
            (b"   ", None),
            (b"12 0", None),
            (b"\n12", None),
            (b"abc", None),
            (b"\xff\xfe", None),
            (
                b"99999999999999999999999999",
                Some(Duration::from_secs(u64::MAX)),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                seconds(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn count_table() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"100", Some(100)),
            (b" 0 ", Some(0)),
            (b"1.5", None),
            (b"-1", None),
            (b"+1", None),
            (b"", None),
            (b"99999999999999999999999", Some(u64::MAX)),
            // Around the 19 digits read without overflow checks.
            (b"9999999999999999999", Some(9_999_999_999_999_999_999)),
            (b"10000000000000000000", Some(10_000_000_000_000_000_000)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", Some(u64::MAX)),
            (b"1844674407370955161x", None),
            (b"18446744073709551615x", None),
        ];
        for (input, want) in cases {
            assert_eq!(count(input), *want, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
