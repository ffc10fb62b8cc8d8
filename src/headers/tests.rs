//! Header parsing, table-driven: every dialect and every odd value has a row.

use std::time::Duration;

use super::{field, read_into, HintNotes, PressureThresholds, RateLimit, FIELDS};

/// Everything one response's headers say, gathered for a row to compare.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Hints {
    retry_after: Option<Duration>,
    rate_limit: Option<RateLimit>,
    notes: HintNotes,
}

const NOW: Duration = Duration::from_secs(1_800_000_000);

fn hints(headers: &[(&str, &[u8])]) -> Hints {
    let mut rate_limit = None;
    let (retry_after, notes) = read_into(
        &headers.to_vec(),
        NOW,
        &PressureThresholds::default(),
        &mut rate_limit,
    );
    Hints {
        retry_after,
        rate_limit,
        notes,
    }
}

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

#[test]
fn retry_after_values() {
    let n = HintNotes::empty();
    let invalid = HintNotes::RETRY_AFTER_INVALID;
    let past = HintNotes::RETRY_AFTER_PAST;
    let rows: &[(&[u8], Option<Duration>, HintNotes)] = &[
        (b"120", secs(120), n),
        (b" 120 ", secs(120), n),
        (b"\t120", secs(120), n),
        (b"0", secs(0), n),
        (b"007", secs(7), n),
        // RFC 9110 delay-seconds is 1*DIGIT: no fraction, sign or exponent.
        (b"1.5", None, invalid),
        (b"1.0", None, invalid),
        (b" 0.5 ", None, invalid),
        (b"1.", None, invalid),
        (b"-1", None, invalid),
        (b"+1", None, invalid),
        (b"1e3", None, invalid),
        (b"", None, invalid),
        (b"soon", None, invalid),
        (b"\xff\xfe\xfd", None, invalid),
        (b"12\x00", None, invalid),
        (b"99999999999999999999999999999", secs(u64::MAX), n),
        // RFC 9110's three date formats, two minutes / 45 s ahead.
        (b"Fri, 15 Jan 2027 08:02:00 GMT", secs(120), n),
        (b"Friday, 15-Jan-27 08:00:45 GMT", secs(45), n),
        (b"Fri Jan 15 08:00:45 2027", secs(45), n),
        (b"  Fri, 15 Jan 2027 08:02:00 GMT  ", secs(120), n),
        // Lenient forms: no day name, a one-digit day, other names for
        // UTC, numeric zones (09:02 at +0100 is 08:02 UTC).
        (b"15 Jan 2027 08:02:00 GMT", secs(120), n),
        (b"Fri, 15 Jan 2027 08:02:00 UTC", secs(120), n),
        (b"15 Jan 2027 09:02:00 +0100", secs(120), n),
        (b"Fri, 15 Jan 2027 03:02:00 -0500", secs(120), n),
        (b"Sat, 2 Jan 2027 08:00:00 GMT", secs(0), past),
        // Past dates, and the exact present, mean now.
        (b"Fri, 15 Jan 2027 07:59:00 GMT", secs(0), past),
        (b"Fri, 15 Jan 2027 08:00:00 GMT", secs(0), past),
        (b"Thu, 01 Jan 1970 00:00:00 GMT", secs(0), past),
        // Not a date: wrong day name, garbage, lower-case month, a zone
        // name other than GMT/UT/UTC/Z, two-digit year outside RFC 850.
        (b"15 Jan 2027 08:02:00 EST", None, invalid),
        (b"15 Jan 27 08:02:00 GMT", None, invalid),
        (b"Mon, 15 Jan 2027 08:02:00 GMT", None, invalid),
        (b"Fri, 15 jan 2027 08:02:00 GMT", None, invalid),
        (b"Fri, 32 Jan 2027 08:02:00 GMT", None, invalid),
    ];
    for (value, want, notes) in rows {
        let got = hints(&[("Retry-After", value)]);
        let shown = String::from_utf8_lossy(value);
        assert_eq!(got.retry_after, *want, "Retry-After: {shown:?}");
        assert_eq!(got.notes, *notes, "Retry-After: {shown:?}");
    }
}

#[test]
fn retry_after_name_is_case_insensitive() {
    for name in ["retry-after", "RETRY-AFTER", "Retry-After", "rEtRy-AfTeR"] {
        assert_eq!(hints(&[(name, b"5")]).retry_after, secs(5), "{name}");
    }
    assert_eq!(hints(&[("Retry-After-X", b"5")]).retry_after, None);
    assert_eq!(hints(&[("X-Retry-After", b"5")]).retry_after, None);
}

#[test]
fn repeated_retry_after_takes_the_longest_usable_wait() {
    let got = hints(&[
        ("Retry-After", b"5"),
        ("retry-after", b"garbage"),
        ("Retry-After", b"30"),
        ("Retry-After", b"10"),
    ]);
    assert_eq!(got.retry_after, secs(30));
    assert_eq!(
        got.notes,
        HintNotes::RETRY_AFTER_REPEATED | HintNotes::RETRY_AFTER_INVALID
    );
}

/// (headers, limit, remaining, reset, notes)
type RateRow = (
    &'static [(&'static str, &'static [u8])],
    Option<u64>,
    Option<u64>,
    Option<Duration>,
    HintNotes,
);

#[test]
fn rate_limit_dialects() {
    let n = HintNotes::empty();
    let rows: &[RateRow] = &[
        // The guide's spelling: reset is a Unix epoch timestamp.
        (
            &[
                ("X-Rate-Limit-Limit", b"100"),
                ("X-Rate-Limit-Remaining", b"15"),
                ("X-Rate-Limit-Reset", b"1800000045"),
            ],
            Some(100),
            Some(15),
            secs(45),
            n,
        ),
        // GitHub / X spelling: epoch too.
        (
            &[
                ("x-ratelimit-limit", b"5000"),
                ("x-ratelimit-remaining", b"4999"),
                ("x-ratelimit-reset", b"1800003600"),
            ],
            Some(5000),
            Some(4999),
            secs(3600),
            n,
        ),
        // IETF draft, older separate fields: seconds until.
        (
            &[
                ("RateLimit-Limit", b"100"),
                ("RateLimit-Remaining", b"4"),
                ("RateLimit-Reset", b"30"),
            ],
            Some(100),
            Some(4),
            secs(30),
            n,
        ),
        // Older draft list form of the limit: the smallest quota counts.
        (
            &[("RateLimit-Limit", b"1000, 100;w=60, 5000;w=3600")],
            Some(100),
            None,
            None,
            n,
        ),
        // IETF draft <= 07 structured dictionary.
        (
            &[
                ("RateLimit", b"limit=100, remaining=50, reset=30"),
                ("RateLimit-Policy", b"100;w=60"),
            ],
            Some(100),
            Some(50),
            secs(30),
            n,
        ),
        // IETF draft >= 08 structured list with parameters.
        (
            &[
                ("RateLimit-Policy", b"\"default\";q=100;w=60"),
                ("RateLimit", b"\"default\";r=3;t=12"),
            ],
            Some(100),
            Some(3),
            secs(12),
            n,
        ),
        // Genesys Cloud: count used of allowed, reset in seconds.
        (
            &[
                ("inin-ratelimit-count", b"290"),
                ("inin-ratelimit-allowed", b"300"),
                ("inin-ratelimit-reset", b"17"),
            ],
            Some(300),
            Some(10),
            secs(17),
            n,
        ),
        // Count above allowed saturates at zero remaining.
        (
            &[
                ("inin-ratelimit-count", b"400"),
                ("inin-ratelimit-allowed", b"300"),
            ],
            Some(300),
            Some(0),
            None,
            n,
        ),
    ];
    check_rate_rows(rows);
}

#[test]
fn rate_limit_odd_values() {
    let invalid = HintNotes::RATE_LIMIT_INVALID;
    let reset_invalid = HintNotes::RESET_INVALID;
    let guessed = HintNotes::RESET_UNIT_GUESSED;
    let past = HintNotes::RESET_PAST;
    let rows: &[RateRow] = &[
        // Whitespace is fine; signs, fractions in counts and garbage are not.
        (
            &[("X-Rate-Limit-Remaining", b" 7 ")],
            None,
            Some(7),
            None,
            HintNotes::empty(),
        ),
        (
            &[("X-Rate-Limit-Remaining", b"-1")],
            None,
            None,
            None,
            invalid,
        ),
        (
            &[("X-Rate-Limit-Remaining", b"+1")],
            None,
            None,
            None,
            invalid,
        ),
        (
            &[("X-Rate-Limit-Remaining", b"1.5")],
            None,
            None,
            None,
            invalid,
        ),
        (
            &[("X-Rate-Limit-Limit", b"\xff")],
            None,
            None,
            None,
            invalid,
        ),
        (
            &[("X-Rate-Limit-Reset", b"-5")],
            None,
            None,
            None,
            reset_invalid,
        ),
        (
            &[("X-Rate-Limit-Reset", b"")],
            None,
            None,
            None,
            reset_invalid,
        ),
        (&[("RateLimit", b"garbage")], None, None, None, invalid),
        (
            &[("RateLimit-Policy", b"\"x\";w=60")],
            None,
            None,
            None,
            invalid,
        ),
        // An epoch reset that is obviously a delta (it would be 1970).
        (
            &[("X-Rate-Limit-Reset", b"30")],
            None,
            None,
            secs(30),
            guessed,
        ),
        // A delta reset that is obviously an epoch timestamp.
        (
            &[("RateLimit-Reset", b"1800000050")],
            None,
            None,
            secs(50),
            guessed,
        ),
        // Epoch milliseconds in either dialect.
        (
            &[("X-Rate-Limit-Reset", b"1800000010000")],
            None,
            None,
            secs(10),
            guessed,
        ),
        (
            &[("inin-ratelimit-reset", b"1800000010000")],
            None,
            None,
            secs(10),
            guessed,
        ),
        // A fractional reset (seconds until) is kept exactly.
        (
            &[("RateLimit-Reset", b"1.25")],
            None,
            None,
            Some(Duration::from_millis(1250)),
            HintNotes::empty(),
        ),
        // An epoch reset in the past means now.
        (
            &[("X-Rate-Limit-Reset", b"1799999000")],
            None,
            None,
            secs(0),
            past,
        ),
        // Huge values saturate rather than overflow.
        (
            &[
                ("X-Rate-Limit-Limit", b"99999999999999999999999"),
                ("RateLimit-Reset", b"99999999999999999999999"),
            ],
            Some(u64::MAX),
            None,
            Some((Duration::from_secs(u64::MAX) / 1000).saturating_sub(NOW)),
            guessed,
        ),
        // A structured field's limit, and values it or Genesys gives that
        // are no count: the rest of the reading stands.
        (
            &[("RateLimit", b"\"default\";q=100;r=3;t=12")],
            Some(100),
            Some(3),
            secs(12),
            HintNotes::empty(),
        ),
        (
            &[("RateLimit", b"\"default\";r=x;t=12")],
            None,
            None,
            secs(12),
            invalid,
        ),
        (
            &[("RateLimit", b"\"default\";q=-1;r=3")],
            None,
            Some(3),
            None,
            invalid,
        ),
        (
            &[
                ("inin-ratelimit-count", b"many"),
                ("inin-ratelimit-allowed", b"300"),
            ],
            Some(300),
            None,
            None,
            invalid,
        ),
        (
            &[
                ("inin-ratelimit-allowed", b"lots"),
                ("inin-ratelimit-reset", b"17"),
            ],
            None,
            None,
            secs(17),
            invalid,
        ),
        // Repeats and several dialects: the most cautious value wins.
        (
            &[
                ("X-Rate-Limit-Remaining", b"50"),
                ("X-Rate-Limit-Remaining", b"20"),
                ("RateLimit-Remaining", b"30"),
                ("X-Rate-Limit-Limit", b"100"),
                ("RateLimit-Limit", b"200"),
                ("RateLimit-Reset", b"10"),
                ("X-Rate-Limit-Reset", b"1800000040"),
            ],
            Some(100),
            Some(20),
            secs(40),
            HintNotes::empty(),
        ),
    ];
    check_rate_rows(rows);
}

fn check_rate_rows(rows: &[RateRow]) {
    for (headers, limit, remaining, reset, notes) in rows {
        let got = hints(headers);
        if (limit, remaining, reset) == (&None, &None, &None) {
            assert_eq!(got.rate_limit, None, "no usable value in {headers:?}");
        }
        let rl = got.rate_limit.unwrap_or_default();
        assert_eq!(rl.limit, *limit, "limit of {headers:?}");
        assert_eq!(rl.remaining, *remaining, "remaining of {headers:?}");
        assert_eq!(rl.reset, *reset, "reset of {headers:?}");
        assert_eq!(got.notes, *notes, "notes of {headers:?}");
    }
}

#[test]
fn unrelated_headers_give_no_hints() {
    let got = hints(&[
        ("Content-Type", b"application/json"),
        ("Authorization", b"Bearer secret"),
        ("X-Rate-Limit", b"100"),
    ]);
    assert_eq!(got, Hints::default());
}

const NAMES: [&str; 15] = [
    "retry-after",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "inin-ratelimit-count",
    "inin-ratelimit-allowed",
    "inin-ratelimit-reset",
];

/// Every name matches in any case, and any other byte at any position
/// (a letter's case twin aside) breaks the match: the overlapping words
/// leave no byte unchecked.
#[test]
fn names_match_case_insensitively_and_nothing_else_does() {
    for (name, known) in NAMES.iter().zip(&FIELDS) {
        let want = Some(known.field);
        assert!(field(name.as_bytes()) == want, "{name}");
        assert!(field(name.to_uppercase().as_bytes()) == want, "{name}");
        for i in 0..name.len() {
            for b in 0..=255u8 {
                let mut other = name.as_bytes().to_vec();
                if b.eq_ignore_ascii_case(&other[i]) {
                    continue;
                }
                other[i] = b;
                assert!(
                    field(&other) != want,
                    "{:?}",
                    String::from_utf8_lossy(&other)
                );
            }
        }
        let mut longer = name.as_bytes().to_vec();
        longer.push(b'x');
        assert!(field(&longer) != want, "{name}x");
        assert!(
            field(&name.as_bytes()[1..]) != want,
            "{name} without its first byte"
        );
    }
}
