//! `--log FILE`: what happened during a run, for later, in a file.
//!
//! tracing events go through tracing-appender's non-blocking writer (a
//! thread of its own, so a slow disk never stalls the engine or the
//! screen) into FILE, never to the terminal: the dashboard owns it. The
//! [`LogGuard`] flushes what is queued when dropped, at the end of the run.
//!
//! Levels: `info` for the run's start (its settings, secrets redacted), its
//! end, commands and signals; `warn` for a source that broke off or a torn
//! line cut on resume; `error` for failures of the run itself; `debug` for
//! each failed item (there may be millions). `FETCHTOP_LOG=debug` (or
//! `trace`, `warn`, ...) changes the level; the default is `info`.

use std::path::{Path, PathBuf};

use crate::cli::OutputArgs;
use crate::engine::{EngineConfig, Source};
use crate::format;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::LevelFilter;

/// The environment variable that sets the log level.
pub const LEVEL_VAR: &str = "FETCHTOP_LOG";

/// Keeps the log writer alive; dropping it flushes the log.
#[must_use = "the log is flushed when this is dropped"]
pub struct LogGuard {
    guard: Option<WorkerGuard>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // tracing-appender's guard prints with println! when its writer is
        // slow to stop, which panics on a terminal that has hung up; that
        // must not turn the end of a run into a crash.
        if let Some(guard) = self.guard.take() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(guard)));
        }
    }
}

/// Starts logging to `path` (appended to, created if need be). Errors are
/// one line, for a start-up failure (exit 2).
pub fn start(path: &Path) -> Result<LogGuard, String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
    let level = match std::env::var(LEVEL_VAR) {
        Ok(v) => v.parse::<LevelFilter>().map_err(|_| {
            format!("invalid {LEVEL_VAR}={v:?}: use error, warn, info, debug or trace")
        })?,
        Err(_) => LevelFilter::INFO,
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Lines are dropped rather than the engine slowed if the disk cannot keep up.
        .lossy(true)
        .finish(file);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(level)
        .with_target(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("cannot start logging: {e}"))?;
    Ok(LogGuard { guard: Some(guard) })
}

/// Logs what a run is about to do: its settings, with secret header values
/// redacted and outside text made inert.
pub fn run_started(config: &EngineConfig, source: &Source, out: &OutputArgs, dashboard: bool) {
    let r = &config.request;
    let shown = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| format::inert(&p.display().to_string()).into_owned())
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        target = %format::inert(&source.describe()),
        total = ?source.total(),
        concurrency = config.concurrency,
        duration = ?config.duration,
        method = %r.method,
        headers = ?crate::redact::headers(&r.headers),
        body_bytes = r.body.as_ref().map_or(0, Vec::len),
        timeout = ?r.timeout,
        connect_timeout = ?r.connect_timeout,
        redirects = r.redirects,
        max_body = r.max_body,
        accept_encoding = ?r.accept_encoding(),
        decodes = r.decodes(),
        output = ?shown(&out.output),
        resume = out.resume,
        skipping = config.skip.as_ref().map_or(0, |s| s.len()),
        save_bodies = ?shown(&out.save_bodies),
        reader = if dashboard { "dashboard" } else { "headless" },
        "run started"
    );
}
