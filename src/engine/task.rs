//! One fetch: the life of a single item, from dispatch to its [`Record`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::http::RequestOptions;
use super::record::{ErrorKind, Failure, ItemState, Phase, Record};
use super::registry::Tracker;
use super::transport::{Target, Transport};

/// What every task of a run shares: the transports and the request options.
#[derive(Debug)]
pub struct FetchContext {
    transport: Transport,
    options: RequestOptions,
}

impl FetchContext {
    /// Shares `transport` and `options` among a run's tasks.
    pub fn new(transport: Transport, options: RequestOptions) -> FetchContext {
        FetchContext { transport, options }
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
pub(crate) struct Attempt {
    pub(crate) status: Option<u16>,
    pub(crate) reason: &'static str,
    pub(crate) ttfb_us: Option<u64>,
    pub(crate) bytes: u64,
    pub(crate) body: Vec<u8>,
    /// The server's `Retry-After`, read from a 429 or 503 answer.
    pub(crate) retry_after: Option<Duration>,
}

impl Attempt {
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
}

pub(crate) fn micros(d: Duration) -> u64 {
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
    // Whether the last attempt read its whole body (for --save-bodies).
    let mut body_complete = false;
    let verdict = match ctx.transport.target(&spec.url) {
        Err(f) => Err(f),
        Ok(target) => loop {
            attempts += 1;
            att = Attempt::default();
            spec.tracker.set_phase(Phase::Waiting);
            let timeout = ctx.options.timeout;
            let outcome = tokio::select! {
                biased;
                _ = spec.token.cancelled() => Err(cancelled()),
                r = tokio::time::timeout(timeout, fetch(&ctx, &target, &spec, &mut att)) => match r {
                    Ok(r) => r,
                    Err(_) => Err(Failure::new(
                        ErrorKind::Timeout,
                        format!("no complete response within {}", humantime::format_duration(timeout)),
                    )),
                },
            };
            body_complete = outcome.is_ok() && att.status.is_some();
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
                    body_complete = false;
                    break Err(cancelled());
                }
                _ = tokio::time::sleep(wait) => {}
            }
        },
    };
    // Latency is the server's and the network's, not the time to save a body.
    let latency_us = micros(spec.dispatched.elapsed());
    let (mut state, mut error) = ending(verdict);
    if let Some(dir) = ctx.options.save_bodies.as_deref()
        && body_complete
        && let Err(f) = super::bodies::save(dir, spec.seq, &att.body).await
    {
        state = ItemState::Failed;
        error = Some(f);
    }
    att.into_record(&spec, latency_us, attempts, (state, error), &ctx.options)
}

/// How an item ended, from what its last attempt concluded.
pub(crate) fn ending(verdict: Result<(), Failure>) -> (ItemState, Option<Failure>) {
    match verdict {
        Err(f) if f.kind == ErrorKind::Cancelled => (ItemState::Cancelled, Some(f)),
        Err(f) => (ItemState::Failed, Some(f)),
        Ok(()) => (ItemState::Done, None),
    }
}

impl Attempt {
    /// The record of the item this (last) attempt finished; every execution
    /// model builds its records here, so they cannot drift apart.
    pub(crate) fn into_record(
        self,
        spec: &TaskSpec,
        latency_us: u64,
        attempts: u32,
        (state, error): (ItemState, Option<Failure>),
        options: &RequestOptions,
    ) -> Record {
        let (body, fields) = keep(options, &self.body, self.status.is_some());
        Record {
            seq: spec.seq,
            url: Arc::clone(&spec.url),
            state,
            status: self.status,
            latency_us,
            ttfb_us: self.ttfb_us,
            bytes: self.bytes,
            attempts,
            error,
            line: spec.line,
            body,
            fields,
        }
    }
}

/// One attempt, on whichever transport the target belongs to.
async fn fetch(
    ctx: &FetchContext,
    target: &Target,
    spec: &TaskSpec,
    att: &mut Attempt,
) -> Result<(), Failure> {
    ctx.transport.attempt(target, &ctx.options, spec, att).await
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
    if !responded || (!options.keep_body && options.extract.is_empty()) {
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
