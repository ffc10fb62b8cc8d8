//! What the caller tells a call: the clock, the request, and what happened.

use core::fmt;
use core::time::Duration;

use serde::{Deserialize, Serialize};

/// One reading of the caller's two clocks.
///
/// The core never reads a clock itself; every method that needs time takes one
/// of these. A test can therefore run a six-minute schedule in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Monotonic time since an origin of the caller's choosing (an `Instant`
    /// taken at start-up, or zero in a test). Delays, deadlines and elapsed
    /// times are measured on it. If it goes backwards, the call treats it as
    /// standing still.
    #[serde(with = "humantime_serde")]
    pub mono: Duration,
    /// Wall-clock time since the Unix epoch. Read only to turn header dates
    /// and epoch timestamps into waits.
    #[serde(with = "humantime_serde")]
    pub unix: Duration,
}

impl Clock {
    /// A clock reading from its two parts.
    pub const fn new(mono: Duration, unix: Duration) -> Self {
        Self { mono, unix }
    }

    /// The same clock, `by` later on both readings (saturating).
    #[must_use]
    #[inline]
    pub fn advanced(self, by: Duration) -> Self {
        Self {
            mono: self.mono.saturating_add(by),
            unix: self.unix.saturating_add(by),
        }
    }
}

/// The HTTP method of the request, as far as retry safety cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`: idempotent.
    Get,
    /// `HEAD`: idempotent.
    Head,
    /// `PUT`: idempotent.
    Put,
    /// `DELETE`: idempotent.
    Delete,
    /// `OPTIONS`: idempotent.
    Options,
    /// `POST`: not idempotent.
    Post,
    /// `PATCH`: not idempotent.
    Patch,
    /// Any other method: treated as not idempotent.
    Other,
}

impl Method {
    /// Reads a method token. Tokens are case-sensitive (RFC 9110 §9.1), so
    /// `get` is [`Method::Other`], not [`Method::Get`].
    pub fn from_bytes(token: &[u8]) -> Self {
        match token {
            b"GET" => Self::Get,
            b"HEAD" => Self::Head,
            b"PUT" => Self::Put,
            b"DELETE" => Self::Delete,
            b"OPTIONS" => Self::Options,
            b"POST" => Self::Post,
            b"PATCH" => Self::Patch,
            _ => Self::Other,
        }
    }

    /// The method's token (`"OTHER"` for [`Method::Other`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Other => "OTHER",
        }
    }

    /// Whether repeating the request has the same effect as sending it once.
    pub const fn is_idempotent(self) -> bool {
        matches!(
            self,
            Self::Get | Self::Head | Self::Put | Self::Delete | Self::Options
        )
    }
}

/// What the call knows about the request it is retrying.
///
/// The call never sees the URL or the body: it needs only what decides
/// whether a repeat is safe and whether a conflict can be looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Request {
    /// The request's method.
    pub method: Method,
    /// The request carries an external id (the guide's `externalId`), so a
    /// duplicate create is detectable (409) and the record can be searched.
    #[serde(default)]
    pub external_id: bool,
    /// The request carries an idempotency key the server deduplicates on.
    #[serde(default)]
    pub idempotency_key: bool,
}

impl Request {
    /// A request with the given method and neither external id nor key.
    pub const fn new(method: Method) -> Self {
        Self {
            method,
            external_id: false,
            idempotency_key: false,
        }
    }

    /// The same request, marked as carrying an external id.
    #[must_use]
    pub const fn with_external_id(mut self) -> Self {
        self.external_id = true;
        self
    }

    /// The same request, marked as carrying an idempotency key.
    #[must_use]
    pub const fn with_idempotency_key(mut self) -> Self {
        self.idempotency_key = true;
        self
    }

    /// Whether sending it again after it may already have been applied is
    /// safe: an idempotent method, or a key or external id that lets the
    /// server (or a 409 search) catch the duplicate.
    pub const fn may_repeat(&self) -> bool {
        self.method.is_idempotent() || self.external_id || self.idempotency_key
    }
}

/// Why an attempt got no HTTP response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkError {
    /// The server refused the connection: nothing was sent.
    ConnectionRefused,
    /// The host name did not resolve: nothing was sent.
    Dns,
    /// Connecting took too long: nothing was sent.
    ConnectTimeout,
    /// The request was sent but no response came in time. It may have been
    /// applied.
    Timeout,
    /// The connection broke after the request was sent. It may have been
    /// applied.
    ConnectionReset,
    /// TLS handshake or certificate failure: retrying will not fix it.
    Tls,
    /// The server spoke broken HTTP: retrying will not fix it.
    Protocol,
    /// Anything else: not retried.
    Other,
}

impl NetworkError {
    /// The failure happened before any byte of the request left, so a retry
    /// cannot duplicate it.
    pub const fn before_send(self) -> bool {
        matches!(
            self,
            Self::ConnectionRefused | Self::Dns | Self::ConnectTimeout
        )
    }

    /// The request may have reached the server and been applied.
    pub const fn maybe_applied(self) -> bool {
        matches!(self, Self::Timeout | Self::ConnectionReset)
    }
}

/// What kind of failure an I/O error of a client is: the one reading of
/// `std::io::ErrorKind` every adapter shares. A read that timed out
/// (`TimedOut`, or `WouldBlock` from a socket with a read timeout) may have
/// been applied, as may a connection cut after the request went; kinds
/// that say nothing of the server are [`NetworkError::Other`].
impl From<std::io::ErrorKind> for NetworkError {
    fn from(kind: std::io::ErrorKind) -> Self {
        use std::io::ErrorKind;
        match kind {
            ErrorKind::ConnectionRefused => Self::ConnectionRefused,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => Self::Timeout,
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => Self::ConnectionReset,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ConnectionRefused => "connection refused",
            Self::Dns => "DNS failure",
            Self::ConnectTimeout => "connect timeout",
            Self::Timeout => "timeout",
            Self::ConnectionReset => "connection reset",
            Self::Tls => "TLS failure",
            Self::Protocol => "protocol error",
            Self::Other => "network error",
        })
    }
}

/// Response headers as the call reads them: name/value pairs, names matched
/// case-insensitively, values as raw bytes (they need not be UTF-8).
///
/// Implemented for slices, arrays and vectors of `(name, value)` pairs whose
/// parts are anything byte-like, so `&[("Retry-After", "120")]` works as is
/// (a slice you hold as `&[..]` is passed as `&slice`).
/// Client adapters implement it for their own header maps, so no copy is made.
pub trait Headers {
    /// Calls `visit` once for every header, repeated names included, in
    /// order. Names and values borrow from `self`, so a reader may keep them.
    fn for_each_header<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8]));
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Headers for [(K, V)] {
    fn for_each_header<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        for (name, value) in self {
            visit(name.as_ref(), value.as_ref());
        }
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>, const N: usize> Headers for [(K, V); N] {
    fn for_each_header<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        self.as_slice().for_each_header(visit);
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn for_each_header<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        (**self).for_each_header(visit);
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Headers for Vec<(K, V)> {
    fn for_each_header<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        self.as_slice().for_each_header(visit);
    }
}

/// The answer to a [`RefreshToken`](crate::Action::RefreshToken) action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refresh {
    /// A new token is in place.
    Refreshed,
    /// The refresh failed.
    Failed,
}

/// The answer to a [`SearchExisting`](crate::Action::SearchExisting) action.
///
/// The engine's call only needs to know whether the search found
/// something: its outcome is a `Search` (`Found(())`), which keeps
/// [`Action`](crate::Action) `Copy` and the call free of allocations. A
/// driver's lookup hook returns the record's id in `Found`, and the driver
/// hands it back in the call's [`Completion`](crate::Completion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Search<Id = ()> {
    /// A record with the request's external id exists: this one.
    Found(Id),
    /// No such record.
    NotFound,
    /// The search itself failed.
    Failed,
}

/// The engine's search result as events and scenario files write it:
/// `"found"`, `"not_found"`, `"failed"`.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Search", rename_all = "snake_case")]
enum Written {
    Found,
    NotFound,
    Failed,
}

impl Serialize for Search {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Found(()) => Written::Found,
            Self::NotFound => Written::NotFound,
            Self::Failed => Written::Failed,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Search {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Written::deserialize(d)? {
            Written::Found => Self::Found(()),
            Written::NotFound => Self::NotFound,
            Written::Failed => Self::Failed,
        })
    }
}

/// What happened in answer to the call's last action.
#[derive(Clone, Copy)]
pub enum Outcome<'a> {
    /// An HTTP response arrived.
    Response {
        /// The status code, any value (nonsense ones are given up on).
        status: u16,
        /// The response headers.
        headers: &'a dyn Headers,
        /// The API error code, when the caller read one from the body.
        code: Option<&'a str>,
    },
    /// The attempt failed without a response.
    Network(NetworkError),
    /// The token refresh finished.
    Refresh(Refresh),
    /// The search for the existing record finished.
    Search(Search),
}

impl<'a> Outcome<'a> {
    /// A response with headers.
    pub fn response(status: u16, headers: &'a dyn Headers) -> Self {
        Self::Response {
            status,
            headers,
            code: None,
        }
    }

    /// The same response carrying the API error code the caller parsed from
    /// its body (`"ThrottlingException"`), for the policy's
    /// [`codes`](crate::PolicySpec::codes). Other outcomes are unchanged.
    #[must_use]
    pub fn with_code(self, code: &'a str) -> Self {
        match self {
            Self::Response {
                status, headers, ..
            } => Self::Response {
                status,
                headers,
                code: Some(code),
            },
            other => other,
        }
    }

    /// A response without headers.
    pub fn status(status: u16) -> Self {
        const NONE: [(&[u8], &[u8]); 0] = [];
        Self::Response {
            status,
            headers: &NONE,
            code: None,
        }
    }
}

impl fmt::Debug for Outcome<'_> {
    // Header values may hold credentials, so Debug shows the status only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Response { status, .. } => f.debug_tuple("Response").field(status).finish(),
            Self::Network(e) => f.debug_tuple("Network").field(e).finish(),
            Self::Refresh(r) => f.debug_tuple("Refresh").field(r).finish(),
            Self::Search(s) => f.debug_tuple("Search").field(s).finish(),
        }
    }
}
