//! One fetch: the life of a single item, from dispatch to its [`Record`].

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::http::RequestOptions;
use super::pipeline::{Attempt, Retrier, Step, cancelled, ending, micros, timeout};
use super::record::{Failure, ItemState, Phase, Record};
use super::registry::Tracker;
use super::transport::{Target, Transport};

/// What every task of a run shares: the transports and the request options.
#[derive(Debug)]
pub struct FetchContext {
    transport: Transport,
    options: RequestOptions,
    /// The thread (the shard) whose tasks use these clients.
    owner: std::sync::OnceLock<u64>,
    /// Requests made from any other thread: always 0, since each shard has
    /// clients of its own. The check behind "no lock on the hot path is
    /// shared between shards": a pool touched from one thread only cannot
    /// be contended by another.
    foreign: std::sync::atomic::AtomicU64,
}

impl FetchContext {
    /// Shares `transport` and `options` among a run's tasks.
    pub fn new(transport: Transport, options: RequestOptions) -> FetchContext {
        FetchContext {
            transport,
            options,
            owner: std::sync::OnceLock::new(),
            foreign: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Requests made through these clients from a thread other than the
    /// first one to use them.
    pub fn foreign_uses(&self) -> u64 {
        self.foreign.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn note_thread(&self) {
        let me = thread_tag();
        if *self.owner.get_or_init(|| me) != me {
            self.foreign
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// How long an attempt that ended midway waits for its connection to close.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A number of this thread's own, cheaper to read per request than
/// `thread::current().id()` (which clones the thread's handle).
fn thread_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TAG: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TAG.with(|t| *t)
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

/// Fetches one item and says how it ended. Never panics on anything the
/// input or the server does; every outcome is a record.
///
/// Each attempt has the whole `--timeout`; between attempts the task is in
/// the `retrying` phase, and a cancellation ends the wait at once.
pub async fn run(ctx: Arc<FetchContext>, spec: TaskSpec) -> Record {
    ctx.note_thread();
    let mut retrier = Retrier::new(ctx.options.retry);
    let verdict = match ctx.transport.target(&spec.url) {
        Err(f) => Err(f),
        Ok(target) => loop {
            let mut att = Attempt::default();
            spec.tracker.begin_attempt();
            spec.tracker.set_phase(Phase::Waiting);
            let limit = ctx.options.timeout;
            let outcome = tokio::select! {
                biased;
                _ = spec.token.cancelled() => Err(cancelled()),
                r = tokio::time::timeout(limit, fetch(&ctx, &target, &spec, &mut att)) => {
                    r.unwrap_or_else(|_| Err(timeout(limit)))
                }
            };
            // The attempt's future is gone: a connection it left midway
            // (cancelled, timed out, broken) is closing now. Its request is
            // still at the server until it has, so the item holds its permit
            // until then (bounded: a connection that will not close is not
            // waited for long).
            if outcome.is_err()
                && let Some(conn) = att.connection.take()
            {
                let _ = tokio::time::timeout(CLOSE_WAIT, conn.cancelled()).await;
            }
            match retrier.after_attempt(att, outcome, fastrand::f64()) {
                Step::Finish(verdict) => break verdict,
                Step::Wait(wait) => {
                    spec.tracker.set_phase(Phase::Retrying);
                    tokio::select! {
                        biased;
                        _ = spec.token.cancelled() => break retrier.cancelled(),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        },
    };
    // Latency is the server's and the network's, not the time to save a body.
    let latency_us = micros(spec.dispatched.elapsed());
    let last = retrier.finish();
    let (mut state, mut error) = ending(verdict);
    if let Some(dir) = ctx.options.save_bodies.as_deref()
        && last.complete
        && let Err(f) = super::bodies::save(dir, spec.seq, &last.answer.body).await
    {
        state = ItemState::Failed;
        error = Some(f);
    }
    last.into_record(&spec, latency_us, (state, error), &ctx.options)
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
