//! One fetch: the life of a single item, from dispatch to its [`Record`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Client, Url};
use tokio_util::sync::CancellationToken;

use super::http::RequestOptions;
use super::record::{ErrorKind, Failure, ItemState, Phase, Record};
use super::registry::Tracker;
use super::retry::parse_retry_after;

/// What every task of a run shares: the client and the request options.
#[derive(Debug)]
pub struct FetchContext {
    client: Client,
    options: RequestOptions,
    body: Option<Bytes>,
}

impl FetchContext {
    /// Shares `client` and `options` among a run's tasks.
    pub fn new(client: Client, options: RequestOptions) -> FetchContext {
        let body = options.body.clone().map(Bytes::from);
        FetchContext {
            client,
            options,
            body,
        }
    }
}

/// One item handed to a task by the dispatcher.
#[derive(Debug)]
pub struct TaskSpec {
    /// Position in the source; the task id.
    pub seq: u64,
    /// URL text as the source gave it.
    pub url: Arc<str>,
    /// Line number, for list sources.
    pub line: Option<u64>,
    /// Cancels this task (a child of the run's token).
    pub token: CancellationToken,
    /// Live progress for the table and the phase counts.
    pub tracker: Arc<Tracker>,
    /// When the dispatcher started it: latency counts from here.
    pub dispatched: Instant,
}

/// What one attempt learned, kept even when it fails midway.
#[derive(Default)]
struct Attempt {
    status: Option<u16>,
    reason: &'static str,
    ttfb_us: Option<u64>,
    bytes: u64,
    body: Vec<u8>,
    /// The server's `Retry-After`, read from a 429 or 503 answer.
    retry_after: Option<Duration>,
}

impl Attempt {
    /// How the attempt ended, once its transfer is over: an error status
    /// is a failure too.
    fn verdict(&self, outcome: Result<(), Failure>) -> Result<(), Failure> {
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
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn cancelled() -> Failure {
    Failure::new(ErrorKind::Cancelled, "cancelled by request")
}

/// Fetches one item and says how it ended. Never panics on anything the
/// input or the server does; every outcome is a record.
///
/// Each attempt has the whole `--timeout`; between attempts the task is in
/// the `retrying` phase, and a cancellation ends the wait at once.
pub async fn run(ctx: Arc<FetchContext>, spec: TaskSpec) -> Record {
    let policy = ctx.options.retry;
    let mut att = Attempt::default();
    let mut attempts = 0u32;
    let verdict = match check_url(&spec.url) {
        Err(f) => Err(f),
        Ok(url) => loop {
            attempts += 1;
            att = Attempt::default();
            spec.tracker.set_phase(Phase::Waiting);
            let timeout = ctx.options.timeout;
            let outcome = tokio::select! {
                biased;
                _ = spec.token.cancelled() => Err(cancelled()),
                r = tokio::time::timeout(timeout, fetch(&ctx, url.clone(), &spec, &mut att)) => match r {
                    Ok(r) => r,
                    Err(_) => Err(Failure::new(
                        ErrorKind::Timeout,
                        format!("no complete response within {}", humantime::format_duration(timeout)),
                    )),
                },
            };
            let verdict = att.verdict(outcome);
            let Err(failure) = &verdict else {
                break verdict;
            };
            if !policy.should_retry(attempts, failure) {
                break verdict;
            }
            let wait = policy.delay(attempts, att.retry_after, fastrand::f64());
            spec.tracker.set_phase(Phase::Retrying);
            tokio::select! {
                biased;
                _ = spec.token.cancelled() => {
                    // The last answer stays in the record; the item ends cancelled.
                    break Err(cancelled());
                }
                _ = tokio::time::sleep(wait) => {}
            }
        },
    };
    let latency_us = micros(spec.dispatched.elapsed());
    let (state, error) = match verdict {
        Err(f) if f.kind == ErrorKind::Cancelled => (ItemState::Cancelled, Some(f)),
        Err(f) => (ItemState::Failed, Some(f)),
        Ok(()) => (ItemState::Done, None),
    };
    let (body, fields) = keep(&ctx.options, &att.body, att.status.is_some());
    Record {
        seq: spec.seq,
        url: spec.url,
        state,
        status: att.status,
        latency_us,
        ttfb_us: att.ttfb_us,
        bytes: att.bytes,
        attempts,
        error,
        line: spec.line,
        body,
        fields,
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

async fn fetch(
    ctx: &FetchContext,
    url: Url,
    spec: &TaskSpec,
    att: &mut Attempt,
) -> Result<(), Failure> {
    let mut request = ctx.client.request(ctx.options.method.clone(), url);
    if let Some(body) = &ctx.body {
        request = request.body(body.clone());
    }
    let mut response = request.send().await.map_err(classify)?;
    att.ttfb_us = Some(micros(spec.dispatched.elapsed()));
    att.status = Some(response.status().as_u16());
    att.reason = response.status().canonical_reason().unwrap_or("");
    if matches!(att.status, Some(429 | 503)) {
        att.retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    }
    spec.tracker.set_phase(Phase::Receiving);
    let buffer = ctx.options.buffers_body();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        let n = chunk.len() as u64;
        att.bytes += n;
        spec.tracker.add_bytes(n);
        if att.bytes > ctx.options.max_body {
            return Err(Failure::new(
                ErrorKind::BodyTooLarge,
                format!("body exceeds --max-body of {} bytes", ctx.options.max_body),
            ));
        }
        if buffer {
            att.body.extend_from_slice(&chunk);
        }
    }
    Ok(())
}

/// The body and extracted fields a record keeps, as the options ask.
fn keep(
    options: &RequestOptions,
    body: &[u8],
    responded: bool,
) -> (
    Option<serde_json::Value>,
    Option<serde_json::Map<String, serde_json::Value>>,
) {
    if !responded || !options.buffers_body() {
        return (None, None);
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
    let body = options.keep_body.then(|| {
        parsed.unwrap_or_else(|| serde_json::Value::String(String::from_utf8_lossy(body).into()))
    });
    (body, fields)
}

/// Sorts a reqwest error into a kind, with a message that names the cause
/// (the whole chain of sources) but not the URL, which the record has already.
fn classify(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if is_tls(&e) {
        ErrorKind::Tls
    } else if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_redirect() {
        ErrorKind::Redirect
    } else if e.is_body() || e.is_decode() {
        ErrorKind::Body
    } else {
        ErrorKind::Request
    };
    Failure::new(kind, chain(&e))
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

fn is_tls(e: &reqwest::Error) -> bool {
    sources(e)
        .iter()
        .any(|s| s.downcast_ref::<rustls::Error>().is_some())
}

fn chain(e: &reqwest::Error) -> String {
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
    fn keeps_json_strings_and_fields() {
        let opts = RequestOptions {
            keep_body: true,
            extract: vec!["/name".into(), "/missing".into()],
            ..RequestOptions::default()
        };
        let (body, fields) = keep(&opts, br#"{"name":"item-1","id":1}"#, true);
        assert_eq!(body.unwrap()["id"], 1);
        let fields = fields.unwrap();
        assert_eq!(fields["/name"], "item-1");
        assert_eq!(fields["/missing"], serde_json::Value::Null);
        let (body, _) = keep(&opts, b"plain \xff text", true);
        assert_eq!(
            body.unwrap(),
            serde_json::Value::String("plain \u{fffd} text".into())
        );
        let (body, fields) = keep(&RequestOptions::default(), b"{}", true);
        assert!(body.is_none() && fields.is_none());
    }
}
