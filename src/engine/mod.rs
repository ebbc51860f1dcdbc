//! The fetch engine: sources, admission, tasks, statistics. No UI here.
//!
//! [`Engine::spawn`] starts a run on the current tokio runtime and hands back
//! an [`EngineHandle`]: a command sender and a snapshot receiver. Readers
//! (the dashboard, the headless runner, tests) use only those two channels.

pub mod blocking;
pub mod bodies;
pub mod command;
mod dispatcher;
pub mod executor;
pub mod http;
pub mod limiter;
pub mod model;
pub mod pace;
pub(crate) mod pipeline;
pub mod record;
pub mod registry;
pub mod retry;
pub mod seqset;
pub mod source;
pub mod stats;
pub mod task;
pub mod template;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use blocking::{Blocking, BlockingWork};
pub use command::Command;
pub use http::RequestOptions;
pub use model::Model;
pub use record::{ErrorKind, ItemState, Phase, Record};
pub use source::{Source, SourceSpec};

use crate::snapshot::Snapshot;

/// Highest concurrency limit accepted, a guard against typos such as `-c 5000000`.
pub const MAX_CONCURRENCY: u64 = 1_000_000;

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
    /// What every request looks like.
    pub request: RequestOptions,
    /// How often a snapshot is published.
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
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: 50,
            duration: None,
            rate: None,
            request: RequestOptions::default(),
            snapshot_interval: Duration::from_millis(40),
            table_rows: 256,
            model: Model::Async,
            thread_cap: model::threads::DEFAULT_THREAD_CAP,
            demo_blocking: None,
            transport: transport::TransportChoice::Auto,
            ceiling: MAX_CONCURRENCY,
            skip: None,
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
            .map_err(|e| eyre!("the engine stopped unexpectedly: {e}"))
    }
}

/// Entry point of the engine.
pub struct Engine;

impl Engine {
    /// Starts a run of `source` under `config` on the current tokio runtime.
    /// Every finished item's record goes to `sink`, when one is given, in the
    /// order items end.
    pub fn spawn(
        config: EngineConfig,
        source: Source,
        sink: Option<mpsc::Sender<Record>>,
    ) -> Result<EngineHandle> {
        let transport = transport::Transport::new(&config.request, config.transport)
            .wrap_err("cannot prepare requests")?;
        let ctx = Arc::new(task::FetchContext::new(transport, config.request.clone()));
        let runner = model::Runner::new(&config.request, config.thread_cap)
            .wrap_err("cannot prepare the threads model")?;
        let (commands, command_rx) = mpsc::channel(256);
        let (snap_tx, snapshots) = watch::channel(Snapshot {
            target: source.describe(),
            total: source.total(),
            rate_limit: config.rate,
            limit: config.concurrency.min(config.ceiling),
            ceiling: config.ceiling,
            requested_limit: (config.concurrency > config.ceiling).then_some(config.concurrency),
            duration: config.duration,
            ..Snapshot::default()
        });
        let run = dispatcher::Dispatcher::new(config, ctx, runner, source, sink, snap_tx);
        let finished = tokio::spawn(run.run(command_rx));
        Ok(EngineHandle {
            commands,
            snapshots,
            finished,
        })
    }
}
