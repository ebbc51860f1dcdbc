//! Headless runs: a progress line on stderr about once a second, signals
//! turned into commands, and the final snapshot handed back for the summary.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use tokio::time::MissedTickBehavior;

use crate::engine::{Command, EngineHandle};
use crate::output::progress;
use crate::snapshot::Snapshot;

/// How a headless run reports.
#[derive(Clone, Copy, Debug)]
pub struct HeadlessOptions {
    /// Print the progress line.
    pub progress: bool,
    /// How often.
    pub interval: Duration,
}

impl Default for HeadlessOptions {
    fn default() -> Self {
        HeadlessOptions {
            progress: true,
            interval: Duration::from_secs(1),
        }
    }
}

/// How a headless run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The engine's final snapshot.
    pub snapshot: Snapshot,
    /// A signal (Ctrl-C, SIGTERM, SIGHUP) cut the run short.
    pub interrupted: bool,
}

/// Follows the run to its end. Ctrl-C, SIGTERM and SIGHUP abort it: nothing
/// more is admitted, in-flight requests are cancelled, and every record is
/// still written.
pub async fn run(mut handle: EngineHandle, opts: HeadlessOptions) -> Result<Outcome> {
    let tty = std::io::stderr().is_terminal();
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + opts.interval, opts.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut signals = Signals::new();
    let mut interrupted = false;
    let mut printed = false;
    let snapshot = loop {
        tokio::select! {
            done = &mut handle.finished => {
                break done.map_err(|e| eyre!("the engine stopped unexpectedly: {e}"))?;
            }
            _ = signals.next() => {
                interrupted = true;
                // The engine drains quickly once aborted; if it has already
                // ended, the channel is closed and there is nothing to do.
                let _ = handle.commands.send(Command::Abort).await;
            }
            _ = ticker.tick(), if opts.progress => {
                let line = progress::line(&handle.snapshots.borrow());
                let mut err = std::io::stderr().lock();
                // Progress is best effort: a closed stderr must not end the run.
                let _ = if tty {
                    write!(err, "\r{line}\x1b[K")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
                printed = true;
            }
        }
    };
    if tty && printed {
        eprint!("\r\x1b[K");
    }
    Ok(Outcome {
        snapshot,
        interrupted,
    })
}

/// The signals that end a headless run early.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            let term = async {
                match &mut self.term {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let hup = async {
                match &mut self.hup {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
                _ = hup => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
