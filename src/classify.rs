//! The decision table, in one place: what each status and each network
//! failure leads to before timing is considered.
//!
//! | observed | rule |
//! | --- | --- |
//! | 2xx | succeed |
//! | 401 | refresh the token once, re-send at once |
//! | 409 | search by external id |
//! | 429 | wait as the rate limit says |
//! | 500, 502 | back off |
//! | 503 | back off, honouring `Retry-After` (a throttle) |
//! | 504 | back off one step longer |
//! | 501, 505, 511 | give up: retrying cannot change them |
//! | other 5xx | `PolicySpec::other_server_errors` (default: back off) |
//! | 400, 403, 404, other 4xx, 1xx, 3xx, anything outside 100..=599 | give up |
//! | refused, DNS, connect timeout | back off: nothing was sent |
//! | timeout, reset | back off if the request may repeat, else give up |
//! | TLS, protocol, other | give up |
//!
//! A policy's [`statuses`](crate::PolicySpec::statuses) replace rows of the
//! table, and its [`codes`](crate::PolicySpec::codes) come before them for error
//! responses carrying an API error code.

use crate::outcome::{Headers, NetworkError, Request};
use crate::policy::{PolicySpec, Rule};

const BACKOFF: Rule = Rule::Backoff {
    retry_after: false,
    extra_steps: 0,
    throttle: false,
};

/// The rule for a response: its error code's rule when the policy lists
/// the code (given, or read from the policy's code header), else the
/// status's.
#[inline(always)]
pub fn response(spec: &PolicySpec, status: u16, code: Option<&str>, headers: &dyn Headers) -> Rule {
    if spec.codes.is_empty() || (200..=299).contains(&status) {
        return self::status(spec, status);
    }
    by_code(spec, status, code, headers)
}

// Out of line: most policies list no codes, and the step stays small.
#[inline(never)]
fn by_code(spec: &PolicySpec, status: u16, code: Option<&str>, headers: &dyn Headers) -> Rule {
    let code = match (code, spec.code_header.as_deref()) {
        (Some(code), _) => Some(code),
        (None, Some(name)) => header_code(headers, name.as_bytes()),
        (None, None) => None,
    };
    code.and_then(|c| spec.codes.get(c))
        .map_or_else(|| self::status(spec, status), |&rule| rule)
}

/// The code in header `name`: its first value, up to the first `:`,
/// trimmed; `None` when absent, empty or not UTF-8.
fn header_code<'h>(headers: &'h dyn Headers, name: &[u8]) -> Option<&'h str> {
    let mut found = None;
    headers.for_each_header(&mut |n, v| {
        if found.is_none() && n.eq_ignore_ascii_case(name) {
            found = Some(v);
        }
    });
    let value = core::str::from_utf8(found?).ok()?;
    let code = value.split(':').next()?.trim();
    (!code.is_empty()).then_some(code)
}

/// The rule for `status` under `spec`.
// Inline: out of line, the Rule is packed into a register and unpacked
// again on every response (23 of the decision step's instructions).
#[inline]
pub fn status(spec: &PolicySpec, status: u16) -> Rule {
    if !spec.statuses.is_empty() {
        if let Some(&rule) = spec.statuses.get(&status) {
            return rule;
        }
    }
    match status {
        200..=299 => Rule::Succeed,
        401 => Rule::RefreshToken,
        409 => Rule::SearchExisting,
        429 => Rule::RateLimited,
        500 | 502 => BACKOFF,
        503 => Rule::Backoff {
            retry_after: true,
            extra_steps: 0,
            throttle: true,
        },
        504 => Rule::Backoff {
            retry_after: false,
            extra_steps: 1,
            throttle: false,
        },
        501 | 505 | 511 => Rule::GiveUp,
        500..=599 => spec.other_server_errors,
        _ => Rule::GiveUp,
    }
}

/// What a network failure leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkVerdict {
    /// Back off and retry.
    Retry,
    /// Give up: the request may have been applied and may not repeat.
    Unsafe,
    /// Give up: retrying cannot fix it (or the policy retries no network
    /// failures).
    Fatal,
}

/// The verdict for `error` on `request` under `spec`.
pub fn network(spec: &PolicySpec, error: NetworkError, request: &Request) -> NetworkVerdict {
    if !spec.retry_network_errors {
        NetworkVerdict::Fatal
    } else if error.before_send() {
        NetworkVerdict::Retry
    } else if error.maybe_applied() {
        if request.may_repeat() {
            NetworkVerdict::Retry
        } else {
            NetworkVerdict::Unsafe
        }
    } else {
        NetworkVerdict::Fatal
    }
}
