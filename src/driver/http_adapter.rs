//! `http` crate types: any client built on it (hyper, ureq 3, reqwest's
//! header maps, ...) is read without copying.

use http::HeaderMap;

use super::Response;
use crate::outcome::Headers;

impl Headers for HeaderMap {
    fn for_each_header<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        for (name, value) in self {
            visit(name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

impl<B> Response for http::Response<B> {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
    fn headers(&self) -> &dyn Headers {
        self.headers()
    }
}

/// An `http::Method` as far as retry safety cares (TRACE, CONNECT and
/// extension methods are [`Method::Other`](crate::Method::Other)).
impl From<&http::Method> for crate::Method {
    fn from(method: &http::Method) -> Self {
        Self::from_bytes(method.as_str().as_bytes())
    }
}

impl From<http::Method> for crate::Method {
    fn from(method: http::Method) -> Self {
        Self::from(&method)
    }
}

#[cfg(test)]
mod tests {
    use crate::Method;

    #[test]
    fn http_methods_map_by_their_token() {
        let rows = [
            (http::Method::GET, Method::Get),
            (http::Method::HEAD, Method::Head),
            (http::Method::PUT, Method::Put),
            (http::Method::DELETE, Method::Delete),
            (http::Method::OPTIONS, Method::Options),
            (http::Method::POST, Method::Post),
            (http::Method::PATCH, Method::Patch),
            (http::Method::TRACE, Method::Other),
            (http::Method::CONNECT, Method::Other),
            (http::Method::from_bytes(b"PURGE").unwrap(), Method::Other),
        ];
        for (given, want) in rows {
            assert_eq!(Method::from(&given), want, "{given}");
            assert_eq!(Method::from(given), want);
        }
    }
}
