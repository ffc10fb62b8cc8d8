//! The drivers' log records: one per decision, one per attempt. No header
//! value, URL secret or more than 200 characters of a body reaches them.

use core::time::Duration;
use std::borrow::Cow;

use super::redact;
use crate::event::{Event, Observed};

/// One structured `tracing` record for an event: method, endpoint, what was
/// observed, how long the attempt took, the rate limit, the decision and its
/// wait. Header values are never logged.
pub(crate) fn log_event(method: &str, endpoint: &str, event: &Event, took: Duration) {
    let endpoint = &*redact::endpoint(endpoint);
    let (status, error) = match event.observed {
        Observed::Status(s) => (Some(s), None),
        Observed::Network(e) => (None, Some(e)),
        _ => (None, None),
    };
    let remaining = event.rate_limit.and_then(|r| r.remaining);
    let wait_ms = match event.action {
        crate::Action::Sleep(d) => Some(d.as_millis()),
        _ => None,
    };
    tracing::info!(
        target: "steadfast",
        method,
        endpoint,
        attempt = event.attempt,
        observed = %event.observed,
        status,
        error = error.map(tracing::field::display),
        duration_ms = took.as_millis(),
        rate_limit_remaining = remaining,
        decision = %event.action,
        wait_ms,
        basis = %event.basis,
        "{} {} -> {}",
        method,
        endpoint,
        event.action,
    );
}

/// The start of an attempt, with the body cut to 200 characters.
pub(crate) fn log_attempt(method: &str, endpoint: &str, attempt: u32, body: Option<&[u8]>) {
    let endpoint = &*redact::endpoint(endpoint);
    tracing::debug!(
        target: "steadfast",
        method,
        endpoint,
        attempt,
        body = body.map(|b| tracing::field::display(body_preview(b))),
        "attempt {attempt}: {method} {endpoint}",
    );
}

/// At most 200 characters of a request body, for logs.
pub(crate) fn body_preview(body: &[u8]) -> Cow<'_, str> {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::body_preview;

    #[test]
    fn body_preview_cuts_on_characters() {
        assert_eq!(body_preview(b"short"), "short");
        let long = "é".repeat(300);
        let cut = body_preview(long.as_bytes());
        assert_eq!(cut.chars().count(), 201);
        assert!(cut.ends_with('…'));
        assert_eq!(body_preview(b"\xff\xfe"), "\u{fffd}\u{fffd}");
    }
}
