//! Endpoints as the logs show them: a URL's userinfo and query values can
//! carry credentials (`user:password@`, `?access_token=`), so neither
//! reaches a log record.

use std::borrow::Cow;

const HIDDEN: &str = "REDACTED";

/// `url` without the userinfo of its authority, with every query value
/// replaced by `REDACTED` (a parameter without `=` as a whole) and without
/// its fragment. Anything else — a relative path, a bare host — passes as
/// given.
pub(crate) fn endpoint(url: &str) -> Cow<'_, str> {
    let end = url.find('#').unwrap_or(url.len());
    let (resource, query) = match url[..end].split_once('?') {
        Some((resource, query)) => (resource, Some(query)),
        None => (&url[..end], None),
    };
    let user = userinfo(resource);
    if user.is_none() && query.is_none() && end == url.len() {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len());
    match user {
        Some((start, len)) => {
            out.push_str(&resource[..start]);
            out.push_str(&resource[start + len..]);
        }
        None => out.push_str(resource),
    }
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) => {
                    out.push_str(name);
                    out.push('=');
                }
                None if pair.is_empty() => continue,
                None => {}
            }
            out.push_str(HIDDEN);
        }
    }
    Cow::Owned(out)
}

/// Where the userinfo (`user:password@`) of `resource`'s authority starts,
/// and its length with the `@`.
fn userinfo(resource: &str) -> Option<(usize, usize)> {
    let start = match resource.find("://") {
        Some(i) => i + 3,
        None if resource.starts_with("//") => 2,
        None => return None,
    };
    let authority = &resource[start..];
    let authority = &authority[..authority.find('/').unwrap_or(authority.len())];
    authority.rfind('@').map(|at| (start, at + 1))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn credentials_never_pass() {
        let rows = [
            ("/contacts", "/contacts"),
            (
                "https://api.example/v2/users",
                "https://api.example/v2/users",
            ),
            (
                "https://user:pa55@api.example/v2?x=1",
                "https://api.example/v2?x=REDACTED",
            ),
            ("https://token@api.example", "https://api.example"),
            ("//u:p@host/path", "//host/path"),
            (
                "/contacts?access_token=SECRET&page=2",
                "/contacts?access_token=REDACTED&page=REDACTED",
            ),
            ("/contacts?SECRET", "/contacts?REDACTED"),
            ("/contacts?a=1&&b", "/contacts?a=REDACTED&&REDACTED"),
            ("/cb#access_token=SECRET", "/cb"),
            ("/cb?state=SECRET#x", "/cb?state=REDACTED"),
            // An @ in the path is not userinfo.
            (
                "https://host/users/me@example.com",
                "https://host/users/me@example.com",
            ),
            ("mailto:someone@example.com", "mailto:someone@example.com"),
            ("", ""),
        ];
        for (given, logged) in rows {
            assert_eq!(endpoint(given), logged, "{given}");
        }
    }
}
