//! The threads model: one OS thread per item in flight, each making a
//! blocking request with `ureq`, up to a cap. The kernel preempts threads,
//! so blocking work inside one stalls nobody else; the price is a stack and
//! a kernel thread per request, which is what the screen shows.
//!
//! A thread cannot be cancelled mid-read: cancelling an item ends its record
//! at once, and the thread finishes its request in the background and
//! throws the result away (it still counts against the cap until it exits).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Context, Result};
use tokio::sync::oneshot;

use crate::blocking::{Plan, WorkCounter};
use crate::http::{DEFAULT_USER_AGENT, RequestOptions};
use crate::pipeline::classify::io_kind;
use crate::pipeline::{Attempt, Retrier, Step, abandoned_record, ending, micros, timeout};
use crate::record::{ErrorKind, Failure, ItemState, Phase, Record};
use crate::task::TaskSpec;
use crate::transport::check_url;

/// Default cap on item threads: far beyond what a machine needs for I/O,
/// well below where thread creation starts failing.
pub const DEFAULT_THREAD_CAP: u64 = 1000;
/// Stack of an item thread: a request needs little, and the default 2 MiB
/// would make the memory column about the stack size rather than the model.
const STACK: usize = 256 * 1024;
/// Bytes read from a body at a time.
const CHUNK: usize = 16 * 1024;

/// The blocking client and the count of live item threads.
pub(crate) struct Threads {
    agent: ureq::Agent,
    options: Arc<RequestOptions>,
    live: Arc<AtomicU64>,
    cap: u64,
}

/// Counts a thread as live until it exits (or fails to start).
struct Live(Arc<AtomicU64>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Threads {
    /// Builds the blocking client from the run's request options.
    pub(crate) fn new(options: &RequestOptions, cap: u64) -> Result<Threads> {
        let idle = usize::try_from(cap).unwrap_or(usize::MAX);
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(options.insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .timeout_connect(Some(options.connect_timeout))
            .max_redirects(u32::try_from(options.redirects).unwrap_or(u32::MAX))
            .max_redirects_will_error(true)
            .max_idle_connections(idle)
            .max_idle_connections_per_host(idle)
            .user_agent(DEFAULT_USER_AGENT)
            .tls_config(tls)
            // Straight to the URL: the run refuses proxies for this model
            // rather than let ureq read the environment by rules of its own.
            .proxy(None)
            .build();
        let agent = ureq::Agent::new_with_config(config);
        // Building the agent cannot fail; the check is that options map onto it.
        let _ = ureq::http::Method::from_bytes(options.method.as_str().as_bytes())
            .context("the threads model cannot send this method")?;
        Ok(Threads {
            agent,
            options: Arc::new(options.clone()),
            live: Arc::new(AtomicU64::new(0)),
            cap: cap.max(1),
        })
    }

    pub(crate) fn live(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    pub(crate) fn cap(&self) -> u64 {
        self.cap
    }

    /// Items that may start now: the limit's room, up to the cap.
    pub(crate) fn room(&self, room: u64) -> u64 {
        room.min(self.cap.saturating_sub(self.live()))
    }

    /// Runs one item on a thread of its own. A tokio task waits for its
    /// record or its cancellation, whichever comes first, and hands it to `done`.
    pub(crate) fn start(
        &self,
        spec: TaskSpec,
        plan: Option<Plan>,
        blocked: WorkCounter,
        done: impl FnOnce(Record) + Send + 'static,
    ) {
        let (tx, rx) = oneshot::channel();
        // Kept now: the spec moves to the thread.
        let (seq, url, line) = (spec.seq, Arc::clone(&spec.url), spec.line);
        self.live.fetch_add(1, Ordering::Relaxed);
        let live = Live(Arc::clone(&self.live));
        let agent = self.agent.clone();
        let options = Arc::clone(&self.options);
        let job = move || {
            let record = fetch(&agent, &options, &spec);
            if let Some(plan) = plan {
                plan.perform_here(&blocked);
            }
            // Not live from here: the record wakes the dispatcher, which must
            // then see room under the cap for the next item.
            drop(live);
            // The receiver is gone when the item was cancelled: nothing to do.
            let _ = tx.send(record);
        };
        let spawned = std::thread::Builder::new()
            .name("fetchtop-item".into())
            .stack_size(STACK)
            .spawn(job);
        if let Err(e) = spawned {
            let why = format!("cannot start a thread for the request: {e}");
            let failure = Failure::new(ErrorKind::Request, why);
            done(abandoned_record(
                seq,
                url,
                line,
                (ItemState::Failed, failure),
            ));
            return;
        }
        // A cancelled item is recorded by the shard at once; this waits for
        // the thread all the same, since its request is still at the server
        // and its permit must hold until it ends (or the limit would not).
        tokio::spawn(async move {
            // A thread that panicked sends nothing: dropping `done` lets the
            // caller's guard record the failure.
            if let Ok(record) = rx.await {
                done(record);
            }
        });
    }
}

/// One item on a blocking thread: attempts, with retries as the async path
/// makes them, each classified the way the async path classifies its own.
fn fetch(agent: &ureq::Agent, options: &RequestOptions, spec: &TaskSpec) -> Record {
    let mut retrier = Retrier::new(options.retry);
    let verdict = loop {
        let mut att = Attempt::default();
        spec.tracker.begin_attempt();
        spec.tracker.set_phase(Phase::Waiting);
        let outcome = check_url(&spec.url)
            .and_then(|url| request(agent, options, url.as_str(), spec, &mut att));
        match retrier.after_attempt(att, outcome, fastrand::f64()) {
            Step::Finish(verdict) => break verdict,
            Step::Wait(wait) => {
                spec.tracker.set_phase(Phase::Retrying);
                if !sleep_unless_cancelled(wait, spec) {
                    break retrier.cancelled();
                }
            }
        }
    };
    let latency_us = micros(spec.dispatched.elapsed());
    let ending = ending(verdict);
    retrier
        .finish()
        .into_record(spec, latency_us, ending, options)
}

/// Sleeps `wait` unless the item is cancelled first; says whether it slept
/// it out. The caller has already answered a cancellation; this thread only
/// has to stop soon, so it wakes every 100 ms to look.
fn sleep_unless_cancelled(wait: Duration, spec: &TaskSpec) -> bool {
    let until = std::time::Instant::now() + wait;
    while !spec.token.is_cancelled() {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
    !spec.token.is_cancelled()
}

fn request(
    agent: &ureq::Agent,
    options: &RequestOptions,
    url: &str,
    spec: &TaskSpec,
    att: &mut Attempt,
) -> Result<(), Failure> {
    let mut builder = ureq::http::Request::builder()
        .method(options.method.as_str())
        .uri(url);
    for (name, value) in &options.headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    if let Some(value) = options.accept_encoding() {
        builder = builder.header("accept-encoding", value.as_bytes());
    }
    let sent = match &options.body {
        Some(body) => builder
            .body(body.as_slice())
            .map_err(|e| Failure::new(ErrorKind::Request, e.to_string()))
            .and_then(|r| agent.run(r).map_err(|e| classify(e, options))),
        None => builder
            .body(ureq::SendBody::none())
            .map_err(|e| Failure::new(ErrorKind::Request, e.to_string()))
            .and_then(|r| agent.run(r).map_err(|e| classify(e, options))),
    };
    let mut response = sent?;
    att.answered(
        spec,
        (response.status(), response.version()),
        response.headers(),
    );
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => att.take_chunk(&chunk[..n], options, spec)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(body_error(&e, options)),
        }
    }
}

/// A read error in the body: ureq wraps its own errors (a timeout among
/// them) in `io::Error`.
fn body_error(e: &std::io::Error, options: &RequestOptions) -> Failure {
    let inner = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>());
    if matches!(inner, Some(ureq::Error::Timeout(_))) || io_kind(e) == Some(ErrorKind::Timeout) {
        return timeout(options.timeout);
    }
    Failure::new(ErrorKind::Body, e.to_string())
}

/// Maps a ureq error onto the shared kinds; a timeout says what the async
/// path's own timer says.
fn classify(e: ureq::Error, options: &RequestOptions) -> Failure {
    let kind = match &e {
        ureq::Error::Timeout(_) => ErrorKind::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => ErrorKind::Connect,
        ureq::Error::Io(io) => io_kind(io).unwrap_or(ErrorKind::Request),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => ErrorKind::Tls,
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => ErrorKind::Redirect,
        ureq::Error::BodyExceedsLimit(_) => ErrorKind::BodyTooLarge,
        ureq::Error::BadUri(_) => ErrorKind::InvalidUrl,
        _ => ErrorKind::Request,
    };
    if kind == ErrorKind::Timeout {
        return timeout(options.timeout);
    }
    Failure::new(kind, e.to_string())
}
