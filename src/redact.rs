//! Secrets kept off the screen and out of the logs: the values of
//! `Authorization`, `Cookie`, `Proxy-Authorization` and `Set-Cookie` are
//! shown as `<redacted>` wherever a header is shown.

use reqwest::header::{HeaderName, HeaderValue};

use crate::format;

/// What a secret value is shown as.
pub const REDACTED: &str = "<redacted>";

/// Headers whose values are secrets (lower case, as `HeaderName` keeps them).
pub const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
];

/// Whether the value of header `name` must not be shown.
pub fn is_secret(name: &str) -> bool {
    SECRET_HEADERS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name.trim()))
}

/// `Name: value` as it may be shown: a secret's value redacted, any other
/// value made inert (it may hold anything but control characters, and
/// non-UTF-8 bytes are shown lossily).
pub fn header(name: &HeaderName, value: &HeaderValue) -> String {
    if is_secret(name.as_str()) {
        return format!("{name}: {REDACTED}");
    }
    let text = String::from_utf8_lossy(value.as_bytes());
    format!("{name}: {}", format::inert(&text))
}

/// Every header of a list, shown with [`header`].
pub fn headers(list: &[(HeaderName, HeaderValue)]) -> Vec<String> {
    list.iter().map(|(n, v)| header(n, v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::http::parse_header;

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        for raw in [
            "Authorization: Bearer s3cret",
            "cookie: session=s3cret",
            "PROXY-AUTHORIZATION: Basic s3cret",
            "Set-Cookie: id=s3cret",
        ] {
            let (n, v) = parse_header(raw).unwrap();
            let shown = header(&n, &v);
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.ends_with(": <redacted>"), "{shown}");
        }
        let (n, v) = parse_header("X-Trace: abc\u{80}")
            .unwrap_or_else(|_| parse_header("X-Trace: abc").unwrap());
        assert!(header(&n, &v).starts_with("x-trace: abc"));
        assert!(!is_secret("x-authorization"));
    }
}
