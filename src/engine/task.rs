//! One fetch: the life of a single item, from dispatch to its [`Record`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Client, Url};
use tokio_util::sync::CancellationToken;

use super::http::RequestOptions;
use super::record::{ErrorKind, Failure, ItemState, Phase, Record};
use super::registry::Tracker;

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
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Fetches one item and says how it ended. Never panics on anything the
/// input or the server does; every outcome is a record.
pub async fn run(ctx: Arc<FetchContext>, spec: TaskSpec) -> Record {
    spec.tracker.set_phase(Phase::Waiting);
    let mut att = Attempt::default();
    let outcome = match check_url(&spec.url) {
        Err(f) => Err(f),
        Ok(url) => {
            let timeout = ctx.options.timeout;
            tokio::select! {
                biased;
                _ = spec.token.cancelled() => Err(Failure::new(ErrorKind::Cancelled, "cancelled by request")),
                r = tokio::time::timeout(timeout, fetch(&ctx, url, &spec, &mut att)) => match r {
                    Ok(r) => r,
                    Err(_) => Err(Failure::new(
                        ErrorKind::Timeout,
                        format!("no complete response within {}", humantime::format_duration(timeout)),
                    )),
                },
            }
        }
    };
    let latency_us = micros(spec.dispatched.elapsed());
    let (state, error) = match outcome {
        Err(f) if f.kind == ErrorKind::Cancelled => (ItemState::Cancelled, Some(f)),
        Err(f) => (ItemState::Failed, Some(f)),
        Ok(()) => match att.status.and_then(ErrorKind::from_status) {
            Some(kind) => {
                let code = att.status.unwrap_or_default();
                let message = format!("{code} {}", att.reason).trim_end().to_string();
                (ItemState::Failed, Some(Failure::new(kind, message)))
            }
            None => (ItemState::Done, None),
        },
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
        attempts: 1,
        error,
        line: spec.line,
        body,
        fields,
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

/// The body and extracted fields a record keeps, as the options ask (shared
/// with the threads model, so both keep the same things).
pub(crate) fn keep(
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
        ] {
            let f = check_url(bad).unwrap_err();
            assert_eq!(f.kind, ErrorKind::InvalidUrl, "{bad}");
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
