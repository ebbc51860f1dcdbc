//! The vocabulary of a run: task phases, how an item ended, why it failed,
//! and the [`Record`] kept for each finished item.

use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};

/// Where a task is in its life. Stored in an atomic, hence the explicit tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Phase {
    /// Spawned, not yet started by the runtime.
    Queued = 0,
    /// Request sent (or being sent on a ready connection), waiting for
    /// response headers.
    Waiting = 1,
    /// Reading the response body.
    Receiving = 2,
    /// Waiting before another attempt.
    Retrying = 3,
    /// Opening a new connection for this request: TCP connect, and the TLS
    /// handshake for https. Known on the lean (hyper-util) transport; under
    /// `--transport reqwest` and the threads model it is counted as `Waiting`.
    Connecting = 4,
}

impl Phase {
    /// Every in-flight phase, in display order.
    pub const ALL: [Phase; 5] = [
        Phase::Queued,
        Phase::Connecting,
        Phase::Waiting,
        Phase::Receiving,
        Phase::Retrying,
    ];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Connecting => "connecting",
            Phase::Waiting => "waiting",
            Phase::Receiving => "receiving",
            Phase::Retrying => "retrying",
        }
    }

    /// The inverse of `self as u8`; unknown tags read as `Queued`.
    pub fn from_u8(tag: u8) -> Phase {
        match tag {
            1 => Phase::Waiting,
            2 => Phase::Receiving,
            3 => Phase::Retrying,
            4 => Phase::Connecting,
            _ => Phase::Queued,
        }
    }
}

/// How an item ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    /// A response with a status below 400, body read in full.
    Done,
    /// An error, or a response with a status of 400 or more.
    Failed,
    /// Cancelled by a command before it ended.
    Cancelled,
}

/// Why an item failed. The names are stable: they appear in JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Could not connect (refused, unreachable, DNS).
    Connect,
    /// No complete response within the timeout.
    Timeout,
    /// TLS handshake or certificate failure.
    Tls,
    /// The server answered 429 Too Many Requests.
    Http429,
    /// The server answered another 4xx status.
    Http4xx,
    /// The server answered a 5xx status.
    Http5xx,
    /// The body could not be read to the end (or not saved, `--save-bodies`).
    Body,
    /// The body could not be undone from its `Content-Encoding` (corrupt,
    /// cut short, or a zstd window over 8 MiB).
    Decode,
    /// The body was larger than `--max-body`.
    BodyTooLarge,
    /// Too many redirects, or a bad redirect.
    Redirect,
    /// Any other failure while sending the request or reading the response.
    Request,
    /// The URL could not be parsed or has an unsupported scheme.
    InvalidUrl,
    /// The input line itself was unusable (bad UTF-8, NUL byte, too long).
    Input,
    /// Cancelled by a command.
    Cancelled,
}

impl ErrorKind {
    /// Every kind, for fixed-size counters.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Http429,
        ErrorKind::Http4xx,
        ErrorKind::Http5xx,
        ErrorKind::Body,
        ErrorKind::Decode,
        ErrorKind::BodyTooLarge,
        ErrorKind::Redirect,
        ErrorKind::Request,
        ErrorKind::InvalidUrl,
        ErrorKind::Input,
        ErrorKind::Cancelled,
    ];

    /// The stable snake_case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Http429 => "http_429",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::Body => "body",
            ErrorKind::Decode => "decode",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Request => "request",
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::Input => "input",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    /// Position in [`ErrorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The failure kind an HTTP status stands for, if it is an error status.
    pub fn from_status(status: u16) -> Option<ErrorKind> {
        match status {
            429 => Some(ErrorKind::Http429),
            400..=499 => Some(ErrorKind::Http4xx),
            500..=599 => Some(ErrorKind::Http5xx),
            _ => None,
        }
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error kind {name:?}")))
    }
}

/// A failure: its kind and a human message (the message never repeats the kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The category, for counting.
    pub kind: ErrorKind,
    /// What happened, in words.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` described by `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// Everything kept about one finished item: one JSON line of `-o` output.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Position in the source, from 1; also the task id.
    pub seq: u64,
    /// The URL as given by the source.
    #[serde(serialize_with = "serialize_arc_str")]
    pub url: Arc<str>,
    /// How it ended.
    pub state: ItemState,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The HTTP version the answer came in (`"1.0"`, `"1.1"`, `"2"`), when
    /// a response arrived and its carrier tells; omitted from the output
    /// otherwise. With `--http2` over https it says what ALPN settled on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<&'static str>,
    /// From dispatch to the end of the body (or to the failure), in milliseconds.
    #[serde(rename = "latency_ms", serialize_with = "serialize_ms")]
    pub latency_us: u64,
    /// From dispatch to the response headers, in milliseconds.
    #[serde(rename = "ttfb_ms", serialize_with = "serialize_opt_ms")]
    pub ttfb_us: Option<u64>,
    /// Body bytes received, as they came off the wire (compressed, when
    /// the server compressed them).
    pub bytes: u64,
    /// Body bytes after undoing its `Content-Encoding`: present only when
    /// a decoder ran (bodies kept, extracted or saved, or `--compressed`;
    /// not under `--raw`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded_bytes: Option<u64>,
    /// The response's `Content-Encoding` (`"gzip"`, `"gzip, br"`), when it
    /// named a coding other than `identity`; whether or not it was decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// `"kind: message"` for failed and cancelled items, else null.
    #[serde(serialize_with = "serialize_failure")]
    pub error: Option<Failure>,
    /// Line number in the list file or stdin, for list sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The response body (`--keep-body`): parsed JSON when it is JSON, a
    /// string when it is UTF-8 text; absent for any other body, which is in
    /// `body_base64` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A kept body that is neither JSON nor UTF-8 (an image, random bytes),
    /// in standard base64 with padding: every byte can be got back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Values picked by `--extract` JSON pointers, keyed by pointer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Every HTTP version a record can name, in order.
pub const HTTP_VERSIONS: [&str; 5] = ["0.9", "1.0", "1.1", "2", "3"];

/// The name a record gives an HTTP version; None for one it does not name.
pub(crate) fn http_version(version: http::Version) -> Option<&'static str> {
    match version {
        http::Version::HTTP_09 => Some("0.9"),
        http::Version::HTTP_10 => Some("1.0"),
        http::Version::HTTP_11 => Some("1.1"),
        http::Version::HTTP_2 => Some("2"),
        http::Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

impl Record {
    /// The failure kind, if the item failed or was cancelled.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(|f| f.kind)
    }
}

// serde's field attributes take functions of this shape, hence the `&` on Copy types.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn serialize_ms<S: Serializer>(us: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*us as f64 / 1000.0)
}

fn serialize_opt_ms<S: Serializer>(us: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match us {
        Some(us) => serialize_ms(us, s),
        None => s.serialize_none(),
    }
}

fn serialize_arc_str<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn serialize_failure<S: Serializer>(f: &Option<Failure>, s: S) -> Result<S::Ok, S::Error> {
    match f {
        Some(f) => s.collect_str(f),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_serializes_as_documented() {
        let r = Record {
            seq: 1,
            url: Arc::from("http://127.0.0.1/items/1"),
            state: ItemState::Failed,
            status: None,
            http: None,
            latency_us: 12_345,
            ttfb_us: None,
            bytes: 0,
            decoded_bytes: None,
            encoding: None,
            attempts: 1,
            error: Some(Failure::new(ErrorKind::Timeout, "no response within 1s")),
            line: None,
            body: None,
            body_base64: None,
            fields: None,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"seq":1,"url":"http://127.0.0.1/items/1","state":"failed","status":null,"latency_ms":12.345,"ttfb_ms":null,"bytes":0,"attempts":1,"error":"timeout: no response within 1s"}"#
        );
        let answered = Record {
            state: ItemState::Done,
            status: Some(200),
            http: http_version(http::Version::HTTP_11),
            error: None,
            ..r
        };
        let line = serde_json::to_string(&answered).unwrap();
        assert!(
            line.contains(r#""status":200,"http":"1.1","latency_ms""#),
            "{line}"
        );
        let decoded = Record {
            bytes: 40,
            decoded_bytes: Some(100),
            encoding: Some("gzip".into()),
            body_base64: Some("AAE=".into()),
            ..answered
        };
        let line = serde_json::to_string(&decoded).unwrap();
        assert!(
            line.contains(r#""bytes":40,"decoded_bytes":100,"encoding":"gzip","attempts""#),
            "{line}"
        );
        assert!(
            line.ends_with(r#""error":null,"body_base64":"AAE="}"#),
            "{line}"
        );
    }

    #[test]
    fn http_versions_are_named() {
        assert_eq!(http_version(http::Version::HTTP_10), Some("1.0"));
        assert_eq!(http_version(http::Version::HTTP_11), Some("1.1"));
        assert_eq!(http_version(http::Version::HTTP_2), Some("2"));
    }

    #[test]
    fn error_kinds_index_matches_all() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i, "{k:?}");
        }
        for p in Phase::ALL {
            assert_eq!(Phase::from_u8(p as u8), p);
        }
    }

    #[test]
    fn status_classification() {
        assert_eq!(ErrorKind::from_status(200), None);
        assert_eq!(ErrorKind::from_status(304), None);
        assert_eq!(ErrorKind::from_status(404), Some(ErrorKind::Http4xx));
        assert_eq!(ErrorKind::from_status(429), Some(ErrorKind::Http429));
        assert_eq!(ErrorKind::from_status(503), Some(ErrorKind::Http5xx));
    }
}
