//! What every request of a run looks like: the options they share.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};

use super::net::{ConnectRules, ProxySettings, TlsFiles};
use super::retry::RetryPolicy;

/// The `User-Agent` sent unless a `-H User-Agent: ...` replaces it.
pub const DEFAULT_USER_AGENT: &str = concat!("fetchtop/", env!("CARGO_PKG_VERSION"));

/// Options shared by every request of a run.
#[derive(Clone, Debug)]
pub struct RequestOptions {
    /// HTTP method.
    pub method: Method,
    /// Extra headers, in order; a `User-Agent` here replaces the default.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Request body, sent with every request.
    pub body: Option<Vec<u8>>,
    /// Limit for the whole request: connect, send, headers and body.
    pub timeout: Duration,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Redirects followed before failing (0: none are followed).
    pub redirects: usize,
    /// Speak HTTP/2 without negotiation (prior knowledge).
    pub http2: bool,
    /// Accept invalid TLS certificates and host names.
    pub insecure: bool,
    /// Keep each response body in its record.
    pub keep_body: bool,
    /// JSON pointers whose values are kept in each record.
    pub extract: Vec<String>,
    /// Largest body accepted, in bytes.
    pub max_body: u64,
    /// Which failed attempts are tried again, and after how long.
    pub retry: RetryPolicy,
    /// Write each complete body to `DIR/SEQ.body` (`--save-bodies`).
    pub save_bodies: Option<std::path::PathBuf>,
    /// Which proxy each URL goes through (`--proxy`, `--noproxy`, the
    /// environment).
    pub proxy: ProxySettings,
    /// CAs to trust instead of the system's, and a client certificate.
    pub tls_files: TlsFiles,
    /// `--resolve` and `--connect-to`.
    pub connect: ConnectRules,
    /// Connect every request to this Unix socket (`--unix-socket`).
    pub unix_socket: Option<std::path::PathBuf>,
    /// Ask for compressed bodies and decode them even when bodies are
    /// thrown away (`--compressed`, as curl); also decodes what a user's
    /// own `Accept-Encoding` header asked for.
    pub compressed: bool,
    /// Never decode: keep and save bodies as they came off the wire
    /// (`--raw`); compressed bodies are asked for only with `compressed`.
    pub raw: bool,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            method: Method::GET,
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            redirects: 10,
            http2: false,
            insecure: false,
            keep_body: false,
            extract: Vec::new(),
            max_body: 16 * 1024 * 1024,
            retry: RetryPolicy::default(),
            save_bodies: None,
            proxy: ProxySettings::default(),
            tls_files: TlsFiles::default(),
            connect: ConnectRules::default(),
            unix_socket: None,
            compressed: false,
            raw: false,
        }
    }
}

impl RequestOptions {
    /// Whether bodies must be buffered (to keep them or to extract from them).
    pub fn buffers_body(&self) -> bool {
        self.keep_body || !self.extract.is_empty() || self.save_bodies.is_some()
    }

    /// Whether a `-H Accept-Encoding` of the user's own is sent.
    fn asks_own_encoding(&self) -> bool {
        self.headers
            .iter()
            .any(|(name, _)| name == reqwest::header::ACCEPT_ENCODING)
    }

    /// The `Accept-Encoding` every request adds: compressed bodies are asked
    /// for when bodies are kept, extracted or saved, or under `--compressed`;
    /// never over a user's own header, nor under `--raw` alone. A plain load
    /// test sends none, as before.
    pub fn accept_encoding(&self) -> Option<HeaderValue> {
        let wanted = self.compressed || (self.buffers_body() && !self.raw);
        (wanted && !self.asks_own_encoding())
            .then(|| HeaderValue::from_static(crate::pipeline::decode::ACCEPT_ENCODING))
    }

    /// Whether a compressed body is decoded (and its decoded size counted
    /// against `max_body`): when the run asked for compression itself, or
    /// under `--compressed`; never under `--raw`.
    pub fn decodes(&self) -> bool {
        !self.raw && (self.compressed || (self.buffers_body() && !self.asks_own_encoding()))
    }
}

/// Parses a `-H "Name: value"` header. Errors are one line, for the CLI.
pub fn parse_header(s: &str) -> std::result::Result<(HeaderName, HeaderValue), String> {
    // Messages name the header, never its value: it may be a secret.
    let (name, value) = s.split_once(':').ok_or_else(|| {
        let start: String = s
            .split_whitespace()
            .next()
            .unwrap_or("")
            .chars()
            .take(40)
            .collect();
        format!("header {start:?}... has no colon: write it as \"Name: value\"")
    })?;
    let name = name.trim();
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("invalid header name {name:?}"))?;
    let value = value.trim();
    let value = HeaderValue::from_str(value).map_err(|_| {
        format!(
            "invalid value for header {name}: control characters such as newlines are not allowed"
        )
    })?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Transport, TransportChoice};

    #[test]
    fn headers_parse_and_reject() {
        let (n, v) = parse_header("X-Token:  abc def ").unwrap();
        assert_eq!(n.as_str(), "x-token");
        assert_eq!(v.to_str().unwrap(), "abc def");
        assert!(parse_header("NoColon").unwrap_err().contains("no colon"));
        assert!(parse_header("Bad Name: x").is_err());
        assert!(parse_header("X: a\nb").unwrap_err().contains("control"));
        assert!(parse_header("Accept: ").is_ok());
    }

    #[test]
    fn client_builds_with_every_option() {
        let opts = RequestOptions {
            headers: vec![parse_header("User-Agent: custom").unwrap()],
            http2: true,
            insecure: true,
            redirects: 0,
            ..RequestOptions::default()
        };
        for choice in [TransportChoice::Auto, TransportChoice::Reqwest] {
            assert!(Transport::new(&opts, choice).is_ok());
        }
        assert!(!opts.buffers_body());
    }

    #[test]
    fn compression_is_asked_for_and_decoded_as_documented() {
        let ae = |o: &RequestOptions| o.accept_encoding().map(|v| v.to_str().unwrap().to_string());
        let plain = RequestOptions::default();
        assert_eq!(
            (ae(&plain), plain.decodes()),
            (None, false),
            "a load test sends what it did"
        );
        let keep = RequestOptions {
            keep_body: true,
            ..RequestOptions::default()
        };
        assert_eq!(ae(&keep).as_deref(), Some("gzip, deflate, br, zstd"));
        assert!(keep.decodes());
        let compressed = RequestOptions {
            compressed: true,
            ..RequestOptions::default()
        };
        assert!(ae(&compressed).is_some() && compressed.decodes());
        let raw = RequestOptions {
            raw: true,
            ..keep.clone()
        };
        assert_eq!((ae(&raw), raw.decodes()), (None, false));
        let raw_asking = RequestOptions {
            compressed: true,
            ..raw
        };
        assert_eq!(
            (ae(&raw_asking).is_some(), raw_asking.decodes()),
            (true, false)
        );
        let own = RequestOptions {
            headers: vec![parse_header("Accept-Encoding: gzip").unwrap()],
            ..keep
        };
        assert_eq!(
            (ae(&own), own.decodes()),
            (None, false),
            "the user's header is theirs"
        );
        let own_decoded = RequestOptions {
            compressed: true,
            ..own
        };
        assert_eq!((ae(&own_decoded), own_decoded.decodes()), (None, true));
    }
}
