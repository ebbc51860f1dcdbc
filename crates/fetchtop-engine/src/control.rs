//! The control plane: one thread with an event loop of its own that merges
//! the shards' reports into the snapshot readers see, applies the readers'
//! commands (the limit and pause itself, through the admission's atomics;
//! the rest by fanning them out to every shard), runs a list source's
//! reader, and ends the run when every shard has ended.
//!
//! It is off the hot path: it hears from each shard once per tick, never
//! once per request, so a wave of completions on one shard delays neither
//! snapshots nor keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::admission::Admission;
use super::blocking::Blocking;
use super::command::Command;
use super::executor::{fill_process, merge_loops};
use super::feed::Feed;
use super::limiter::Limiter;
use super::model::{Model, Runner};
use super::on_demand::OnDemand;
use super::pace::Pacer;
use super::shard::{ShardCommand, ShardReport};
use super::source::ListReaderTask;
use super::stats::{Stats, Tally};
use super::tuning::{AdaptiveRun, SweepRun};
use crate::deadline::sleep_until;
use crate::snapshot::{DemoSwitches, ExecutorView, RunState, ShardView, Snapshot, StateCounts};
use crate::table::TableOrder;

/// What the control plane keeps of one shard: its latest report.
struct ShardState {
    commands: mpsc::UnboundedSender<ShardCommand>,
    last: Option<ShardReport>,
    finished: bool,
}

/// Everything the control plane starts with.
pub(crate) struct ControlSetup {
    pub started: Instant,
    pub duration: Option<Duration>,
    pub tick: Duration,
    pub table_rows: usize,
    pub limit: u64,
    pub ceiling: u64,
    pub requested: Option<u64>,
    pub pacer: Option<Arc<Pacer>>,
    pub model: Model,
    pub blocking: Option<Blocking>,
    pub target: String,
    pub total: Option<u64>,
    pub counter: Option<Box<dyn FnOnce() -> std::io::Result<u64> + Send>>,
    pub reader: Option<ListReaderTask>,
    pub admission: Arc<Admission>,
    /// Start one shard and add more as they pay (see [`OnDemand`]), rather
    /// than running every shard from the start.
    pub on_demand: bool,
    pub feed: Arc<Feed>,
    pub runner: Arc<Runner>,
    pub shards: Vec<mpsc::UnboundedSender<ShardCommand>>,
    pub adaptive: AdaptiveRun,
    pub sweep: Option<SweepRun>,
    pub reports: mpsc::UnboundedReceiver<ShardReport>,
    pub snapshots: watch::Sender<Snapshot>,
}

/// Starts the control plane on a thread of its own; the final snapshot
/// comes through the returned receiver.
pub(crate) fn spawn(
    setup: ControlSetup,
    commands: mpsc::Receiver<Command>,
) -> std::io::Result<oneshot::Receiver<Snapshot>> {
    let (done_tx, done_rx) = oneshot::channel();
    super::event_loop::spawn(
        "fetchtop-control".into(),
        (setup, commands, done_tx),
        |(setup, commands, done_tx)| async move {
            let snap = Control::new(setup).run(commands).await;
            let _ = done_tx.send(snap);
        },
        // Dropping the sender tells the waiting reader the engine broke.
        |_, e| tracing::error!(error = %e, "cannot start the control plane's runtime"),
        0,
    )?;
    Ok(done_rx)
}

struct Control {
    s: ControlSetup,
    limiter: Limiter,
    commands: u64,
    stopping: bool,
    stats: Stats,
    shards: Vec<ShardState>,
    total_rx: Option<oneshot::Receiver<u64>>,
    source_error: Option<String>,
    /// The order the in-flight table asks for.
    table_order: TableOrder,
    process_peak: u64,
    on_demand: Option<OnDemand>,
}

impl Control {
    fn new(mut s: ControlSetup) -> Control {
        let shards = std::mem::take(&mut s.shards)
            .into_iter()
            .map(|commands| ShardState {
                commands,
                last: None,
                finished: false,
            })
            .collect();
        Control {
            limiter: Limiter::new(s.limit),
            commands: 0,
            stopping: false,
            stats: Stats::new(),
            shards,
            total_rx: None,
            source_error: None,
            table_order: TableOrder::default(),
            process_peak: 0,
            on_demand: s.on_demand.then(OnDemand::new),
            s,
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) -> Snapshot {
        // A list file's length is learnt in the background, for progress and ETA.
        if let Some(count) = self.s.counter.take() {
            let (tx, rx) = oneshot::channel();
            tokio::task::spawn_blocking(move || {
                if let Ok(n) = count() {
                    let _ = tx.send(n);
                }
            });
            self.total_rx = Some(rx);
        }
        let mut reader: Option<JoinHandle<Result<(), String>>> =
            self.s.reader.take().map(|r| tokio::spawn(r.run()));
        let deadline = self
            .s
            .duration
            .map(|d| tokio::time::Instant::from_std(self.s.started + d));
        let mut ticker = tokio::time::interval(self.s.tick);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut reports = Vec::new();

        while !self.shards.iter().all(|s| s.finished) {
            tokio::select! {
                biased;
                Some(cmd) = commands.recv() => {
                    self.apply(cmd);
                    self.commands += 1;
                    // Readers see a command's effect at once, not at the next tick.
                    self.publish(false);
                }
                n = self.s.reports.recv_many(&mut reports, 64) => {
                    if n == 0 {
                        // Every shard is gone without a last word: nothing more will come.
                        break;
                    }
                    let urgent = reports.iter().any(|r| r.urgent);
                    for report in reports.drain(..) {
                        self.absorb(report);
                    }
                    // Ordinary reports wait for the tick: publishing on each
                    // one too doubled the snapshots built (and cloned by the
                    // readers) for nothing the eye could see.
                    if urgent {
                        self.publish(false);
                    }
                }
                _ = ticker.tick() => {
                    self.publish(false);
                }
                _ = sleep_until(deadline), if deadline.is_some() && !self.stopping => self.stop(),
                r = reader_done(&mut reader), if reader.is_some() => {
                    reader = None;
                    match r {
                        Ok(Err(e)) => self.source_error = Some(e),
                        Ok(Ok(())) => {}
                        Err(e) => self.source_error = Some(format!("the list reader failed: {e}")),
                    }
                }
            }
        }
        // A command sent before the end is applied, so the final snapshot
        // says what the reader asked for (the model, the limit) even when
        // the last shard ended first.
        while let Ok(cmd) = commands.try_recv() {
            self.apply(cmd);
            self.commands += 1;
        }
        if let Some(h) = reader {
            // The shards have ended, so the feed is closed or drained: the
            // reader ends at once (a reader stuck in a read is left behind).
            if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_millis(50), h).await {
                self.source_error = Some(e);
            }
        }
        self.publish(true)
    }

    fn fan_out(&self, cmd: impl Fn() -> ShardCommand) {
        for s in &self.shards {
            // A shard that has ended needs no more commands.
            let _ = s.commands.send(cmd());
        }
    }

    fn apply(&mut self, cmd: Command) {
        tracing::info!(command = ?cmd, "command applied");
        let was_paused = self.limiter.is_paused();
        match cmd {
            Command::SetConcurrency(n) => {
                if self.s.adaptive.is_on() {
                    let from = self.limiter.limit();
                    self.s.adaptive.set_on(false);
                    self.s.adaptive.record(
                        self.s.started.elapsed(),
                        from,
                        n,
                        "set by hand: adaptive off".into(),
                    );
                }
                if let Some(sweep) = &mut self.s.sweep {
                    sweep.cancel("the limit was set by hand");
                }
                self.s.requested = (n > self.s.ceiling).then_some(n);
                self.limiter.set_limit(n.min(self.s.ceiling));
            }
            Command::SetAdaptive(on) => {
                // The sweep holds the limit itself while it runs.
                if !self.s.sweep.as_ref().is_some_and(SweepRun::running) {
                    self.s.adaptive.set_on(on);
                }
            }
            Command::CancelTask(id) => self.fan_out(|| ShardCommand::CancelTask(id)),
            Command::CancelAll => self.fan_out(|| ShardCommand::CancelAll),
            Command::SetRate(rate) => {
                self.s.pacer = Some(Arc::new(Pacer::new(rate)));
                self.share_pacer();
            }
            Command::Pause => self.limiter.pause(),
            Command::Resume => self.limiter.resume(),
            Command::Stop => self.stop(),
            Command::Abort => {
                self.stop();
                self.fan_out(|| ShardCommand::Abort);
            }
            Command::SetModel(model) => {
                self.s.model = model;
                self.fan_out(|| ShardCommand::SetModel(model));
            }
            Command::SetBlocking(on) => {
                if let Some(b) = &mut self.s.blocking {
                    b.on = on;
                }
                self.fan_out(|| ShardCommand::SetBlocking(on));
            }
            Command::SetOffload(offload) => {
                if let Some(b) = &mut self.s.blocking {
                    b.offload = offload;
                }
                self.fan_out(|| ShardCommand::SetOffload(offload));
            }
            Command::SetTableOrder(order) => {
                self.table_order = order;
                self.fan_out(|| ShardCommand::SetTableOrder(order));
            }
        }
        // Nothing was meant to be sent while paused: a resumed run starts a
        // fresh schedule rather than a burst of stale slots.
        if was_paused
            && !self.limiter.is_paused()
            && let Some(p) = &self.s.pacer
        {
            self.s.pacer = Some(Arc::new(Pacer::new(p.rate())));
            self.share_pacer();
        }
        let effective = self.limiter.effective();
        if effective != self.s.admission.limit() {
            self.s.admission.set_limit(effective);
        }
    }

    /// Sets the limit for a tuner (`--adaptive`, `--sweep`), as a command would.
    fn set_limit(&mut self, n: u64) {
        self.s.requested = (n > self.s.ceiling).then_some(n);
        self.limiter.set_limit(n.min(self.s.ceiling));
        let effective = self.limiter.effective();
        if effective != self.s.admission.limit() {
            self.s.admission.set_limit(effective);
        }
    }

    fn share_pacer(&self) {
        if let Some(p) = &self.s.pacer {
            self.fan_out(|| ShardCommand::Pace(Some(Arc::clone(p))));
        }
    }

    fn stop(&mut self) {
        self.stopping = true;
        // Shards notice the closed feed at once; the command tells the idle ones.
        self.s.feed.close();
        self.fan_out(|| ShardCommand::Stop);
        self.s.admission.set_limit(self.s.admission.limit());
    }

    fn absorb(&mut self, mut report: ShardReport) {
        let elapsed = self.s.started.elapsed();
        if let Some(h) = report.latency.take() {
            self.stats.add_latency(&h, elapsed);
        }
        let Some(state) = self.shards.get_mut(report.shard) else {
            return;
        };
        state.finished |= report.finished;
        state.last = Some(report);
    }

    fn reports(&self) -> impl Iterator<Item = &ShardReport> {
        self.shards.iter().filter_map(|s| s.last.as_ref())
    }

    fn run_state(&self, finished: bool) -> RunState {
        if finished {
            RunState::Finished
        } else if self.stopping {
            RunState::Stopping
        } else if self.limiter.is_paused() {
            RunState::Paused
        } else {
            RunState::Running
        }
    }

    /// Moves the number of running shards, when that is left to the engine.
    fn balance(&mut self) {
        let Some(on_demand) = &mut self.on_demand else {
            return;
        };
        let active = self.s.admission.active();
        let busy: Vec<f64> = self
            .shards
            .iter()
            .take(active)
            .filter_map(|s| s.last.as_ref()?.executor.busy)
            .collect();
        let next = on_demand.decide(active, self.shards.len(), &busy);
        if next != active {
            tracing::info!(from = active, to = next, "shards running");
            self.s.admission.set_active(next);
        }
    }

    fn publish(&mut self, finished: bool) -> Snapshot {
        self.balance();
        // A ramp's schedule that has ended ends the run (`--rate-stages`).
        if !self.stopping
            && self
                .s
                .pacer
                .as_ref()
                .is_some_and(|p| p.finished(Instant::now()))
        {
            tracing::info!("the rate schedule has ended");
            self.stop();
        }
        if let Some(rx) = &mut self.total_rx
            && let Ok(n) = rx.try_recv()
        {
            self.s.total = Some(n);
            self.total_rx = None;
        }
        let elapsed = self.s.started.elapsed();
        let mut tally = Tally::default();
        let mut counts = StateCounts::default();
        let (mut dispatched, mut skipped) = (0, 0);
        let mut source_done = false;
        let mut tasks = Vec::new();
        for r in self.reports() {
            tally.add(&r.tally);
            dispatched += r.dispatched;
            skipped += r.skipped;
            source_done |= r.source_done;
            let p = &r.phases;
            counts.queued += p.queued;
            counts.connecting += p.connecting;
            counts.waiting += p.waiting;
            counts.receiving += p.receiving;
            counts.retrying += p.retrying;
            tasks.extend(r.tasks.iter().cloned());
        }
        // Each shard sent the top of this order among its own tasks: the
        // top of their union is the top among all.
        self.table_order.top(&mut tasks, self.s.table_rows);
        self.stats.set_tally(tally);
        // The permits held now, exact at this moment (the shards' reports
        // are up to a tick old): what the limit bounds, and what the screen
        // must show falling to 0 right after a cancel-all.
        let in_flight = self.s.admission.live();
        self.stats
            .tick(elapsed, in_flight, self.limiter.effective());
        let mut snap = Snapshot {
            target: self.s.target.clone(),
            elapsed,
            duration: self.s.duration,
            state: self.run_state(finished),
            limit: self.limiter.limit(),
            ceiling: self.s.ceiling,
            commands: self.commands,
            requested_limit: self.s.requested,
            paused: self.limiter.is_paused(),
            rate_limit: self.s.pacer.as_ref().map(|p| p.rate()),
            in_flight,
            closing: self.s.admission.closing(),
            max_in_flight: self.s.admission.max_in_flight(),
            total: self.s.total,
            dispatched,
            skipped,
            source_done,
            counts,
            tasks,
            table_order: self.table_order,
            source_error: self.source_error.clone(),
            ..Snapshot::default()
        };
        self.stats.fill(&mut snap, finished);
        if !finished && let Some(d) = self.s.adaptive.tick(&snap, self.stats.latency_histogram()) {
            let from = self.limiter.limit();
            tracing::info!(from, to = d.to, why = %d.why, "adaptive limit");
            self.s.adaptive.record(elapsed, from, d.to, d.why);
            self.set_limit(d.to);
            snap.limit = self.limiter.limit();
            snap.requested_limit = self.s.requested;
        }
        if !finished
            && let Some(sweep) = &mut self.s.sweep
            && let Some(act) = sweep.tick(&snap, self.stats.latency_histogram())
        {
            self.set_limit(act.limit);
            snap.limit = self.limiter.limit();
            if act.stop {
                self.stop();
                snap.state = self.run_state(false);
            }
        }
        if let Some(sweep) = &mut self.s.sweep {
            // -z, q, Ctrl-C or the end of the items came first: the knee
            // is what the steps so far say.
            if self.stopping || finished {
                sweep.cancel("the run ended before the sweep did");
            }
            snap.sweep = Some(sweep.view());
        }
        snap.adaptive = self.s.adaptive.view();
        snap.executor = self.executor_view();
        self.s.snapshots.send_replace(snap.clone());
        snap
    }

    fn executor_view(&mut self) -> ExecutorView {
        let loops: Vec<ExecutorView> = self.reports().map(|r| r.executor.clone()).collect();
        let shards: Vec<ShardView> = self
            .reports()
            .map(|r| ShardView {
                id: r.shard,
                in_flight: self
                    .s
                    .admission
                    .held(r.shard)
                    .saturating_sub(self.s.admission.closing_on(r.shard)),
                finished: r.tally.finished(),
                lag_now_ms: r.executor.lag_now_ms,
                lag_p99_ms: r.executor.lag_p99_ms,
                lag_max_ms: r.executor.lag_max_ms,
                busy: r.executor.busy,
                alive_tasks: r.executor.alive_tasks,
                foreign_uses: r.foreign_uses,
            })
            .collect();
        let mut view = merge_loops(&loops);
        // Shards that have not reported yet still run an event loop each.
        view.workers = view.workers.max(self.shards.len());
        view.current_thread = self.shards.len() == 1;
        view.shards = shards;
        view.active_shards = self.s.admission.active();
        fill_process(&mut view, &mut self.process_peak);
        view.model = self.s.model;
        view.thread_cap = self.s.runner.thread_cap();
        view.item_threads = self.s.runner.item_threads();
        view.demo = self.s.blocking.map(|b| DemoSwitches {
            blocking: b.on,
            offload: b.offload,
            work: b.work.describe(),
            blocked_items: self.s.runner.blocked_items(),
        });
        view
    }
}

/// The list reader's end; never resolves without one.
async fn reader_done(
    reader: &mut Option<JoinHandle<Result<(), String>>>,
) -> Result<Result<(), String>, tokio::task::JoinError> {
    match reader {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}
