//! fetchtop's engine: sources, shards, the control plane, one tokio task
//! per item, statistics. It knows nothing of any screen, terminal or
//! command line (no ratatui, crossterm or clap here).
//!
//! [`Engine::spawn`] starts a run and hands back an [`EngineHandle`]: a
//! command sender and a snapshot receiver. Readers (the dashboard, the
//! headless runner, tests) use only those two channels.
//!
//! ```text
//! source ──▶ feed (atomic cursor, or a list reader's queue)
//!              │  items taken only with permits (admission: atomics)
//!              ▼
//!   shard 0 … shard N-1: an OS thread and a current-thread runtime each,
//!   own admission loop, pool, stats and registry; a tokio task per item
//!              │  one report per tick (tallies, histogram deltas, tables)
//!              ▼
//!   control plane (own thread): merge exactly ─▶ watch<Snapshot> ─▶ readers
//!              ▲                              readers ─▶ Command
//!              └── limit, pause (atomics) · the rest fanned out per shard
//! ```
//!
//! The vocabulary (`vocab/`: [`record`], [`command`], [`snapshot`] and the
//! models' names) sits below the mechanisms and imports none of them.

// The vocabulary: plain data every part and every reader shares.
mod vocab;
pub use vocab::{command, record, snapshot, table};

// Sources and the shape of a run.
pub mod adaptive;
pub mod blocking;
pub mod http;
pub mod job_shard;
pub mod model;
pub mod net;
pub mod pace;
pub mod retry;
pub mod seqset;
pub mod source;
pub mod sweep;
pub mod template;

// Mechanisms: how a run goes.
mod admission;
mod control;
mod event_loop;
mod feed;
mod limiter;
mod on_demand;
pub(crate) mod pipeline;
mod registry;
mod shard;
mod task;
mod tuning;

// Parts readers also use.
pub mod bodies;
pub mod deadline;
pub mod error;
pub mod executor;
pub mod stats;
pub mod sys;
pub mod text;
pub mod transport;
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use blocking::{Blocking, BlockingWork};
pub use command::Command;
pub use error::{EngineError, Result};
pub use http::RequestOptions;
pub use model::Model;
pub use record::{ErrorKind, ItemState, Phase, Record};
pub use snapshot::Snapshot;
pub use source::{Source, SourceSpec};
pub use table::{SortBy, TableOrder};
pub use transport::TransportChoice;

use crate::error::Context;

/// Highest concurrency limit accepted, a guard against typos such as `-c 5000000`.
pub const MAX_CONCURRENCY: u64 = 1_000_000;

/// Most shards accepted, a guard against typos such as `--workers 1000`.
pub const MAX_SHARDS: usize = 256;

/// One shard per core, as the OS reports them.
pub fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Most retries accepted per item, a guard against typos such as `--retries 1000000`.
pub const MAX_RETRIES: u32 = 100;

/// How a run is shaped.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Items in flight at once at the start (0 starts paused).
    pub concurrency: u64,
    /// Stop admitting after this long (`-z`).
    pub duration: Option<Duration>,
    /// Most items started per second (`--rate`); `None`: as fast as the limit allows.
    pub rate: Option<f64>,
    /// A rate that changes over the run (`--rate A..B --ramp D`,
    /// `--rate-stages`); takes the place of `rate` when given.
    pub rate_schedule: Option<pace::Schedule>,
    /// What every request looks like.
    pub request: RequestOptions,
    /// How often a snapshot is published (and each shard reports): 30 times
    /// a second by default, the dashboard's frame rate, so every frame can
    /// show new numbers.
    pub snapshot_interval: Duration,
    /// How many in-flight tasks a snapshot lists, oldest first.
    pub table_rows: usize,
    /// How items are run at the start (`--model`); `Command::SetModel` changes it.
    pub model: Model,
    /// Most OS threads the threads model runs at once.
    pub thread_cap: u64,
    /// Demo runs only: blocking work that some items do on purpose, switched
    /// by `Command::SetBlocking` and `Command::SetOffload`. None ignores those.
    pub demo_blocking: Option<Blocking>,
    /// Which HTTP clients carry the requests.
    pub transport: transport::TransportChoice,
    /// Most requests in flight the system allows (open files); higher
    /// limits are capped to it and the snapshot says so.
    pub ceiling: u64,
    /// Seqs not to fetch (already recorded by an earlier run, `--resume`);
    /// they are counted as skipped.
    pub skip: Option<Arc<seqset::SeqSet>>,
    /// Event loops, each on an OS thread of its own (`--workers`); the
    /// tasks are spread over them.
    pub shards: usize,
    /// Start with one shard running and add the others as they pay (the
    /// default), instead of running all of them from the start (`--workers N`).
    pub shards_on_demand: bool,
    /// The engine moves the limit itself from the start (`--adaptive`);
    /// `Command::SetAdaptive` switches it.
    pub adaptive: bool,
    /// How far `--adaptive` may move the limit.
    pub adaptive_bounds: adaptive::Bounds,
    /// Find the knee (`--sweep`): step the limit up and stop the run at
    /// the end, at the knee.
    pub sweep: Option<sweep::Plan>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 50,
            duration: None,
            rate: None,
            rate_schedule: None,
            request: RequestOptions::default(),
            snapshot_interval: Duration::from_micros(33_333),
            table_rows: 256,
            model: Model::Async,
            thread_cap: model::threads::DEFAULT_THREAD_CAP,
            demo_blocking: None,
            transport: transport::TransportChoice::Auto,
            ceiling: MAX_CONCURRENCY,
            skip: None,
            shards: default_shards(),
            shards_on_demand: true,
            adaptive: false,
            adaptive_bounds: adaptive::Bounds::default(),
            sweep: None,
        }
    }
}

/// A running engine, seen from outside.
pub struct EngineHandle {
    /// Send commands here; the engine applies them in order.
    pub commands: mpsc::Sender<Command>,
    /// The latest snapshot, replaced at a fixed rate and once more at the end.
    pub snapshots: watch::Receiver<Snapshot>,
    /// Resolves to the final snapshot when the run has ended. Await it once
    /// (`&mut handle.finished` inside a `select!`), or use [`EngineHandle::wait`].
    pub finished: JoinHandle<Snapshot>,
}

impl EngineHandle {
    /// Waits for the run to end and returns its final snapshot.
    pub async fn wait(self) -> Result<Snapshot> {
        self.finished
            .await
            .map_err(|e| EngineError::new(format!("the engine stopped unexpectedly: {e}")))
    }
}

/// Entry point of the engine.
pub struct Engine;

impl Engine {
    /// Starts a run of `source` under `config`: the shards and the control
    /// plane each on threads of their own, and a task on the current tokio
    /// runtime that hands over the final snapshot. Every finished item's
    /// record goes to `sink`, when one is given, in the order items end.
    pub fn spawn(
        config: EngineConfig,
        source: Source,
        sink: Option<mpsc::Sender<Record>>,
    ) -> Result<EngineHandle> {
        let shards = config.shards.clamp(1, MAX_SHARDS);
        let runner = Arc::new(
            model::Runner::new(&config.request, config.thread_cap)
                .context("cannot prepare the threads model")?,
        );
        // Each shard has clients of its own: its own connections and pool.
        let contexts = (0..shards)
            .map(|_| {
                let transport = transport::Transport::new(&config.request, config.transport)
                    .context("cannot prepare requests")?;
                Ok(Arc::new(task::FetchContext::new(
                    transport,
                    config.request.clone(),
                )))
            })
            .collect::<Result<Vec<_>>>()?;
        let ceiling = config.ceiling.clamp(1, MAX_CONCURRENCY);
        // A sweep starts at its lowest step, whatever -c says.
        let concurrency = config.sweep.map_or(config.concurrency, |p| p.min);
        let limit = concurrency.min(ceiling);
        let requested = (concurrency > ceiling).then_some(concurrency);
        let (commands, command_rx) = mpsc::channel(256);
        let (snap_tx, snapshots) = watch::channel(Snapshot {
            target: source.describe(),
            total: source.total(),
            rate_limit: config
                .rate_schedule
                .as_ref()
                .map(|s| s.rate_at(0.0))
                .or(config.rate),
            limit,
            ceiling,
            requested_limit: requested,
            duration: config.duration,
            adaptive: snapshot::AdaptiveView {
                on: config.adaptive,
                max: config.adaptive_bounds.max,
                target_p99_ms: config.adaptive_bounds.target_p99_ms,
                ..snapshot::AdaptiveView::default()
            },
            sweep: config.sweep.map(|p| tuning::SweepRun::new(p).view()),
            ..Snapshot::default()
        });
        let target = source.describe();
        let total = source.total();
        let counter = source.counter();
        let (feed, reader) = source.into_feed();
        let feed = Arc::new(feed);
        let admission = Arc::new(admission::Admission::new(shards, limit));
        if config.shards_on_demand {
            admission.set_active(1);
        }
        let pacer = match (&config.rate_schedule, config.rate) {
            (Some(s), _) => Some(Arc::new(pace::Pacer::with_schedule(s.clone()))),
            (None, r) => r.map(|r| Arc::new(pace::Pacer::new(r))),
        };
        let started = std::time::Instant::now();
        let (report_tx, report_rx) = mpsc::unbounded_channel();
        let mut shard_commands = Vec::with_capacity(shards);
        for (id, ctx) in contexts.into_iter().enumerate() {
            let (tx, rx) = mpsc::unbounded_channel();
            shard_commands.push(tx);
            shard::spawn(shard::ShardSetup {
                id,
                ctx,
                runner: Arc::clone(&runner),
                admission: Arc::clone(&admission),
                feed: Arc::clone(&feed),
                skip: config.skip.clone(),
                sink: sink.clone(),
                reports: report_tx.clone(),
                commands: rx,
                model: config.model,
                blocking: config.demo_blocking,
                pacer: pacer.clone(),
                table_rows: config.table_rows,
                tick: config.snapshot_interval,
            })
            .context("cannot start a shard's thread")?;
        }
        // Only the shards hold the sink now: it closes when the last one ends.
        drop(sink);
        drop(report_tx);
        let done = control::spawn(
            control::ControlSetup {
                started,
                duration: config.duration,
                tick: config.snapshot_interval,
                table_rows: config.table_rows,
                limit,
                ceiling,
                requested,
                pacer,
                model: config.model,
                blocking: config.demo_blocking,
                target,
                total,
                counter,
                reader,
                admission,
                on_demand: config.shards_on_demand && shards > 1,
                feed,
                runner,
                shards: shard_commands,
                adaptive: tuning::AdaptiveRun::new(config.adaptive, config.adaptive_bounds),
                sweep: config.sweep.map(tuning::SweepRun::new),
                reports: report_rx,
                snapshots: snap_tx,
            },
            command_rx,
        )
        .context("cannot start the control plane's thread")?;
        let finished = tokio::spawn(async move {
            match done.await {
                Ok(snap) => snap,
                // A panic on the control plane's thread: the reader learns
                // of it as a failed join.
                Err(_) => panic!("the control plane ended without a final snapshot"),
            }
        });
        Ok(EngineHandle {
            commands,
            snapshots,
            finished,
        })
    }
}
