//! ureq 3: responses are `http::Response`s (read by the `http` adapter);
//! errors map onto the kinds the core knows.

use std::io;

use ureq::Timeout;

use super::Reply;
use crate::outcome::NetworkError;

/// One attempt's result, its whole body read: a connection cut mid-body is
/// then a failed attempt, retried as such, not a success without its body.
/// Hand it back from a hook's `send`.
pub fn reply(
    result: Result<http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, NetworkError> {
    let mut response = result.map_err(|e| network_error(&e))?;
    let body = response
        .body_mut()
        .read_to_vec()
        .map_err(|e| network_error(&e))?;
    Ok(Reply {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body,
    })
}

/// The kind of a ureq error. Build the agent with
/// `http_status_as_error(false)` so that 4xx/5xx arrive as responses, which
/// the core reads, rather than as errors.
pub fn network_error(e: &ureq::Error) -> NetworkError {
    match e {
        ureq::Error::HostNotFound => NetworkError::Dns,
        ureq::Error::ConnectionFailed => NetworkError::ConnectionRefused,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => NetworkError::ConnectTimeout,
        ureq::Error::Timeout(_) => NetworkError::Timeout,
        ureq::Error::Io(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => NetworkError::ConnectionRefused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => NetworkError::Timeout,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => NetworkError::ConnectionReset,
            _ => NetworkError::Other,
        },
        ureq::Error::Protocol(_) | ureq::Error::BodyStalled => NetworkError::ConnectionReset,
        ureq::Error::Tls(_) | ureq::Error::TlsRequired => NetworkError::Tls,
        _ => NetworkError::Other,
    }
}
