//! ureq 3: responses are `http::Response`s (read by the `http` adapter);
//! errors map onto the kinds the core knows.

use std::io;

use ureq::Timeout;

use crate::outcome::NetworkError;

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
