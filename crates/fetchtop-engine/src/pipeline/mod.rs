//! The fetch pipeline every execution model shares: what an attempt
//! learns, how its body is counted against `--max-body`, how a server's
//! `Retry-After` is read, the failures every carrier reports in the same
//! words, and the one place a [`Record`] is built.
//!
//! The async loop (`task::run`) and the blocking loop (the threads model)
//! differ only in how they wait and how they are cancelled; everything they
//! decide, they decide here, so their records cannot drift apart.

pub mod classify;
pub(crate) mod decode;
mod retrier;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub(crate) use retrier::{Retrier, Step};

use super::http::RequestOptions;
use super::record::{ErrorKind, Failure, ItemState, Phase, Record, http_version};
use super::retry::parse_retry_after;
use super::task::TaskSpec;
use decode::{Codings, DecodeError, Decoder};

/// What one attempt learned, kept even when it fails midway.
#[derive(Debug, Default)]
pub(crate) struct Attempt {
    /// The response's status, once its head arrived.
    pub(crate) status: Option<u16>,
    /// The status's canonical reason, for the failure message of an error status.
    pub(crate) reason: &'static str,
    /// The HTTP version the response head came in.
    pub(crate) http: Option<&'static str>,
    /// From dispatch to the response head.
    pub(crate) ttfb_us: Option<u64>,
    /// Body bytes received, whether kept or not.
    pub(crate) bytes: u64,
    /// The body, when the options keep or save it: decoded, once a decoder
    /// has finished.
    pub(crate) body: Vec<u8>,
    /// The response's `Content-Encoding`, for the record.
    pub(crate) encoding: Option<String>,
    /// What that header asks to undo.
    pub(crate) codings: Codings,
    /// The body's decoders, from its first chunk to its end (boxed: most
    /// attempts have none, and every task carries an attempt).
    pub(crate) decoder: Option<Box<Decoder>>,
    /// Bytes after decoding, once a decoder has run.
    pub(crate) decoded_bytes: Option<u64>,
    /// The server's `Retry-After`, read from a 429 or 503 answer.
    pub(crate) retry_after: Option<Duration>,
    /// Cancelled when the HTTP/1.1 connection carrying the attempt has
    /// closed (the lean transport sets it): an attempt that ends midway
    /// waits for it, so the request has left the server before its permit
    /// lets another start.
    pub(crate) connection: Option<tokio_util::sync::CancellationToken>,
}

impl Attempt {
    /// Notes the response head: status, HTTP version, time to first byte
    /// and any `Retry-After`, and moves the item to the `receiving` phase.
    /// All three carriers hand over the `http` crate's types, so this is
    /// their one reading of a head.
    pub(crate) fn answered(
        &mut self,
        spec: &TaskSpec,
        (status, version): (http::StatusCode, http::Version),
        headers: &http::HeaderMap,
    ) {
        self.ttfb_us = Some(micros(spec.dispatched.elapsed()));
        self.status = Some(status.as_u16());
        self.http = http_version(version);
        self.reason = status.canonical_reason().unwrap_or("");
        let value = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok());
        self.retry_after = retry_after(status.as_u16(), value);
        self.note_encoding(headers);
        spec.tracker
            .answered(status.as_u16(), self.ttfb_us.unwrap_or_default());
        spec.tracker.set_phase(Phase::Receiving);
    }

    /// Reads `Content-Encoding`. The record shows what the server said, cut
    /// to a bounded length (it is the server's text; the JSON writer escapes it).
    fn note_encoding(&mut self, headers: &http::HeaderMap) {
        let values = headers.get_all(http::header::CONTENT_ENCODING);
        self.codings = decode::codings(values.iter().map(http::HeaderValue::as_bytes));
        if self.codings != Codings::Identity {
            let said: Vec<String> = values
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            let mut said = said.join(", ");
            if said.len() > MAX_ENCODING_SHOWN {
                let cut = (0..=MAX_ENCODING_SHOWN)
                    .rev()
                    .find(|&i| said.is_char_boundary(i))
                    .unwrap_or(0);
                said.truncate(cut);
            }
            self.encoding = Some(said);
        }
    }

    /// Counts a body chunk into the attempt; fails once the body passes
    /// `--max-body`, so an endless body ends the attempt instead of the
    /// memory. A compressed body is decoded here as it comes (when the
    /// options decode), and its decoded size is held to `--max-body` too.
    pub(crate) fn take_chunk(
        &mut self,
        chunk: &[u8],
        options: &RequestOptions,
        spec: &TaskSpec,
    ) -> Result<(), Failure> {
        let n = chunk.len() as u64;
        self.bytes += n;
        spec.tracker.add_bytes(n);
        if self.bytes > options.max_body {
            return Err(body_too_large(options.max_body));
        }
        if self.decoder.is_none()
            && self.decoded_bytes.is_none()
            && let Codings::Known(codings) = &self.codings
            && options.decodes()
        {
            let decoder = Decoder::new(codings, options.buffers_body(), options.max_body)
                .map_err(|e| decode_failure(e, decode::names(codings), options.max_body))?;
            self.decoder = Some(Box::new(decoder));
        }
        match self.decoder.as_mut() {
            Some(d) => d
                .write(chunk)
                .map_err(|e| decode_failure(e, d.describe(), options.max_body)),
            None => {
                if options.buffers_body() {
                    self.body.extend_from_slice(chunk);
                }
                Ok(())
            }
        }
    }

    /// The body has been read to its end: a decoder flushes what it still
    /// holds, and a body cut short of its coding's end fails as `decode`.
    pub(crate) fn end_of_body(&mut self) -> Result<(), Failure> {
        let Some(mut d) = self.decoder.take() else {
            return Ok(());
        };
        let finished = d
            .finish()
            .map_err(|e| decode_failure(e, d.describe(), d.max()));
        self.decoded_bytes = Some(d.decoded());
        self.body = d.take_kept();
        finished
    }

    /// How the attempt ended, once its transfer is over: an error status
    /// is a failure too.
    pub(crate) fn verdict(&self, outcome: Result<(), Failure>) -> Result<(), Failure> {
        outcome?;
        match self.status.and_then(ErrorKind::from_status) {
            Some(kind) => {
                let code = self.status.unwrap_or_default();
                let message = format!("{code} {}", self.reason).trim_end().to_string();
                Err(Failure::new(kind, message))
            }
            None => Ok(()),
        }
    }

    /// The record of the item this (last) attempt finished.
    pub(crate) fn into_record(
        self,
        spec: &TaskSpec,
        latency_us: u64,
        attempts: u32,
        (state, error): (ItemState, Option<Failure>),
        options: &RequestOptions,
    ) -> Record {
        // An attempt that ended midway keeps what its decoder had made of it.
        let mut att = self;
        if let Some(mut d) = att.decoder.take() {
            att.decoded_bytes = Some(d.decoded());
            att.body = d.take_kept();
        }
        // A body cut at --max-body or left half decoded is not what the
        // server sent: keeping it (16 MiB of a bomb's zeros, as JSON) would
        // only cost memory and output.
        let cut = error
            .as_ref()
            .is_some_and(|e| matches!(e.kind, ErrorKind::BodyTooLarge | ErrorKind::Decode));
        let kept = if cut {
            Kept::default()
        } else {
            keep(options, &att.body, att.status.is_some())
        };
        Record {
            status: att.status,
            http: att.http,
            ttfb_us: att.ttfb_us,
            bytes: att.bytes,
            decoded_bytes: att.decoded_bytes,
            encoding: att.encoding,
            body: kept.body,
            body_base64: kept.body_base64,
            fields: kept.fields,
            ..bare_record(
                spec.seq,
                Arc::clone(&spec.url),
                spec.line,
                latency_us,
                attempts,
                (state, error),
            )
        }
    }
}

/// A record without an answer in it: the base of every record, so a field
/// added to [`Record`] is filled in one place.
fn bare_record(
    seq: u64,
    url: Arc<str>,
    line: Option<u64>,
    latency_us: u64,
    attempts: u32,
    (state, error): (ItemState, Option<Failure>),
) -> Record {
    Record {
        seq,
        url,
        state,
        status: None,
        http: None,
        latency_us,
        ttfb_us: None,
        bytes: 0,
        decoded_bytes: None,
        encoding: None,
        attempts,
        error,
        line,
        body: None,
        body_base64: None,
        fields: None,
    }
}

/// The record of an item cancelled by a command, made at once from what its
/// tracker knows (attempts, the answer's status, bytes) rather than waiting
/// for its task to wind down; the task's own record is then not used. It
/// keeps no body: the item did not end with an answer.
pub(crate) fn settled_record(
    seq: u64,
    url: Arc<str>,
    line: Option<u64>,
    since: Instant,
    progress: crate::registry::Progress,
) -> Record {
    let ending = (ItemState::Cancelled, Some(cancelled()));
    let mut r = bare_record(
        seq,
        url,
        line,
        micros(since.elapsed()),
        progress.attempts,
        ending,
    );
    r.status = progress.status;
    r.ttfb_us = progress.ttfb_us;
    r.bytes = progress.bytes;
    r
}

/// The record of an item that failed before any attempt could tell
/// anything (a task that died, an item refused at dispatch): no attempt
/// counted, latency from `since`.
pub(crate) fn failed_record(
    seq: u64,
    url: Arc<str>,
    line: Option<u64>,
    since: Instant,
    failure: Failure,
) -> Record {
    let ending = (ItemState::Failed, Some(failure));
    bare_record(seq, url, line, micros(since.elapsed()), 0, ending)
}

/// The record of an item whose attempt was given up on without its answer
/// (a blocking thread that cannot be interrupted, or could not start): the
/// one attempt counts, latency is set by the caller when the end comes.
pub(crate) fn abandoned_record(
    seq: u64,
    url: Arc<str>,
    line: Option<u64>,
    (state, error): (ItemState, Failure),
) -> Record {
    bare_record(seq, url, line, 0, 1, (state, Some(error)))
}

/// How an item ended, from what its last attempt concluded.
pub(crate) fn ending(verdict: Result<(), Failure>) -> (ItemState, Option<Failure>) {
    match verdict {
        Err(f) if f.kind == ErrorKind::Cancelled => (ItemState::Cancelled, Some(f)),
        Err(f) => (ItemState::Failed, Some(f)),
        Ok(()) => (ItemState::Done, None),
    }
}

/// Microseconds, saturating: a record's time fields.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The failure of an item cancelled by a command.
pub(crate) fn cancelled() -> Failure {
    Failure::new(ErrorKind::Cancelled, "cancelled by request")
}

/// The failure of an attempt that outlived `--timeout`, in the words every
/// model uses whichever clock noticed it.
pub(crate) fn timeout(limit: Duration) -> Failure {
    Failure::new(
        ErrorKind::Timeout,
        format!(
            "no complete response within {}",
            humantime::format_duration(limit)
        ),
    )
}

/// Longest `Content-Encoding` text a record keeps.
const MAX_ENCODING_SHOWN: usize = 100;

/// The failure of a body its decoders stopped on. The words name the
/// codings as this build knows them, never the server's own text.
fn decode_failure(e: DecodeError, codings: String, max_body: u64) -> Failure {
    match e {
        DecodeError::TooLarge => Failure::new(
            ErrorKind::BodyTooLarge,
            format!("decoded body exceeds --max-body of {max_body} bytes"),
        ),
        DecodeError::Invalid(e) => Failure::new(
            ErrorKind::Decode,
            format!("cannot decode the body (Content-Encoding: {codings}): {e}"),
        ),
    }
}

/// The failure for a body over `--max-body`.
fn body_too_large(max: u64) -> Failure {
    Failure::new(
        ErrorKind::BodyTooLarge,
        format!("body exceeds --max-body of {max} bytes"),
    )
}

/// The wait a `status` answer asks for through its `Retry-After` value.
/// Only 429 and 503 are read: elsewhere the header does not ask the client
/// to come back later.
pub(crate) fn retry_after(status: u16, value: Option<&str>) -> Option<Duration> {
    if !matches!(status, 429 | 503) {
        return None;
    }
    value.and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// What a record keeps of a body.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// JSON as JSON, UTF-8 text as a string.
    pub(crate) body: Option<serde_json::Value>,
    /// Any other body, in base64.
    pub(crate) body_base64: Option<String>,
    /// Values picked by `--extract`.
    pub(crate) fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The body and extracted fields a record keeps, as the options ask. A
/// body is kept so that every byte can be got back: JSON parsed, UTF-8
/// text as a string, anything else in base64.
pub(crate) fn keep(options: &RequestOptions, body: &[u8], responded: bool) -> Kept {
    if !responded || (!options.keep_body && options.extract.is_empty()) {
        return Kept::default();
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let fields = (!options.extract.is_empty()).then(|| {
        options
            .extract
            .iter()
            .map(|p| {
                let v = parsed.as_ref().and_then(|v| v.pointer(p)).cloned();
                (p.clone(), v.unwrap_or(serde_json::Value::Null))
            })
            .collect()
    });
    if !options.keep_body {
        return Kept {
            fields,
            ..Kept::default()
        };
    }
    let (body, body_base64) = match (parsed, std::str::from_utf8(body)) {
        (Some(json), _) => (Some(json), None),
        (None, Ok(text)) => (Some(serde_json::Value::String(text.to_owned())), None),
        (None, Err(_)) => {
            use base64::Engine as _;
            (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(body)),
            )
        }
    };
    Kept {
        body,
        body_base64,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_json_strings_and_fields() {
        let opts = RequestOptions {
            keep_body: true,
            extract: vec!["/name".into(), "/missing".into()],
            ..RequestOptions::default()
        };
        let kept = keep(&opts, br#"{"name":"item-1","id":1}"#, true);
        assert_eq!(kept.body.unwrap()["id"], 1);
        assert!(kept.body_base64.is_none());
        let fields = kept.fields.unwrap();
        assert_eq!(fields["/name"], "item-1");
        assert_eq!(fields["/missing"], serde_json::Value::Null);
        let text = keep(&opts, "plain text, ünïcode".as_bytes(), true);
        assert_eq!(text.body.unwrap(), "plain text, ünïcode");
        // Not UTF-8: base64 in a field of its own, every byte kept.
        let binary = keep(&opts, b"plain \xff text\x00", true);
        assert!(binary.body.is_none());
        assert_eq!(binary.body_base64.as_deref(), Some("cGxhaW4g/yB0ZXh0AA=="));
        let none = keep(&RequestOptions::default(), b"{}", true);
        assert!(none.body.is_none() && none.fields.is_none() && none.body_base64.is_none());
    }

    #[test]
    fn retry_after_is_read_only_where_it_asks_for_a_wait() {
        assert_eq!(retry_after(429, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(503, Some(" 0 ")), Some(Duration::ZERO));
        assert_eq!(retry_after(200, Some("2")), None);
        assert_eq!(retry_after(500, Some("2")), None);
        assert_eq!(retry_after(429, None), None);
        assert_eq!(retry_after(429, Some("soon")), None);
    }

    #[test]
    fn error_statuses_fail_the_attempt_in_words() {
        let att = Attempt {
            status: Some(503),
            reason: "Service Unavailable",
            ..Attempt::default()
        };
        let f = att.verdict(Ok(())).unwrap_err();
        assert_eq!(
            (f.kind, f.message.as_str()),
            (ErrorKind::Http5xx, "503 Service Unavailable")
        );
        let odd = Attempt {
            status: Some(599),
            ..Attempt::default()
        };
        assert_eq!(odd.verdict(Ok(())).unwrap_err().message, "599");
        let ok = Attempt {
            status: Some(200),
            ..Attempt::default()
        };
        assert!(ok.verdict(Ok(())).is_ok());
        assert_eq!(
            ok.verdict(Err(cancelled())).unwrap_err().kind,
            ErrorKind::Cancelled
        );
    }

    fn spec() -> TaskSpec {
        let counters = Arc::new(super::super::registry::PhaseCounters::default());
        TaskSpec {
            seq: 1,
            url: Arc::from("http://h/x"),
            line: None,
            token: tokio_util::sync::CancellationToken::new(),
            tracker: Arc::new(super::super::registry::Tracker::new(counters)),
            dispatched: Instant::now(),
        }
    }

    #[test]
    fn chunks_count_until_the_body_limit() {
        let spec = spec();
        let options = RequestOptions {
            max_body: 5,
            keep_body: true,
            ..RequestOptions::default()
        };
        let mut att = Attempt::default();
        assert!(att.take_chunk(b"abc", &options, &spec).is_ok());
        assert!(att.take_chunk(b"de", &options, &spec).is_ok());
        let f = att.take_chunk(b"f", &options, &spec).unwrap_err();
        assert_eq!(f.kind, ErrorKind::BodyTooLarge);
        assert_eq!((att.bytes, spec.tracker.bytes()), (6, 6));
        assert_eq!(att.body, b"abcde", "the chunk over the limit is not kept");
        let mut unbuffered = Attempt::default();
        let plain = RequestOptions::default();
        assert!(unbuffered.take_chunk(b"abc", &plain, &spec).is_ok());
        assert!(unbuffered.body.is_empty());
    }

    #[test]
    fn a_compressed_body_is_decoded_as_its_chunks_come() {
        use std::io::Write as _;
        let spec = spec();
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(br#"{"a":1}"#).unwrap();
        let gz = e.finish().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_ENCODING, "gzip".parse().unwrap());
        let keep = RequestOptions {
            keep_body: true,
            ..RequestOptions::default()
        };
        let mut att = Attempt::default();
        att.answered(
            &spec,
            (http::StatusCode::OK, http::Version::HTTP_11),
            &headers,
        );
        for piece in gz.chunks(3) {
            att.take_chunk(piece, &keep, &spec).unwrap();
        }
        att.end_of_body().unwrap();
        assert_eq!((att.bytes, att.decoded_bytes), (gz.len() as u64, Some(7)));
        assert_eq!(
            spec.tracker.bytes(),
            gz.len() as u64,
            "progress counts the wire"
        );
        let r = att.into_record(&spec, 1, 1, (ItemState::Done, None), &keep);
        assert_eq!(r.body.unwrap()["a"], 1);
        assert_eq!(r.encoding.as_deref(), Some("gzip"));

        // Not decoded (--raw): the wire bytes are the body.
        let raw = RequestOptions { raw: true, ..keep };
        let mut att = Attempt::default();
        att.answered(
            &spec,
            (http::StatusCode::OK, http::Version::HTTP_11),
            &headers,
        );
        att.take_chunk(&gz, &raw, &spec).unwrap();
        att.end_of_body().unwrap();
        assert_eq!(
            (att.body.as_slice(), att.decoded_bytes),
            (gz.as_slice(), None)
        );
    }

    #[test]
    fn records_without_an_answer() {
        let since = Instant::now();
        let r = failed_record(7, Arc::from("http://h/x"), Some(3), since, cancelled());
        assert_eq!((r.seq, r.line, r.attempts), (7, Some(3), 0));
        assert_eq!(r.state, ItemState::Failed);
        assert_eq!(r.status, None);
        assert_eq!(
            timeout(Duration::from_secs(2)).message,
            "no complete response within 2s"
        );
        assert_eq!(
            body_too_large(10).message,
            "body exceeds --max-body of 10 bytes"
        );
    }
}
