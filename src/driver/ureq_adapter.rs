//! ureq 3: responses are `http::Response`s (read by the `http` adapter);
//! errors map onto the kinds the core knows.

use std::io;

use ureq::Timeout;

use super::Reply;
use crate::outcome::NetworkError;

#[cfg_attr(docsrs, doc(cfg(feature = "ureq")))]
impl Reply {
    /// A ureq attempt's result, its whole body read: a connection cut
    /// mid-body is then a failed attempt, retried as such, not a success
    /// without its body. Hand it back from a hook's `send`.
    pub fn from_ureq(
        result: Result<http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Self, NetworkError> {
        let mut response = result.map_err(|e| network_error(&e))?;
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| network_error(&e))?;
        Ok(Self {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body,
        })
    }
}

/// Whether an I/O error is a failed name lookup. ureq 3 resolves through
/// the standard library, whose lookup errors have no `ErrorKind` of their
/// own: on Unix they are custom errors saying "failed to lookup address
/// information", on Windows the socket errors `WSAHOST_NOT_FOUND` (11001)
/// and `WSANO_DATA` (11004).
fn failed_lookup(e: &io::Error) -> bool {
    if cfg!(windows) && matches!(e.raw_os_error(), Some(11001 | 11004)) {
        return true;
    }
    e.raw_os_error().is_none()
        && e.get_ref()
            .is_some_and(|inner| inner.to_string().starts_with("failed to lookup address"))
}

/// The kind of a ureq error. Build the agent with
/// `http_status_as_error(false)` so that 4xx/5xx arrive as responses, which
/// the core reads, rather than as errors.
#[cfg_attr(docsrs, doc(cfg(feature = "ureq")))]
impl From<&ureq::Error> for NetworkError {
    fn from(e: &ureq::Error) -> Self {
        network_error(e)
    }
}

fn network_error(e: &ureq::Error) -> NetworkError {
    match e {
        ureq::Error::HostNotFound => NetworkError::Dns,
        ureq::Error::ConnectionFailed => NetworkError::ConnectionRefused,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => NetworkError::ConnectTimeout,
        ureq::Error::Timeout(_) => NetworkError::Timeout,
        ureq::Error::Io(io) => match NetworkError::from(io.kind()) {
            NetworkError::Other if failed_lookup(io) => NetworkError::Dns,
            kind => kind,
        },
        ureq::Error::Protocol(_) | ureq::Error::BodyStalled => NetworkError::ConnectionReset,
        ureq::Error::Tls(_) | ureq::Error::TlsRequired => NetworkError::Tls,
        _ => NetworkError::Other,
    }
}
