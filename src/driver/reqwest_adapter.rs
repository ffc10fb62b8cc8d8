//! reqwest: responses are read as they are; errors map onto the kinds the
//! core knows.

use std::error::Error as _;
use std::io;

use super::Response;
use crate::outcome::{Headers, NetworkError};

impl Response for reqwest::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
    fn headers(&self) -> &dyn Headers {
        self.headers()
    }
}

/// The kind of a reqwest error. Connect failures are told apart by the
/// `io::ErrorKind` deepest in the error's source chain; a timeout while
/// connecting is a [`NetworkError::ConnectTimeout`] (nothing was sent).
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
impl From<&reqwest::Error> for NetworkError {
    fn from(e: &reqwest::Error) -> Self {
        network_error(e)
    }
}

fn network_error(e: &reqwest::Error) -> NetworkError {
    if e.is_timeout() {
        return if e.is_connect() {
            NetworkError::ConnectTimeout
        } else {
            NetworkError::Timeout
        };
    }
    if e.is_dns() {
        return NetworkError::Dns;
    }
    let io_kind = io_kind(e);
    if e.is_connect() {
        return match io_kind {
            Some(io::ErrorKind::ConnectionRefused) => NetworkError::ConnectionRefused,
            Some(io::ErrorKind::TimedOut) => NetworkError::ConnectTimeout,
            // "scheme is not http": https asked of a client built without
            // TLS, which no retry fixes (ureq says TlsRequired).
            _ if mentions(e, "certificate")
                || mentions(e, "tls")
                || mentions(e, "scheme is not http") =>
            {
                NetworkError::Tls
            }
            _ => NetworkError::ConnectionRefused,
        };
    }
    match io_kind.map(NetworkError::from) {
        Some(kind @ (NetworkError::Timeout | NetworkError::ConnectionReset)) => kind,
        // hyper reports a connection closed before or during the response
        // as an incomplete message, not as an io error.
        _ if e.is_request() || e.is_body() => NetworkError::ConnectionReset,
        _ if e.is_decode() => NetworkError::Protocol,
        _ => NetworkError::Other,
    }
}

fn io_kind(e: &reqwest::Error) -> Option<io::ErrorKind> {
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

fn mentions(e: &reqwest::Error, word: &str) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.to_string().to_ascii_lowercase().contains(word) {
            return true;
        }
        source = err.source();
    }
    false
}
