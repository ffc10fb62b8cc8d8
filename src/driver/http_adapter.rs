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
