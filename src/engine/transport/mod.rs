//! How one attempt reaches the server. Two transports stand behind one
//! interface, chosen per item by its URL:
//!
//! - [`plain`]: hyper-util's pooled client for `http://` URLs, the hot path
//!   of a load test. It is leaner than reqwest per request (no `Url`
//!   re-parsing, no redirect middleware), and it can tell when a request is
//!   opening a connection (the `connecting` phase).
//! - [`tls`]: reqwest for `https://` URLs (rustls), and for every URL when
//!   `--transport reqwest` asks for it.
//!
//! Both fill the same [`Attempt`] and fail with the same [`Failure`] kinds,
//! so a record does not depend on which one carried it (tests/transport.rs).

mod plain;
mod pool;
mod tls;

use std::str::FromStr;

use color_eyre::eyre::Result;
use reqwest::Url;

use super::http::RequestOptions;
use super::pipeline::Attempt;
use super::record::{ErrorKind, Failure};
use super::task::TaskSpec;

/// Which transports a run may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    /// hyper-util for `http://`, reqwest for `https://`.
    #[default]
    Auto,
    /// reqwest for every URL.
    Reqwest,
}

/// A URL checked and parsed for the transport that will carry it.
#[derive(Clone, Debug)]
pub enum Target {
    /// Plain HTTP on the hyper-util client.
    Plain(http::Uri),
    /// reqwest (https, or any URL under `--transport reqwest`).
    Reqwest(Url),
}

/// The transports of a run, shared by all its tasks.
#[derive(Debug)]
pub struct Transport {
    plain: Option<plain::PlainHttp>,
    tls: tls::Reqwest,
}

impl Transport {
    /// Builds the clients `options` describe. The hyper-util client is left
    /// out under [`TransportChoice::Reqwest`].
    pub fn new(options: &RequestOptions, choice: TransportChoice) -> Result<Transport> {
        let tls = tls::Reqwest::new(options)?;
        let plain = match choice {
            TransportChoice::Auto => Some(plain::PlainHttp::new(options, tls.clone())),
            TransportChoice::Reqwest => None,
        };
        Ok(Transport { plain, tls })
    }

    /// Checks `text` and picks the transport for it. URLs that `http::Uri`
    /// cannot take (spaces, non-ASCII hosts) go through `url`'s fuller
    /// parser and reqwest, so both accept and reject exactly the same input.
    pub fn target(&self, text: &str) -> Result<Target, Failure> {
        if self.plain.is_some()
            && let Ok(uri) = http::Uri::from_str(text)
            && uri.scheme() == Some(&http::uri::Scheme::HTTP)
            && uri.host().is_some_and(|h| !h.is_empty())
        {
            return Ok(Target::Plain(uri));
        }
        check_url(text).map(Target::Reqwest)
    }

    /// Makes one attempt: request, headers, body. Fills `att` as it learns.
    pub(super) async fn attempt(
        &self,
        target: &Target,
        options: &RequestOptions,
        spec: &TaskSpec,
        att: &mut Attempt,
    ) -> Result<(), Failure> {
        match (target, &self.plain) {
            (Target::Plain(uri), Some(plain)) => plain.attempt(uri, options, spec, att).await,
            (Target::Plain(uri), None) => {
                let url = check_url(&uri.to_string())?;
                Box::pin(self.tls.attempt(url, options, spec, att)).await
            }
            // Boxed: reqwest's future is several times the size of the plain
            // path's, and every task would carry (and copy) that size.
            (Target::Reqwest(url), _) => {
                Box::pin(self.tls.attempt(url.clone(), options, spec, att)).await
            }
        }
    }
}

/// Parses and checks a URL: only http and https can be fetched, and a URL
/// holds no whitespace (a list line with a space is more likely two fields
/// than a URL to percent-encode).
pub fn check_url(text: &str) -> Result<Url, Failure> {
    let trimmed = text.trim();
    let invalid = |why: String| Failure::new(ErrorKind::InvalidUrl, format!("{why}: {text:?}"));
    if trimmed.chars().any(char::is_whitespace) {
        return Err(invalid("contains whitespace".into()));
    }
    if !has_scheme(trimmed) {
        return Err(invalid(
            "missing scheme: start it with http:// or https://".into(),
        ));
    }
    let url = Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        // "localhost:8080/x" parses with "localhost" as its scheme.
        _ if !trimmed.contains("://") && looks_like_port(trimmed) => Err(invalid(
            "missing scheme: start it with http:// or https://".into(),
        )),
        other => Err(invalid(format!(
            "unsupported scheme {other:?} (only http and https)"
        ))),
    }
}

/// Starts with `scheme:` (RFC 3986: a letter, then letters, digits, `+-.`).
fn has_scheme(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// "host:8080..." rather than "scheme:...".
fn looks_like_port(text: &str) -> bool {
    text.split_once(':')
        .is_some_and(|(_, rest)| rest.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:1/x").is_ok());
        assert!(check_url(" https://example.test/ ").is_ok());
        for bad in [
            "ftp://h/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "no-scheme.test/x",
            "",
            "http://h/a b",
            "http://h/a\tb",
        ] {
            let f = check_url(bad).unwrap_err();
            assert_eq!(f.kind, ErrorKind::InvalidUrl, "{bad}");
        }
        for (bad, says) in [
            ("127.0.0.1:8080/x", "missing scheme"),
            ("localhost:8080/x", "missing scheme"),
            ("example.test/x", "missing scheme"),
            ("javascript:alert(1)", "unsupported scheme \"javascript\""),
            ("http://h/a b", "contains whitespace"),
        ] {
            let f = check_url(bad).unwrap_err();
            assert!(f.message.starts_with(says), "{bad}: {}", f.message);
        }
    }

    #[test]
    fn plain_http_goes_to_hyper_and_the_rest_to_reqwest() {
        let t = Transport::new(&RequestOptions::default(), TransportChoice::Auto).unwrap();
        assert!(matches!(
            t.target("http://127.0.0.1:8080/items/1?x=1"),
            Ok(Target::Plain(_))
        ));
        for other in [
            "https://127.0.0.1/x",
            " http://127.0.0.1/x",
            "http://exämple.test/",
        ] {
            assert!(matches!(t.target(other), Ok(Target::Reqwest(_))), "{other}");
        }
        // A space inside is refused on both paths (issue 5: bad input).
        for bad in [
            "ftp://h/x",
            "http://",
            "no-scheme.test/x",
            "http://127.0.0.1/a b",
        ] {
            assert_eq!(
                t.target(bad).unwrap_err().kind,
                ErrorKind::InvalidUrl,
                "{bad}"
            );
        }
        let only = Transport::new(&RequestOptions::default(), TransportChoice::Reqwest).unwrap();
        assert!(matches!(
            only.target("http://127.0.0.1/x"),
            Ok(Target::Reqwest(_))
        ));
    }
}
