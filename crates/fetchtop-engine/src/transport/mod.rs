//! How one attempt reaches the server. Two transports stand behind one
//! interface, chosen per item by its URL:
//!
//! - [`lean`]: hyper-util's pooled clients for `http://` and `https://`
//!   (rustls through hyper-rustls, set up in [`tls`]), the hot path of a
//!   load test. It is leaner than reqwest per request (no `Url` re-parsing,
//!   no redirect middleware), and it can tell when a request is opening a
//!   connection (the `connecting` phase).
//! - [`reqwest_client`]: reqwest for every URL when `--transport reqwest`
//!   asks for it (the reference the lean path is tested against), and for
//!   the URLs `http::Uri` cannot take but `url` can.
//!
//! Both fill the same [`Attempt`] and fail with the same [`Failure`] kinds,
//! so a record does not depend on which one carried it (tests/transport.rs).

mod lazy;
mod lean;
mod pool;
mod reqwest_client;
mod route;
mod stream;
mod tls;

use std::str::FromStr;

use crate::error::Result;
use reqwest::Url;

use crate::pipeline::classify;

use super::http::RequestOptions;
use super::pipeline::Attempt;
use super::record::{ErrorKind, Failure};
use super::task::TaskSpec;

/// Which transports a run may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransportChoice {
    /// The shard's own lean client for `http://` and `https://`; reqwest
    /// only for URLs that `http::Uri` cannot parse.
    #[default]
    Auto,
    /// reqwest for every URL.
    Reqwest,
}

impl TransportChoice {
    /// Every choice, as the command line names them.
    pub const ALL: [TransportChoice; 2] = [TransportChoice::Auto, TransportChoice::Reqwest];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportChoice::Auto => "auto",
            TransportChoice::Reqwest => "reqwest",
        }
    }
}

impl FromStr for TransportChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<TransportChoice, String> {
        crate::text::by_name(
            &TransportChoice::ALL,
            TransportChoice::as_str,
            "transport",
            s,
        )
    }
}

/// A URL checked and parsed for the transport that will carry it.
#[derive(Clone, Debug)]
pub enum Target {
    /// http or https on the lean hyper-util clients.
    Lean(http::Uri),
    /// reqwest (any URL under `--transport reqwest`, or one only `url` parses).
    Reqwest(Url),
}

/// The transports of a run, shared by all its tasks.
#[derive(Debug)]
pub struct Transport {
    lean: Option<lean::Lean>,
    reqwest: lazy::Lazy<reqwest_client::Reqwest>,
}

impl Transport {
    /// Builds the clients `options` describe. The hyper-util clients are
    /// left out under [`TransportChoice::Reqwest`].
    pub fn new(options: &RequestOptions, choice: TransportChoice) -> Result<Transport> {
        let for_reqwest = options.clone();
        let reqwest = lazy::Lazy::new(move || {
            reqwest_client::Reqwest::new(&for_reqwest).map_err(|e| classify::chain(&e))
        });
        if choice == TransportChoice::Reqwest && options.connect.has_connect_to() {
            return Err(crate::error::EngineError::new(
                "--connect-to needs the lean transport: reqwest cannot connect a host to \
                 another port (use --transport auto, or --resolve)",
            ));
        }
        let lean = match choice {
            TransportChoice::Auto => Some(lean::Lean::new(options)?),
            TransportChoice::Reqwest => None,
        };
        Ok(Transport { lean, reqwest })
    }

    /// Checks `text` and picks the transport for it. URLs that `http::Uri`
    /// cannot take (spaces, non-ASCII hosts) go through `url`'s fuller
    /// parser and reqwest, so both accept and reject exactly the same input.
    pub fn target(&self, text: &str) -> Result<Target, Failure> {
        if self.lean.is_some()
            && let Ok(uri) = http::Uri::from_str(text)
            && (uri.scheme() == Some(&http::uri::Scheme::HTTP)
                || uri.scheme() == Some(&http::uri::Scheme::HTTPS))
            && uri.host().is_some_and(|h| !h.is_empty())
        {
            return Ok(Target::Lean(uri));
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
        match (target, &self.lean) {
            // Boxed too: a task's future is moved several times on its way
            // into the runtime (spawn, the timeout, the task cell), and a
            // 2.4 KB attempt inside it made those copies a few percent of a
            // request's CPU; boxed, it is written once.
            (Target::Lean(uri), Some(lean)) => {
                Box::pin(lean.attempt(uri, options, spec, att)).await
            }
            (Target::Lean(uri), None) => {
                let url = check_url(&uri.to_string())?;
                Box::pin(self.reqwest()?.attempt(url, options, spec, att)).await
            }
            // Boxed: reqwest's future is several times the size of the lean
            // path's, and every task would carry (and copy) that size.
            (Target::Reqwest(url), _) => {
                Box::pin(self.reqwest()?.attempt(url.clone(), options, spec, att)).await
            }
        }
    }
}

impl Transport {
    /// reqwest's client, built on first use.
    fn reqwest(&self) -> Result<&reqwest_client::Reqwest, Failure> {
        self.reqwest.get().map_err(|why| {
            Failure::new(
                ErrorKind::Request,
                format!("cannot prepare the HTTP client: {why}"),
            )
        })
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
    fn transport_choices_parse_by_name() {
        for t in TransportChoice::ALL {
            assert_eq!(t.as_str().parse::<TransportChoice>(), Ok(t));
        }
        assert!("curl".parse::<TransportChoice>().is_err());
    }

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
    fn http_and_https_go_to_hyper_and_the_rest_to_reqwest() {
        let t = Transport::new(&RequestOptions::default(), TransportChoice::Auto).unwrap();
        for lean in ["http://127.0.0.1:8080/items/1?x=1", "https://127.0.0.1/x"] {
            assert!(matches!(t.target(lean), Ok(Target::Lean(_))), "{lean}");
        }
        for other in [" http://127.0.0.1/x", "http://exämple.test/"] {
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
        for url in ["http://127.0.0.1/x", "https://127.0.0.1/x"] {
            assert!(matches!(only.target(url), Ok(Target::Reqwest(_))), "{url}");
        }
    }
}
