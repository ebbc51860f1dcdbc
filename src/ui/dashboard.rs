//! Running the dashboard: a terminal loop on its own thread, so a saturated
//! engine can never starve the screen or the keys, and the screen never
//! slows the engine (it only reads snapshots and sends commands).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};
use crossterm::event::{Event, KeyEventKind};
use ratatui::backend::Backend;
use ratatui::{DefaultTerminal, Terminal};
use tokio::sync::{mpsc, watch};

use super::events::{Events, TerminalEvents};
use super::frames::FrameClock;
use super::{Theme, component, draw};
use crate::app::App;
use crate::deadline::sleep_until;
use crate::engine::{Command, EngineHandle};
use crate::interrupt::{Outcome, Signals};
use crate::output::summary::FrameStats;
use crate::snapshot::Snapshot;

/// How the dashboard draws.
#[derive(Clone, Debug)]
pub struct DashboardOptions {
    /// Most frames per second.
    pub fps: f64,
    /// Colours and symbols.
    pub theme: Theme,
    /// The run's extra request headers, secrets redacted, for the details popup.
    pub headers: Vec<String>,
    /// Cancelled when the run must end at once (the output file cannot be
    /// written): the dashboard closes as on a signal.
    pub stop_on: tokio_util::sync::CancellationToken,
    /// The run's thresholds, marked when breached.
    pub thresholds: crate::thresholds::Rules,
}

/// Shows the run until the user quits (or a signal aborts it), then
/// restores the terminal and returns the final snapshot.
pub async fn run(handle: EngineHandle, opts: DashboardOptions) -> Result<Outcome> {
    let EngineHandle {
        commands,
        snapshots,
        finished,
    } = handle;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_on = opts.stop_on.clone();
    let mut stopping = false;
    let ui = tokio::task::spawn_blocking({
        let commands = commands.clone();
        let stop = Arc::clone(&stop);
        move || ui_thread(commands, snapshots, opts, stop)
    });
    tokio::pin!(ui);
    let mut signals = Signals::new();
    let mut signalled = false;
    let mut grace: Option<tokio::time::Instant> = None;
    let joined = loop {
        tokio::select! {
            r = &mut ui => break Some(r),
            _ = signals.next() => {
                if signalled {
                    break None;
                }
                signalled = true;
                stop.store(true, Ordering::Relaxed);
                let _ = commands.send(Command::Abort).await;
                grace = Some(tokio::time::Instant::now() + UI_GRACE);
            }
            _ = stop_on.cancelled(), if !stopping => {
                stopping = true;
                stop.store(true, Ordering::Relaxed);
                let _ = commands.send(Command::Abort).await;
                grace = Some(tokio::time::Instant::now() + UI_GRACE);
            }
            _ = sleep_until(grace), if grace.is_some() => break None,
        }
    };
    let (interrupted, failure, frames) = match joined {
        Some(Ok(Ok(exit))) => (exit.interrupted, None, Some(exit.frames)),
        Some(Ok(Err(e))) => (false, Some(e), None),
        Some(Err(e)) => (false, Some(eyre!("the dashboard crashed: {e}")), None),
        None => {
            // The terminal loop did not come back after a signal: its terminal
            // is most likely gone (a hang-up), and crossterm's poll never
            // returns then. Leave it behind; the process exits without it.
            crate::hooks::give_back_terminal();
            (true, None, None)
        }
    };
    // The screen is gone, so nobody can steer the run: end it if it has not
    // ended (after `q` it has, and this is a no-op), keeping every record.
    let _ = commands.send(Command::Abort).await;
    let snapshot = finished
        .await
        .map_err(|e| eyre!("the engine stopped unexpectedly: {e}"))?;
    Ok(Outcome {
        snapshot,
        interrupted: interrupted || signalled,
        failure,
        frames,
    })
}

/// How often the terminal loop looks for the engine's answer to a command,
/// and for how long before it falls back to the frame rate.
const REPLY_POLL: Duration = Duration::from_millis(1);
const REPLY_WAIT: Duration = Duration::from_millis(250);

/// Set (to anything) in the environment, this makes the dashboard panic
/// right after its first frame. It exists so the tests can prove, on the
/// real binary in a pseudo-terminal, that a panic in the UI still restores
/// the terminal and writes every record; nothing else reads it.
pub const PANIC_FOR_TESTS: &str = "FETCHTOP_TEST_PANIC_IN_DASHBOARD";

/// How long the terminal loop gets to notice a signal's abort and leave.
const UI_GRACE: Duration = Duration::from_secs(3);

/// How the terminal loop ended.
#[derive(Debug)]
pub struct UiExit {
    /// By Ctrl-C (or a signal), rather than `q`.
    pub interrupted: bool,
    /// How fast it drew.
    pub frames: FrameStats,
}

fn ui_thread(
    commands: mpsc::Sender<Command>,
    snapshots: watch::Receiver<Snapshot>,
    opts: DashboardOptions,
    stop: Arc<AtomicBool>,
) -> Result<UiExit> {
    let mut screen = Screen(Some(
        open_terminal().wrap_err("cannot open the terminal for the dashboard")?,
    ));
    let Some(terminal) = screen.0.as_mut() else {
        return Err(eyre!("the terminal was closed before use"));
    };
    match run_loop(
        terminal,
        &mut TerminalEvents,
        commands,
        snapshots,
        &opts,
        &stop,
    ) {
        // A hung-up terminal is the user leaving, not a failure of fetchtop.
        Err(e) if terminal_gone(&e) => Ok(UiExit {
            interrupted: true,
            frames: FrameStats::default(),
        }),
        other => other,
    }
}

/// The dashboard's terminal, closed with [`close_terminal`] however the
/// loop ends, a panic included.
pub(super) struct Screen(pub(super) Option<DefaultTerminal>);

impl Drop for Screen {
    fn drop(&mut self) {
        if let Some(terminal) = self.0.take() {
            close_terminal(terminal);
        }
    }
}

/// Raw mode and the alternate screen (undone by the panic hook of
/// `hooks::install`). Not `ratatui::try_init`: its hook prints a failure to
/// restore with `eprintln!`, which panics inside the panic hook on a
/// hung-up terminal, and Rust aborts the process then.
pub(super) fn open_terminal() -> std::io::Result<DefaultTerminal> {
    crate::hooks::take_terminal()?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
}

/// Leaves raw mode and the alternate screen and shows the cursor, ignoring
/// a terminal that is gone. When the cursor cannot be shown, the terminal
/// is leaked rather than dropped: ratatui's `Drop` would retry and print
/// the failure with `eprintln!`, which panics when stderr is the same dead
/// terminal (the SIGABRT seen about once in eight hang-ups, when the loop
/// got its read error and came back in time to drop it).
fn close_terminal(mut terminal: DefaultTerminal) {
    crate::hooks::give_back_terminal();
    match terminal.show_cursor() {
        Ok(()) => drop(terminal),
        Err(_) => std::mem::forget(terminal),
    }
}

/// Whether an error says the terminal itself has gone away (EIO, ENXIO,
/// a broken pipe), as it does after a hang-up.
fn terminal_gone(e: &color_eyre::Report) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            io.kind() == std::io::ErrorKind::BrokenPipe || matches!(io.raw_os_error(), Some(5 | 6))
        })
    })
}

/// The dashboard's loop, on any ratatui backend and event source: keys
/// become commands, snapshots become frames, until the user leaves (or
/// `stop` is set). The real run gives it the terminal; tests give it a
/// `TestBackend` and a [`Script`](super::events::Script).
pub fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    events: &mut E,
    commands: mpsc::Sender<Command>,
    mut snapshots: watch::Receiver<Snapshot>,
    opts: &DashboardOptions,
    stop: &AtomicBool,
) -> Result<UiExit>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Events,
{
    let frame_every = Duration::from_secs_f64(1.0 / opts.fps.clamp(1.0, 240.0));
    let mut app = App::default();
    app.headers.clone_from(&opts.headers);
    app.thresholds = opts.thresholds.clone();
    let mut live = snapshots.borrow_and_update().clone();
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    let mut closed = false;
    let mut clock = FrameClock::default();
    // A command was sent at this instant and the snapshot that has applied
    // it is awaited: that one is drawn the moment it comes, frame cap or
    // not, so a key shows its effect within a frame.
    let mut awaiting: Option<Instant> = None;
    let mut sent = live.commands;
    let panic_on_purpose = std::env::var_os(PANIC_FOR_TESTS).is_some();
    loop {
        // Wait for input, but never past the next frame that is due.
        let wait = match last_draw {
            _ if awaiting.is_some_and(|t| t.elapsed() < REPLY_WAIT) => REPLY_POLL,
            Some(t) if dirty => frame_every.saturating_sub(t.elapsed()),
            Some(_) => frame_every,
            None => Duration::ZERO,
        };
        if events.poll(wait).wrap_err("cannot read the terminal")? {
            loop {
                match events.read().wrap_err("cannot read the terminal")? {
                    Event::Key(key) if key.kind != KeyEventKind::Release => {
                        if let Some(action) = component::dispatch(key, app.view(&live), &app)
                            && let Some(cmd) = app.update(action, &live)
                        {
                            // A full queue means the engine is far behind; a
                            // closed one means it has finished. Neither may
                            // block the screen.
                            if commands.try_send(cmd).is_ok() {
                                sent += 1;
                                awaiting.get_or_insert_with(Instant::now);
                            }
                        }
                    }
                    Event::Resize(..) => terminal.autoresize().wrap_err("cannot resize")?,
                    _ => {}
                }
                dirty = true;
                if !events
                    .poll(Duration::ZERO)
                    .wrap_err("cannot read the terminal")?
                {
                    break;
                }
            }
        }
        // has_changed() reports a closed channel as an error even when the
        // engine's last (finished) snapshot is still unseen: read that one once.
        let fresh = match snapshots.has_changed() {
            Ok(changed) => changed,
            Err(_) => !std::mem::replace(&mut closed, true),
        };
        let mut reply = None;
        if fresh {
            live = snapshots.borrow_and_update().clone();
            dirty |= app.frozen.is_none();
            if live.commands >= sent {
                reply = awaiting.take();
            }
        }
        if stop.load(Ordering::Relaxed) {
            app.quitting = true;
        }
        app.observe(&live);
        if app.exit {
            return Ok(UiExit {
                interrupted: app.interrupted,
                frames: clock.stats(),
            });
        }
        if reply.is_some() || (dirty && last_draw.is_none_or(|t| t.elapsed() >= frame_every)) {
            let drawn = terminal
                .draw(|frame| draw(frame, &mut app, &live, &opts.theme))
                .wrap_err("cannot draw the dashboard")?;
            events.drawn(drawn.buffer);
            let now = Instant::now();
            last_draw = Some(now);
            clock.drawn(now);
            if let Some(key) = reply {
                clock.answered(now.saturating_duration_since(key));
            }
            dirty = false;
            if panic_on_purpose {
                panic!(
                    "{PANIC_FOR_TESTS} is set: the dashboard panics on purpose after its first frame"
                );
            }
        }
    }
}
