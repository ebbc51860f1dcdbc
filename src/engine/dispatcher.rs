//! The heart of a run: one task that admits items under the live limit,
//! applies commands, collects finished records and publishes snapshots.
//!
//! It owns all mutable run state (limiter, registry, statistics), so nothing
//! here needs a lock. Fetch tasks talk back only through the completion
//! channel and their atomic trackers.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::blocking::Blocking;
use super::command::Command;
use super::executor::Executor;
use super::limiter::Limiter;
use super::model::{Model, Runner};
use super::pace::Pacer;
use super::record::{ErrorKind, Failure, Record};
use super::registry::{Entry, PhaseCounters, Registry, Tracker};
use super::source::{Item, Source};
use super::stats::Stats;
use super::task::{FetchContext, TaskSpec};
use super::{EngineConfig, MAX_CONCURRENCY};
use crate::deadline::sleep_until;
use crate::snapshot::{DemoSwitches, RunState, Snapshot};

/// Items taken from the source or completions handled per loop turn, so
/// commands and snapshots are never kept waiting behind a flood.
const BATCH: usize = 256;
/// Items the source may read ahead of admission.
const READ_AHEAD: usize = 1024;

/// Sends a task's record when it ends, and a failure record if the task
/// died without one (a panic), so the run can never wait forever for it.
struct Completion {
    tx: mpsc::UnboundedSender<Record>,
    pending: Option<(u64, Arc<str>, Option<u64>, Instant)>,
}

impl Completion {
    fn send(mut self, record: Record) {
        self.pending = None;
        // The dispatcher holds a sender of its own, so the channel is open while it runs.
        let _ = self.tx.send(record);
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some((seq, url, line, dispatched)) = self.pending.take() {
            let failure = Failure::new(
                ErrorKind::Request,
                "internal error: the task ended without a result",
            );
            let _ = self.tx.send(failed(seq, url, line, dispatched, failure));
        }
    }
}

fn failed(seq: u64, url: Arc<str>, line: Option<u64>, since: Instant, error: Failure) -> Record {
    super::pipeline::failed_record(seq, url, line, since, error)
}

pub(super) struct Dispatcher {
    config: EngineConfig,
    ctx: Arc<FetchContext>,
    started: Instant,
    limiter: Limiter,
    pacer: Option<Pacer>,
    /// Highest limit the open-files limit allows.
    ceiling: u64,
    /// Commands applied so far.
    commands: u64,
    /// The last limit asked for above the ceiling, while it is capped.
    requested: Option<u64>,
    registry: Registry,
    phases: Arc<PhaseCounters>,
    stats: Stats,
    root: CancellationToken,
    stopping: bool,
    source_done: bool,
    dispatched: u64,
    skipped: u64,
    max_in_flight: u64,
    total: Option<u64>,
    total_rx: Option<oneshot::Receiver<u64>>,
    source_error: Option<String>,
    target: String,
    source: Option<Source>,
    sink: Option<mpsc::Sender<Record>>,
    snapshots: watch::Sender<Snapshot>,
    done_tx: mpsc::UnboundedSender<Record>,
    done_rx: mpsc::UnboundedReceiver<Record>,
    runner: Runner,
    model: Model,
    blocking: Option<Blocking>,
    executor: Option<Executor>,
}

impl Dispatcher {
    pub(super) fn new(
        config: EngineConfig,
        ctx: Arc<FetchContext>,
        runner: Runner,
        source: Source,
        sink: Option<mpsc::Sender<Record>>,
        snapshots: watch::Sender<Snapshot>,
    ) -> Dispatcher {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let ceiling = config.ceiling.clamp(1, MAX_CONCURRENCY);
        let limit = config.concurrency.min(ceiling);
        Dispatcher {
            ctx,
            started: Instant::now(),
            limiter: Limiter::new(limit),
            pacer: config.rate.map(Pacer::new),
            ceiling,
            commands: 0,
            requested: (config.concurrency > ceiling).then_some(config.concurrency),
            registry: Registry::default(),
            phases: Arc::new(PhaseCounters::default()),
            stats: Stats::new(),
            root: CancellationToken::new(),
            stopping: false,
            source_done: false,
            dispatched: 0,
            skipped: 0,
            max_in_flight: 0,
            total: source.total(),
            total_rx: None,
            source_error: None,
            target: source.describe(),
            source: Some(source),
            sink,
            snapshots,
            done_tx,
            done_rx,
            runner,
            model: config.model,
            blocking: config.demo_blocking,
            executor: None,
            config,
        }
    }

    /// Runs to the end and returns the final snapshot.
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Snapshot {
        let (item_tx, mut items) = mpsc::channel::<Item>(READ_AHEAD);
        let (source_task, total_rx) = self.start_source(item_tx);
        self.total_rx = total_rx;
        self.executor = Some(Executor::start());
        self.started = Instant::now();
        let deadline = self
            .config
            .duration
            .map(|d| tokio::time::Instant::from_std(self.started + d));
        let mut ticker = tokio::time::interval(self.config.snapshot_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut item_buf = Vec::with_capacity(BATCH);
        let mut done_buf = Vec::with_capacity(BATCH);

        loop {
            if (self.stopping || self.source_done) && self.registry.is_empty() {
                break;
            }
            let admitting = !(self.stopping || self.source_done);
            let mut room = if admitting {
                let room = self.limiter.room().min(BATCH as u64);
                self.runner.room(self.model, room, self.limiter.in_flight()) as usize
            } else {
                0
            };
            if let Some(p) = &self.pacer {
                room = room.min(p.available());
            }
            let pacing = admitting
                && !self.limiter.is_paused()
                && self.pacer.as_ref().is_some_and(Pacer::wants_slots);
            tokio::select! {
                biased;
                Some(cmd) = commands.recv() => {
                    self.apply(cmd, &mut items);
                    self.commands += 1;
                    // Readers see a command's effect at once, not at the next tick.
                    self.publish(RunStateHint::Live);
                }
                _ = ticker.tick() => {
                    self.publish(RunStateHint::Live);
                }
                _ = sleep_until(deadline), if deadline.is_some() && !self.stopping => {
                    self.stop(&mut items);
                }
                at = next_slot(self.pacer.as_ref()), if pacing => {
                    if let Some(p) = &mut self.pacer {
                        p.push(at);
                    }
                }
                n = items.recv_many(&mut item_buf, room), if room > 0 => {
                    if n == 0 {
                        self.source_done = true;
                    }
                    for item in item_buf.drain(..) {
                        self.dispatch(item).await;
                    }
                }
                _ = self.done_rx.recv_many(&mut done_buf, BATCH) => {
                    for record in done_buf.drain(..) {
                        self.finish(record).await;
                    }
                }
            }
        }

        drop(items);
        if let Ok(Err(e)) = source_task.await {
            self.source_error = Some(e);
        }
        self.publish(RunStateHint::Finished)
    }

    fn start_source(
        &mut self,
        tx: mpsc::Sender<Item>,
    ) -> (
        JoinHandle<Result<(), String>>,
        Option<oneshot::Receiver<u64>>,
    ) {
        let Some(source) = self.source.take() else {
            return (tokio::spawn(async { Ok(()) }), None);
        };
        // A list file's length is learnt in the background, for progress and ETA.
        let total_rx = source.counter().map(|count| {
            let (tx, rx) = oneshot::channel();
            tokio::task::spawn_blocking(move || {
                if let Ok(n) = count() {
                    let _ = tx.send(n);
                }
            });
            rx
        });
        (tokio::spawn(source.run(tx)), total_rx)
    }

    fn apply(&mut self, cmd: Command, items: &mut mpsc::Receiver<Item>) {
        tracing::info!(command = ?cmd, "command applied");
        match cmd {
            Command::SetConcurrency(n) => {
                self.requested = (n > self.ceiling).then_some(n);
                self.limiter.set_limit(n.min(self.ceiling));
            }
            Command::CancelTask(id) => {
                self.registry.cancel(id);
            }
            Command::CancelAll => {
                self.registry.cancel_all();
            }
            Command::SetRate(rate) => match &mut self.pacer {
                Some(p) => p.set_rate(rate),
                None => self.pacer = Some(Pacer::new(rate)),
            },
            Command::Pause => self.limiter.pause(),
            Command::Resume => self.limiter.resume(),
            Command::Stop => self.stop(items),
            Command::Abort => {
                self.stop(items);
                self.root.cancel();
            }
            Command::SetModel(model) => self.model = model,
            Command::SetBlocking(on) => {
                if let Some(b) = &mut self.blocking {
                    b.on = on;
                }
            }
            Command::SetOffload(offload) => {
                if let Some(b) = &mut self.blocking {
                    b.offload = offload;
                }
            }
        }
        // Nothing was meant to be sent while paused: a resumed run starts a
        // fresh schedule rather than a burst of stale slots.
        if self.limiter.is_paused()
            && let Some(p) = &mut self.pacer
        {
            p.reset();
        }
    }

    fn stop(&mut self, items: &mut mpsc::Receiver<Item>) {
        self.stopping = true;
        // The source notices the closed channel and ends without reading further.
        items.close();
    }

    /// Starts `item`, unless a resumed run already has it. Under `--rate`
    /// it takes the oldest send slot, and its latency counts from then.
    async fn dispatch(&mut self, item: Item) {
        if self
            .config
            .skip
            .as_ref()
            .is_some_and(|s| s.contains(item.seq))
        {
            self.skipped += 1;
            return;
        }
        self.dispatched += 1;
        let now = self
            .pacer
            .as_mut()
            .and_then(Pacer::take)
            .unwrap_or_else(Instant::now);
        if let Some(defect) = item.defect {
            let failure = Failure::new(ErrorKind::Input, defect);
            self.finish(failed(item.seq, item.url, item.line, now, failure))
                .await;
            return;
        }
        let token = self.root.child_token();
        let tracker = Arc::new(Tracker::new(Arc::clone(&self.phases)));
        self.registry.insert(
            item.seq,
            Entry {
                url: Arc::clone(&item.url),
                dispatched: now,
                token: token.clone(),
                tracker: Arc::clone(&tracker),
            },
        );
        self.limiter.started();
        self.max_in_flight = self.max_in_flight.max(self.limiter.in_flight());
        let completion = Completion {
            tx: self.done_tx.clone(),
            pending: Some((item.seq, Arc::clone(&item.url), item.line, now)),
        };
        let spec = TaskSpec {
            seq: item.seq,
            url: item.url,
            line: item.line,
            token,
            tracker,
            dispatched: now,
        };
        let plan = self.blocking.and_then(|b| b.plan(item.seq));
        let ctx = Arc::clone(&self.ctx);
        self.runner
            .start(self.model, ctx, spec, plan, move |record| {
                completion.send(record);
            });
    }

    async fn finish(&mut self, record: Record) {
        if self.registry.remove(record.seq).is_some() {
            self.limiter.ended();
        }
        self.stats.record(&record, self.started.elapsed());
        if let Some(e) = record
            .error
            .as_ref()
            .filter(|e| e.kind != ErrorKind::Cancelled)
        {
            // Outside text, made inert: a log is read on a terminal too.
            tracing::debug!(
                seq = record.seq,
                url = %crate::format::inert(&record.url),
                error = %crate::format::inert(&e.to_string()),
                "item failed"
            );
        }
        if let Some(sink) = &self.sink
            && sink.send(record).await.is_err()
        {
            // The writer is gone (it failed and said why); keep counting.
            self.sink = None;
        }
    }

    fn run_state(&self, hint: RunStateHint) -> RunState {
        match hint {
            RunStateHint::Finished => RunState::Finished,
            RunStateHint::Live if self.stopping => RunState::Stopping,
            RunStateHint::Live if self.limiter.is_paused() => RunState::Paused,
            RunStateHint::Live => RunState::Running,
        }
    }

    fn publish(&mut self, hint: RunStateHint) -> Snapshot {
        if let Some(rx) = &mut self.total_rx
            && let Ok(n) = rx.try_recv()
        {
            self.total = Some(n);
            self.total_rx = None;
        }
        let elapsed = self.started.elapsed();
        let in_flight = self.limiter.in_flight();
        let effective = if self.limiter.is_paused() {
            0
        } else {
            self.limiter.limit()
        };
        self.stats.tick(elapsed, in_flight, effective);
        let mut snap = Snapshot {
            target: self.target.clone(),
            elapsed,
            duration: self.config.duration,
            state: self.run_state(hint),
            limit: self.limiter.limit(),
            ceiling: self.ceiling,
            commands: self.commands,
            requested_limit: self.requested,
            paused: self.limiter.is_paused(),
            rate_limit: self.pacer.as_ref().map(Pacer::rate),
            in_flight,
            max_in_flight: self.max_in_flight,
            total: self.total,
            dispatched: self.dispatched,
            skipped: self.skipped,
            source_done: self.source_done,
            tasks: self.registry.oldest(Instant::now(), self.config.table_rows),
            source_error: self.source_error.clone(),
            ..Snapshot::default()
        };
        self.phases.fill(&mut snap.counts);
        self.stats
            .fill(&mut snap, matches!(hint, RunStateHint::Finished));
        self.fill_executor(&mut snap);
        self.snapshots.send_replace(snap.clone());
        snap
    }
}

/// The pacer's next slot; never resolves without a pacer (its branch is
/// disabled then anyway).
async fn next_slot(pacer: Option<&Pacer>) -> Instant {
    match pacer {
        Some(p) => p.next_slot().await,
        None => std::future::pending().await,
    }
}

impl Dispatcher {
    fn fill_executor(&mut self, snap: &mut Snapshot) {
        let view = &mut snap.executor;
        if let Some(executor) = &mut self.executor {
            executor.fill(view);
        }
        view.model = self.model;
        view.thread_cap = self.runner.thread_cap();
        view.item_threads = self.runner.item_threads();
        view.demo = self.blocking.map(|b| DemoSwitches {
            blocking: b.on,
            offload: b.offload,
            work: b.work.describe(),
            blocked_items: self.runner.blocked_items(),
        });
    }
}

#[derive(Clone, Copy)]
enum RunStateHint {
    Live,
    Finished,
}
