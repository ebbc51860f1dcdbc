//! How a run ends early: the signals that abort it, and the [`Outcome`] a
//! reader hands back, saying whether one did.

use color_eyre::eyre::Report;

use crate::snapshot::Snapshot;

/// How a run ended, as a reader (headless or dashboard) saw it.
#[derive(Debug)]
pub struct Outcome {
    /// The engine's final snapshot.
    pub snapshot: Snapshot,
    /// A signal or Ctrl-C cut the run short.
    pub interrupted: bool,
    /// The reader itself failed (the terminal went away, the dashboard
    /// crashed); the run was aborted, and everything still written.
    pub failure: Option<Report>,
    /// How the dashboard kept up, when there was one.
    pub frames: Option<crate::output::summary::FrameStats>,
}

/// The signals that abort a run: SIGINT (Ctrl-C outside raw mode), SIGTERM, SIGHUP.
pub struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

impl Signals {
    /// Starts listening; call from inside the runtime.
    pub fn new() -> Signals {
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

    /// Resolves when the next signal arrives.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            let name = tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = recv(&mut self.term) => "SIGTERM",
                _ = recv(&mut self.hup) => "SIGHUP",
            };
            tracing::info!(signal = name, "signal received: the run is aborted");
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C received: the run is aborted");
        }
    }
}
