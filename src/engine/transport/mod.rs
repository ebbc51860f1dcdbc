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
mod tls;

use std::str::FromStr;

use color_eyre::eyre::Result;
use reqwest::Url;

use super::http::RequestOptions;
use super::record::{ErrorKind, Failure};
use super::task::{Attempt, TaskSpec};

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

/// Parses and checks a URL: only http and https can be fetched.
pub fn check_url(text: &str) -> Result<Url, Failure> {
    let url = Url::parse(text.trim())
        .map_err(|e| Failure::new(ErrorKind::InvalidUrl, format!("{e}: {text:?}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(Failure::new(
            ErrorKind::InvalidUrl,
            format!("unsupported scheme {other:?} (only http and https): {text:?}"),
        )),
    }
}

/// The failure for a body over `--max-body`.
fn body_too_large(max: u64) -> Failure {
    Failure::new(
        ErrorKind::BodyTooLarge,
        format!("body exceeds --max-body of {max} bytes"),
    )
}

/// Counts a body chunk into the attempt; fails once the body passes `--max-body`.
fn take_chunk(
    chunk: &[u8],
    options: &RequestOptions,
    spec: &TaskSpec,
    att: &mut Attempt,
) -> Result<(), Failure> {
    let n = chunk.len() as u64;
    att.bytes += n;
    spec.tracker.add_bytes(n);
    if att.bytes > options.max_body {
        return Err(body_too_large(options.max_body));
    }
    if options.buffers_body() {
        att.body.extend_from_slice(chunk);
    }
    Ok(())
}

/// Walks an error's sources, looking inside `io::Error`s too (their
/// `source()` skips the error they wrap).
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        out.push(err);
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    out
}

/// Whether any source is an I/O timeout (a connect timeout, say).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    sources(e).iter().any(|s| {
        s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

/// The text of an error and its causes, each said once.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in sources(e) {
        let text = s.to_string();
        // Wrappers often repeat their inner error's text; say each thing once.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
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
        ] {
            let f = check_url(bad).unwrap_err();
            assert_eq!(f.kind, ErrorKind::InvalidUrl, "{bad}");
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
            "http://127.0.0.1/a b",
            "http://exämple.test/",
        ] {
            assert!(matches!(t.target(other), Ok(Target::Reqwest(_))), "{other}");
        }
        for bad in ["ftp://h/x", "http://", "no-scheme.test/x"] {
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

    #[test]
    fn timeouts_are_found_inside_io_errors() {
        let inner = std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout");
        let outer = std::io::Error::other(inner);
        assert!(timed_out(&outer));
        assert!(!timed_out(&std::io::Error::other("refused")));
        assert_eq!(chain(&outer), "connect timeout");
    }
}
