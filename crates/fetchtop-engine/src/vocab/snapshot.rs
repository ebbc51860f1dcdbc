//! What every reader of a run sees: plain data, `Clone + Send`, no behaviour.
//!
//! The engine publishes a fresh [`Snapshot`] through a `tokio::sync::watch`
//! channel at a fixed rate; the dashboard, the headless progress line and the
//! summary all read from it and from nothing else.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::Model;
use super::record::{ErrorKind, Phase};

/// Where the run is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Admitting new items up to the concurrency limit.
    #[default]
    Running,
    /// Admitting nothing (limit 0 or paused); in-flight requests carry on.
    Paused,
    /// Admitting nothing more; waiting for in-flight requests to end.
    Stopping,
    /// Every admitted item has ended.
    Finished,
}

impl RunState {
    /// Lower-case name for text output.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Stopping => "stopping",
            RunState::Finished => "finished",
        }
    }
}

/// How many items are in each state right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Spawned but not yet started.
    pub queued: u64,
    /// Opening a connection (plain HTTP; TLS connects count as waiting).
    pub connecting: u64,
    /// Waiting for response headers.
    pub waiting: u64,
    /// Response headers arrived; reading the body.
    pub receiving: u64,
    /// Waiting before trying again (`--retries`).
    pub retrying: u64,
    /// Finished with a successful response.
    pub done: u64,
    /// Finished with an error or an error status.
    pub failed: u64,
    /// Cancelled by a command before it finished.
    pub cancelled: u64,
}

impl StateCounts {
    /// Items that have ended, one way or another.
    pub fn finished(&self) -> u64 {
        self.done + self.failed + self.cancelled
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value seen.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// How many values these are computed from.
    pub count: u64,
}

/// One bar of the latency histogram: how many responses took at most `le_ms`
/// (and more than the previous bar's bound).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramBar {
    /// Upper bound of the bar, in milliseconds.
    pub le_ms: f64,
    /// Responses in the bar.
    pub count: u64,
}

/// One point per second of run time, for charts over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Seconds since the run started (end of the second this point covers).
    pub t_s: u64,
    /// Items that completed (done or failed, not cancelled) during that second.
    pub finished: u64,
    /// In-flight count at the end of that second.
    pub in_flight: u64,
    /// Concurrency limit at the end of that second (0 while paused).
    pub limit: u64,
}

/// What one second of the run did, for time series (`--timeseries`): the
/// items that ended in it, the latency of just its responses, its errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondStats {
    /// Seconds since the run started at the end of the stretch covered.
    pub t_s: u64,
    /// How long the stretch is, in seconds: 1 for a whole second, less for
    /// the one in progress (see [`Snapshot::second_now`]).
    pub span_s: f64,
    /// Items completed (done or failed, not cancelled) in it.
    pub completed: u64,
    /// Of those, failures (errors and error statuses).
    pub failed: u64,
    /// Items cancelled in it.
    pub cancelled: u64,
    /// Responses in it: what the latency is computed from.
    pub responses: u64,
    /// In-flight count at its end.
    pub in_flight: u64,
    /// Effective concurrency limit at its end (0 while paused).
    pub limit: u64,
    /// Latency of its responses (`count` is `responses`).
    pub latency: Percentiles,
    /// Errors in it by kind, indexed by [`ErrorKind::index`].
    pub errors: [u64; ErrorKind::ALL.len()],
}

/// One request in flight, for the dashboard's "top" table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// Task id (equal to the item's seq).
    pub id: u64,
    /// Where the task is.
    pub phase: Phase,
    /// The URL being fetched (shared with the engine, so cloning is cheap).
    pub url: Arc<str>,
    /// Time since the task was dispatched.
    pub age: Duration,
    /// Body bytes received so far.
    pub bytes: u64,
}

/// One shard: an OS thread with an event loop (a current-thread tokio
/// runtime) of its own, running its share of the tasks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardView {
    /// Shard number, from 0.
    pub id: usize,
    /// Its requests in flight now.
    pub in_flight: u64,
    /// Items it has finished.
    pub finished: u64,
    /// How late its heartbeat fires now, in ms.
    pub lag_now_ms: f64,
    /// 99th percentile of its heartbeat's lag over the last 5 seconds, in ms.
    pub lag_p99_ms: f64,
    /// Largest lag over the last 5 seconds, in ms.
    pub lag_max_ms: f64,
    /// Fraction of its thread's time spent running tasks, last half second.
    pub busy: Option<f64>,
    /// Tasks alive on its runtime.
    pub alive_tasks: usize,
    /// Requests its clients saw from a thread other than its own: always 0
    /// (nothing on a request's path is shared between shards).
    pub foreign_uses: u64,
}

/// How the executor is doing: the heartbeat's lag, the runtime's workers
/// and tasks, the process's OS threads and memory, and the demo switches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutorView {
    /// How new items are run.
    pub model: Model,
    /// Runtime worker threads.
    pub workers: usize,
    /// The runtime is a current-thread one (one thread runs every task).
    pub current_thread: bool,
    /// How late the heartbeat fires now, in ms (growing while a stall lasts).
    pub lag_now_ms: f64,
    /// 99th percentile of the lag over the last 5 seconds, in ms.
    pub lag_p99_ms: f64,
    /// Largest lag over the last 5 seconds, in ms.
    pub lag_max_ms: f64,
    /// 99th percentile of the lag over the whole run, in ms.
    pub lag_run_p99_ms: f64,
    /// Largest lag over the whole run, in ms.
    pub lag_run_max_ms: f64,
    /// Largest lag per 100 ms, oldest first, in µs (for a sparkline).
    pub lag_history_us: Vec<u64>,
    /// Heartbeats measured so far.
    pub beats: u64,
    /// Tasks alive on the runtime.
    pub alive_tasks: usize,
    /// Tasks waiting in the runtime's global queue.
    pub global_queue: usize,
    /// Fraction of the workers' time spent busy over the last half second.
    pub busy: Option<f64>,
    /// How often workers went to sleep for lack of work, per second, over
    /// the last half second (all workers together).
    pub parks_per_s: Option<f64>,
    /// OS threads of the process now.
    pub os_threads: Option<u64>,
    /// Most OS threads seen during the run.
    pub os_threads_peak: Option<u64>,
    /// Resident memory now, in bytes.
    pub rss_bytes: Option<u64>,
    /// Most OS threads the threads model starts at once.
    pub thread_cap: u64,
    /// Threads the threads model has running now.
    pub item_threads: u64,
    /// Demo switches, when this is a demo run.
    pub demo: Option<DemoSwitches>,
    /// The shards, in order (one per event loop).
    pub shards: Vec<ShardView>,
    /// Shards taking new items now (the first ones); the others have
    /// their thread and loop but nothing to run until needed.
    pub active_shards: usize,
}

/// One fetchtop process among several watched together (`fetchtop
/// attach`). A run of the engine itself has none: only a reader that
/// merges instances' snapshots fills these.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// Where it is watched (its URL).
    pub name: String,
    /// Its job shard, "K/N", when it said.
    pub job_shard: Option<String>,
    /// It stopped answering; its last numbers are kept, not zeroed.
    pub lost: bool,
    /// Its run has finished.
    pub finished: bool,
    /// Requests in flight, as last seen.
    pub in_flight: u64,
    /// Its limit, as last seen (0 while paused).
    pub limit: u64,
    /// Items it has ended, as last seen.
    pub ended: u64,
    /// Its heartbeat lag now, in ms.
    pub lag_ms: f64,
    /// Why it refused or missed the last command, if it did.
    pub command_error: Option<String>,
}

/// The demo-only blocking switches, as the engine has them now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DemoSwitches {
    /// Some items do blocking work.
    pub blocking: bool,
    /// The blocking work goes through `spawn_blocking`.
    pub offload: bool,
    /// The blocking work in words ("every 10th item sleeps 50ms").
    pub work: String,
    /// Items that have done their blocking work so far.
    pub blocked_items: u64,
}

/// One change of the limit made by `--adaptive`, or by the hand that
/// turned it off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitChange {
    /// Seconds since the run started.
    pub t_s: f64,
    /// The limit before.
    pub from: u64,
    /// The limit after.
    pub to: u64,
    /// Why, in words.
    pub why: String,
}

/// `--adaptive` as the engine has it now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveView {
    /// The engine moves the limit itself.
    pub on: bool,
    /// Highest limit it sets (`--adaptive-max`).
    pub max: u64,
    /// The p99 it keeps under, in ms (`--target-p99`).
    pub target_p99_ms: Option<f64>,
    /// The changes so far, oldest first (the newest few thousand; shared,
    /// so a snapshot copies a pointer).
    pub changes: Arc<VecDeque<LimitChange>>,
    /// Older changes no longer kept.
    pub dropped: u64,
}

/// One step of a `--sweep`: the limit held, and what it gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepStep {
    /// The concurrency limit held.
    pub limit: u64,
    /// Successful responses per second while it was held (after settling).
    pub rps: f64,
    /// Median latency, in ms.
    pub p50_ms: f64,
    /// 99th percentile latency, in ms.
    pub p99_ms: f64,
    /// Items that failed (errors and error statuses, 429 included).
    pub errors: u64,
    /// Items completed while measured.
    pub completed: u64,
    /// How long it was measured, in seconds.
    pub secs: f64,
    /// Throughput and p99 were steady when the step ended (else it ran
    /// out of time).
    pub steady: bool,
}

/// A `--sweep` as it goes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepView {
    /// The lowest limit tried.
    pub min: u64,
    /// The highest limit it may try.
    pub max: u64,
    /// The steps measured so far.
    pub steps: Arc<Vec<SweepStep>>,
    /// The limit being measured now, while the sweep runs.
    pub current: Option<u64>,
    /// The smallest limit within a few percent of the best throughput,
    /// once the sweep has ended.
    pub knee: Option<u64>,
    /// Why the sweep ended, once it has.
    pub ended: Option<String>,
}

/// Everything a reader needs to draw one frame or print one line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// What is being fetched, in words.
    pub target: String,
    /// Time since the run started.
    pub elapsed: Duration,
    /// The `-z` duration, when the run is bounded by time.
    pub duration: Option<Duration>,
    /// Where the run is.
    pub state: RunState,
    /// Concurrency limit set by the user (kept while paused), after the cap.
    pub limit: u64,
    /// Highest limit the system's open-files limit allows.
    pub ceiling: u64,
    /// Commands the engine has applied so far: a reader that sent N knows
    /// a snapshot with `commands >= N` shows their effect.
    pub commands: u64,
    /// A limit asked for above the ceiling, while it is capped.
    pub requested_limit: Option<u64>,
    /// Whether admission is paused.
    pub paused: bool,
    /// Most items started per second (`--rate`), when there is a rate.
    pub rate_limit: Option<f64>,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Items cancelled (and counted so) whose connections are still
    /// closing; they still count against the limit until they have.
    pub closing: u64,
    /// Highest in-flight count so far.
    pub max_in_flight: u64,
    /// Items the source will produce, when known.
    pub total: Option<u64>,
    /// Items handed to a task so far.
    pub dispatched: u64,
    /// Items not fetched because an earlier run recorded them (`--resume`).
    pub skipped: u64,
    /// The source has no more items.
    pub source_done: bool,
    /// Per-state counts.
    pub counts: StateCounts,
    /// Latency over the whole run (items that got a response).
    pub latency: Percentiles,
    /// Latency over the last few seconds.
    pub latency_recent: Percentiles,
    /// Log-spaced histogram of the whole run's latency.
    pub histogram: Vec<HistogramBar>,
    /// Log-spaced histogram of the last few seconds' latency.
    pub histogram_recent: Vec<HistogramBar>,
    /// The whole run's latency histogram itself (µs, 3 significant
    /// figures), for readers that merge runs exactly (`--metrics`'s
    /// /snapshot, the summary). Refreshed with the percentiles, shared, so a
    /// snapshot copies a pointer, not the buckets. Not in a recording
    /// (`--record` keeps the screen, whose bars and percentiles are above;
    /// a histogram in every frame would be most of the file).
    #[serde(skip)]
    pub latency_histogram: Option<Arc<hdrhistogram::Histogram<u64>>>,
    /// Response status codes and their counts, ascending by code.
    pub status: Vec<(u16, u64)>,
    /// Error kinds and their counts, most frequent first.
    pub errors: Vec<(ErrorKind, u64)>,
    /// Answers by the HTTP version spoken ("1.1", "2"), in version order.
    #[serde(with = "versions")]
    pub http_versions: Vec<(&'static str, u64)>,
    /// Body bytes received over the run.
    pub bytes: u64,
    /// Attempts after the first, over the run (`--retries`).
    pub retries: u64,
    /// Items completed (done or failed) per second over the last few seconds.
    pub rate_recent: f64,
    /// Items completed (done or failed) per second over the whole run.
    pub rate_overall: f64,
    /// One point per second, the last couple of minutes.
    pub history: Vec<HistoryPoint>,
    /// The last whole seconds in detail, oldest first (about a minute:
    /// enough for a reader that looks at least that often to miss none).
    pub seconds: Vec<SecondStats>,
    /// The second in progress, so far (the last row of a time series).
    pub second_now: SecondStats,
    /// The first requests in flight in `table_order` (bounded; `in_flight`
    /// has the full count).
    pub tasks: Vec<TaskView>,
    /// The order `tasks` were picked and sorted in.
    #[serde(default)]
    pub table_order: super::table::TableOrder,
    /// A problem that ended the source early (an I/O error reading the list).
    pub source_error: Option<String>,
    /// Executor health and the execution model.
    pub executor: ExecutorView,
    /// The limit's own controller (`--adaptive`).
    pub adaptive: AdaptiveView,
    /// The knee finder (`--sweep`), when the run is one.
    pub sweep: Option<SweepView>,
    /// The instances watched, when this snapshot merges several
    /// (`fetchtop attach`); empty for a run of this process.
    pub instances: Vec<InstanceView>,
}

impl Snapshot {
    /// The effective limit: 0 while paused.
    pub fn effective_limit(&self) -> u64 {
        if self.paused { 0 } else { self.limit }
    }

    /// Estimated time left, when the total is known and items are ending.
    /// Not before a few seconds and items, when the rate is still noise.
    pub fn eta(&self) -> Option<Duration> {
        let total = self.total?;
        if self.elapsed < Duration::from_secs(3) || self.counts.finished() < 20 {
            return None;
        }
        let left = total.saturating_sub(self.settled());
        let rate = if self.rate_recent > 0.0 {
            self.rate_recent
        } else {
            self.rate_overall
        };
        (rate > 0.0 && self.state != RunState::Finished)
            .then(|| Duration::from_secs_f64(left as f64 / rate))
    }

    /// Items accounted for: ended in this run, or skipped as already recorded.
    pub fn settled(&self) -> u64 {
        self.counts.finished() + self.skipped
    }

    /// Recent latency when the last seconds had responses, else the whole run's.
    pub fn latency_recent_or_all(&self) -> Percentiles {
        if self.latency_recent.count > 0 {
            self.latency_recent
        } else {
            self.latency
        }
    }

    /// Items with an error, including error statuses (not cancellations).
    pub fn error_count(&self) -> u64 {
        self.counts.failed
    }
}

/// The HTTP versions' names are the engine's own constants: read back, a
/// name is mapped onto its constant (one it does not know is left out).
mod versions {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::record::HTTP_VERSIONS;

    pub fn serialize<S: Serializer>(v: &[(&'static str, u64)], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(&'static str, u64)>, D::Error> {
        let named: Vec<(String, u64)> = Vec::deserialize(d)?;
        Ok(named
            .into_iter()
            .filter_map(|(name, n)| HTTP_VERSIONS.iter().find(|&&v| v == name).map(|&v| (v, n)))
            .collect())
    }
}
