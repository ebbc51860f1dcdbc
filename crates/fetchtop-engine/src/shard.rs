//! One shard: an OS thread running a current-thread tokio runtime of its
//! own, with its own admission loop, connections, statistics and in-flight
//! registry, and still one tokio task per item inside it.
//!
//! A shard's loop owns all of its mutable state, so nothing here takes a
//! lock. It shares with the other shards only the admission's atomics, the
//! feed's cursor and read-only settings; it talks to the control plane by a
//! report per snapshot tick (never per request) and hears commands on a
//! channel of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::admission::Admission;
use super::blocking::Blocking;
use super::executor::Executor;
use super::feed::{Feed, Supply};
use super::model::{Model, Runner};
use super::pace::Pacer;
use super::pipeline::{failed_record, settled_record};
use super::record::{ErrorKind, Failure, Record};
use super::registry::{Entry, PhaseCounters, Registry, Tracker};
use super::seqset::SeqSet;
use super::source::Item;
use super::stats::{DERIVE_EVERY, ShardStats, Tally};
use super::task::{FetchContext, TaskSpec};
use crate::snapshot::{ExecutorView, StateCounts, TaskView};
use crate::table::TableOrder;

/// Items started or completions handled per loop turn, so commands and
/// reports never wait behind a flood.
const BATCH: usize = 256;

/// What the control plane tells one shard.
#[derive(Debug)]
pub(crate) enum ShardCommand {
    /// Cancel this task, if it runs here.
    CancelTask(u64),
    /// Cancel every task in flight here.
    CancelAll,
    /// Start nothing more; end once in flight is empty.
    Stop,
    /// Start nothing more and cancel everything in flight.
    Abort,
    /// Run items still to come under this model.
    SetModel(Model),
    /// Demo runs: blocking work on or off.
    SetBlocking(bool),
    /// Demo runs: blocking work through `spawn_blocking` or inline.
    SetOffload(bool),
    /// A new send schedule (shared by every shard), or none.
    Pace(Option<Arc<Pacer>>),
    /// Report the top rows of this order.
    SetTableOrder(TableOrder),
}

/// What a shard tells the control plane at each tick, and once at its end.
#[derive(Debug)]
pub(crate) struct ShardReport {
    /// Which shard.
    pub shard: usize,
    /// Its counters so far (cumulative).
    pub tally: Tally,
    /// Latencies recorded since its last report that carried some.
    pub latency: Option<Histogram<u64>>,
    /// Items it started.
    pub dispatched: u64,
    /// Items it skipped as already recorded (`--resume`).
    pub skipped: u64,
    /// Its in-flight items by phase.
    pub phases: StateCounts,
    /// Its oldest items in flight.
    pub tasks: Vec<TaskView>,
    /// Its event loop's health.
    pub executor: ExecutorView,
    /// Requests its clients saw from another thread (always 0).
    pub foreign_uses: u64,
    /// It saw the feed end.
    pub source_done: bool,
    /// Sent right after a command, so the screen can show its effect now.
    pub urgent: bool,
    /// Its last report: the shard has ended.
    pub finished: bool,
}

/// Everything a shard needs, handed over when its thread starts.
pub(crate) struct ShardSetup {
    pub id: usize,
    pub ctx: Arc<FetchContext>,
    pub runner: Arc<Runner>,
    pub admission: Arc<Admission>,
    pub feed: Arc<Feed>,
    pub skip: Option<Arc<SeqSet>>,
    pub sink: Option<mpsc::Sender<Record>>,
    pub reports: mpsc::UnboundedSender<ShardReport>,
    pub commands: mpsc::UnboundedReceiver<ShardCommand>,
    pub model: Model,
    pub blocking: Option<Blocking>,
    pub pacer: Option<Arc<Pacer>>,
    pub table_rows: usize,
    pub tick: Duration,
}

/// Starts a shard on a thread of its own.
pub(crate) fn spawn(setup: ShardSetup) -> std::io::Result<std::thread::JoinHandle<()>> {
    super::event_loop::spawn(
        format!("fetchtop-shard-{}", setup.id),
        setup,
        |setup| Shard::new(setup).run(),
        |setup, e| {
            // Without a runtime the shard cannot run anything: it reports
            // itself finished so the run does not wait for it.
            tracing::error!(error = %e, shard = setup.id, "cannot start a shard's runtime");
            let _ = setup.reports.send(ShardReport::empty(setup.id));
        },
        super::event_loop::SHARD_NICE,
    )
}

impl ShardReport {
    fn empty(shard: usize) -> ShardReport {
        ShardReport {
            shard,
            tally: Tally::default(),
            latency: None,
            dispatched: 0,
            skipped: 0,
            phases: StateCounts::default(),
            tasks: Vec::new(),
            executor: ExecutorView::default(),
            foreign_uses: 0,
            source_done: true,
            urgent: true,
            finished: true,
        }
    }
}

/// Sends a task's record when it ends, and a failure record if the task
/// died without one (a panic), so the shard can never wait forever for it.
struct Completion {
    tx: mpsc::UnboundedSender<Record>,
    pending: Option<(u64, Arc<str>, Option<u64>, Instant)>,
}

impl Completion {
    fn send(mut self, record: Record) {
        self.pending = None;
        // The shard holds a sender of its own, so the channel is open while it runs.
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
            let _ = self
                .tx
                .send(failed_record(seq, url, line, dispatched, failure));
        }
    }
}

struct Shard {
    id: usize,
    ctx: Arc<FetchContext>,
    runner: Arc<Runner>,
    admission: Arc<Admission>,
    feed: Arc<Feed>,
    skip: Option<Arc<SeqSet>>,
    sink: Option<mpsc::Sender<Record>>,
    reports: mpsc::UnboundedSender<ShardReport>,
    commands: Option<mpsc::UnboundedReceiver<ShardCommand>>,
    model: Model,
    blocking: Option<Blocking>,
    pacer: Option<Arc<Pacer>>,
    table_rows: usize,
    table_order: TableOrder,
    tick: Duration,
    registry: Registry,
    phases: Arc<PhaseCounters>,
    stats: ShardStats,
    /// When latencies were last handed over.
    latency_sent: Option<Instant>,
    root: CancellationToken,
    stopping: bool,
    source_done: bool,
    /// A permit held while waiting for a list's next item.
    reserved: bool,
    /// Items cancelled and recorded whose tasks have not ended yet; their
    /// own records, when they come, are not used.
    closing: std::collections::HashSet<u64>,
    /// Abort asked: end without waiting for closing tasks.
    aborted: bool,
    dispatched: u64,
    skipped: u64,
    done_tx: mpsc::UnboundedSender<Record>,
    done_rx: mpsc::UnboundedReceiver<Record>,
    executor: Option<Executor>,
    items: Vec<Item>,
    url_buf: String,
}

impl Shard {
    fn new(s: ShardSetup) -> Shard {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Shard {
            id: s.id,
            ctx: s.ctx,
            runner: s.runner,
            admission: s.admission,
            feed: s.feed,
            skip: s.skip,
            sink: s.sink,
            reports: s.reports,
            commands: Some(s.commands),
            model: s.model,
            blocking: s.blocking,
            pacer: s.pacer,
            table_rows: s.table_rows,
            table_order: TableOrder::default(),
            tick: s.tick,
            registry: Registry::default(),
            phases: Arc::new(PhaseCounters::default()),
            stats: ShardStats::default(),
            latency_sent: None,
            root: CancellationToken::new(),
            stopping: false,
            source_done: false,
            reserved: false,
            closing: std::collections::HashSet::new(),
            aborted: false,
            dispatched: 0,
            skipped: 0,
            done_tx,
            done_rx,
            executor: None,
            items: Vec::with_capacity(BATCH),
            url_buf: String::new(),
        }
    }

    fn admitting(&self) -> bool {
        !(self.stopping || self.source_done)
    }

    async fn run(mut self) {
        let admission = Arc::clone(&self.admission);
        let id = self.id;
        self.executor = Some(Executor::start_with(move || admission.beat(id)));
        let Some(mut commands) = self.commands.take() else {
            return;
        };
        let mut ticker = tokio::time::interval(self.tick);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut done_buf = Vec::with_capacity(BATCH);
        let admission = Arc::clone(&self.admission);
        let feed = Arc::clone(&self.feed);
        let mut commands_open = true;

        loop {
            if !self.admitting()
                && self.registry.is_empty()
                && (self.closing.is_empty() || self.aborted)
            {
                break;
            }
            let admit = if self.admitting() {
                self.admit()
            } else {
                Admit::Idle
            };
            let more = admit == Admit::More;
            let slot_due = match admit {
                Admit::Slot(at) => Some(tokio::time::Instant::from_std(at)),
                _ => None,
            };
            let waiting_for_item = self.reserved && self.admitting();
            tokio::select! {
                biased;
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => {
                        self.apply(cmd).await;
                        self.report(true, false);
                    }
                    // The control plane is gone: nobody will read the run.
                    None => {
                        commands_open = false;
                        self.abort().await;
                    }
                },
                _ = ticker.tick() => self.report(false, false),
                item = feed.next(), if waiting_for_item => {
                    self.reserved = false;
                    match item {
                        Some(item) => self.start(item, None),
                        None => {
                            self.admission.release(self.id, 1);
                            self.saw_end();
                        }
                    }
                }
                () = crate::deadline::sleep_until(slot_due), if slot_due.is_some() => {}
                _ = self.done_rx.recv_many(&mut done_buf, BATCH) => {
                    let (mut ended, mut closed) = (0, 0);
                    for record in done_buf.drain(..) {
                        if self.closing.remove(&record.seq) {
                            // Recorded when it was cancelled.
                            closed += 1;
                            continue;
                        }
                        if self.registry.remove(record.seq).is_some() {
                            ended += 1;
                        }
                        self.finish(record).await;
                    }
                    self.admission.release(self.id, ended);
                    self.admission.closed(self.id, closed);
                }
                () = admission.room_changed(id), if self.admitting() && !more => {}
                () = std::future::ready(()), if more => {}
            }
        }
        if self.reserved {
            self.admission.release(self.id, 1);
        }
        self.report(true, true);
    }

    /// Starts what the limit, the model, the rate and the feed allow now,
    /// up to a batch, and says what to wait for next.
    fn admit(&mut self) -> Admit {
        if self.reserved {
            return Admit::Idle;
        }
        if self.feed.ended() {
            self.saw_end();
            return Admit::Idle;
        }
        let now = Instant::now();
        let mut want = BATCH as u64;
        if let Some(p) = &self.pacer {
            want = want.min(p.available(now));
            if want == 0 {
                return Admit::Slot(p.next_due());
            }
        }
        let want = self.runner.room(self.model, want);
        let mut got = self
            .admission
            .acquire(self.id, want, self.model.in_flight_cap());
        // Under --rate each start needs a slot as well as a permit.
        let mut slots = None;
        if let Some(p) = &self.pacer
            && got > 0
        {
            let (first, n) = p.claim(got, now);
            self.admission.release(self.id, got - n);
            got = n;
            slots = Some((Arc::clone(p), first));
        }
        if got == 0 {
            return Admit::Idle;
        }
        let mut items = std::mem::take(&mut self.items);
        let supply = self.feed.take(got, &mut items, &mut self.url_buf);
        let taken = items.len() as u64;
        if taken == 0 && supply == Supply::More && self.feed.is_stream() && slots.is_none() {
            // The list reader is behind: wait for its next item, holding one
            // permit so it can start the moment it comes.
            self.reserved = true;
            self.admission.release(self.id, got - 1);
        } else {
            self.admission.release(self.id, got - taken);
        }
        if supply == Supply::Ended {
            self.saw_end();
        }
        for (i, item) in items.drain(..).enumerate() {
            let at = slots.as_ref().map(|(p, first)| p.slot(first + i as u64));
            self.start(item, at);
        }
        self.items = items;
        if taken == want && taken > 0 {
            Admit::More
        } else {
            Admit::Idle
        }
    }

    fn saw_end(&mut self) {
        if !self.source_done {
            self.source_done = true;
            // The others may be waiting for room that no item will need.
            self.admission.set_limit(self.admission.limit());
        }
    }

    /// Starts `item` (its permit already held), unless a resumed run
    /// already has it. Under `--rate`, `slot` is when it was meant to
    /// start, and its latency counts from then.
    fn start(&mut self, item: Item, slot: Option<Instant>) {
        if self.skip.as_ref().is_some_and(|s| s.contains(item.seq)) {
            self.skipped += 1;
            self.admission.release(self.id, 1);
            return;
        }
        self.dispatched += 1;
        let now = slot.map_or_else(Instant::now, |at| at.min(Instant::now()));
        if let Some(defect) = item.defect {
            let failure = Failure::new(ErrorKind::Input, defect);
            self.admission.release(self.id, 1);
            // Through the completion channel, like every other ending.
            let _ = self
                .done_tx
                .send(failed_record(item.seq, item.url, item.line, now, failure));
            return;
        }
        let token = self.root.child_token();
        let tracker = Arc::new(Tracker::new(Arc::clone(&self.phases)));
        self.registry.insert(
            item.seq,
            Entry {
                url: Arc::clone(&item.url),
                line: item.line,
                dispatched: now,
                token: token.clone(),
                tracker: Arc::clone(&tracker),
            },
        );
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
        self.stats.record(&record);
        if let Some(e) = record
            .error
            .as_ref()
            .filter(|e| e.kind != ErrorKind::Cancelled)
        {
            // Outside text, made inert: a log is read on a terminal too.
            tracing::debug!(
                seq = record.seq,
                url = %crate::text::inert(&record.url),
                error = %crate::text::inert(&e.to_string()),
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

    async fn apply(&mut self, cmd: ShardCommand) {
        match cmd {
            ShardCommand::CancelTask(id) => {
                if let Some(entry) = self.registry.remove(id) {
                    self.settle(id, entry).await;
                }
            }
            ShardCommand::CancelAll => self.settle_all().await,
            ShardCommand::Stop => self.stop(),
            ShardCommand::Abort => self.abort().await,
            ShardCommand::SetModel(model) => self.model = model,
            ShardCommand::SetBlocking(on) => {
                if let Some(b) = &mut self.blocking {
                    b.on = on;
                }
            }
            ShardCommand::SetOffload(offload) => {
                if let Some(b) = &mut self.blocking {
                    b.offload = offload;
                }
            }
            ShardCommand::Pace(pacer) => self.pacer = pacer,
            ShardCommand::SetTableOrder(order) => self.table_order = order,
        }
    }

    /// Cancels an item and records it cancelled now, from what its tracker
    /// knows. Its task still has to wind down (drop its request, close its
    /// connection): 18,000 of them take the better part of a second on one
    /// thread, and a reader pressing cancel-all should see 0 in flight at
    /// once. Its permit is held until the task has ended.
    async fn settle(&mut self, seq: u64, entry: Entry) {
        entry.token.cancel();
        entry.tracker.retire();
        let record = settled_record(
            seq,
            entry.url,
            entry.line,
            entry.dispatched,
            entry.tracker.progress(),
        );
        self.closing.insert(seq);
        self.admission.settled(self.id, 1);
        self.finish(record).await;
    }

    async fn settle_all(&mut self) {
        let entries: Vec<(u64, Entry)> = self.registry.drain().collect();
        for (seq, entry) in entries {
            self.settle(seq, entry).await;
        }
    }

    async fn abort(&mut self) {
        self.stop();
        self.aborted = true;
        self.settle_all().await;
        self.root.cancel();
    }

    fn stop(&mut self) {
        self.stopping = true;
    }

    /// Tells the control plane where this shard is.
    fn report(&mut self, urgent: bool, finished: bool) {
        let now = Instant::now();
        // Histograms travel at the rate they are read, and always at the end.
        let due = self
            .latency_sent
            .is_none_or(|at| now.saturating_duration_since(at) >= DERIVE_EVERY);
        let latency = if finished || due {
            self.latency_sent = Some(now);
            self.stats.take_latency()
        } else {
            None
        };
        let mut phases = StateCounts::default();
        self.phases.fill(&mut phases);
        let mut executor = ExecutorView::default();
        if let Some(e) = &mut self.executor {
            e.fill_loop(&mut executor);
        }
        let report = ShardReport {
            shard: self.id,
            tally: self.stats.tally().clone(),
            latency,
            dispatched: self.dispatched,
            skipped: self.skipped,
            phases,
            tasks: if finished {
                Vec::new()
            } else {
                self.registry.top(now, self.table_rows, self.table_order)
            },
            executor,
            foreign_uses: self.ctx.foreign_uses(),
            source_done: self.source_done,
            urgent,
            finished,
        };
        // The control plane outlives every shard; if it is gone, nobody listens.
        let _ = self.reports.send(report);
    }
}

/// What a shard's admission step leaves it waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Admit {
    /// There may be room for more at once.
    More,
    /// Room, an item or a command: the other branches of the loop.
    Idle,
    /// The next send slot, under `--rate`.
    Slot(Instant),
}
