//! Headless runs: a progress line on stderr about once a second, signals
//! turned into commands, and the final snapshot handed back for the summary.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use tokio::time::MissedTickBehavior;

use crate::engine::{Command, EngineHandle};
use crate::interrupt::{Outcome, Signals};
use crate::output::progress;

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
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
    Ok(Outcome {
        snapshot,
        interrupted,
        failure: None,
        frames: None,
    })
}
