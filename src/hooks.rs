//! Error and panic hooks that never panic themselves, and the terminal's
//! raw mode and alternate screen, taken and given back once.
//!
//! A panic hook that panics (color-eyre's and ratatui's both print with
//! `eprintln!`, which panics when stderr is a terminal that has hung up)
//! makes Rust abort the process: SIGABRT instead of an orderly exit, and the
//! summary and exit status lost. These hooks write best effort and ignore
//! a dead stderr.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, ThreadId};

use crate::format;

/// Whether the terminal is in raw mode on the alternate screen.
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);
/// The thread that took the terminal (the dashboard's).
static SCREEN_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);

/// Raw mode and the alternate screen, for the dashboard, on the calling thread.
pub fn take_terminal() -> std::io::Result<()> {
    if let Ok(mut owner) = SCREEN_THREAD.lock() {
        *owner = Some(thread::current().id());
    }
    crossterm::terminal::enable_raw_mode()?;
    TERMINAL_TAKEN.store(true, Ordering::SeqCst);
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)
}

/// Leaves raw mode and the alternate screen, once: leaving the alternate
/// screen twice would jump the cursor back to where the dashboard started
/// and print over what came after (a panic report). Errors (a terminal that
/// is gone) are ignored.
pub fn give_back_terminal() {
    if TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        let _ = ratatui::try_restore();
    }
}

/// Whether a panic on the current thread ends the screen: on the
/// dashboard's own thread, or on the main thread (whose panic ends the
/// process). A panic elsewhere (a fetch task, caught by tokio and recorded
/// as a failed item) leaves the dashboard running.
fn ends_the_screen() -> bool {
    let here = thread::current();
    here.name() == Some("main")
        || SCREEN_THREAD
            .lock()
            .map_or(true, |owner| *owner == Some(here.id()))
}

/// Installs color-eyre's error report hook, and a panic hook that gives the
/// terminal back and prints color-eyre's panic report without ever failing
/// on a closed stderr. While the dashboard owns the terminal, a panic on
/// another thread goes to the log instead: a report there would scribble
/// over the screen.
pub fn install() {
    match color_eyre::config::HookBuilder::default().try_into_hooks() {
        Ok((panic_hook, eyre_hook)) => {
            // Fails only when a hook is already installed; that one then serves.
            let _ = eyre_hook.install();
            std::panic::set_hook(Box::new(move |info| {
                if TERMINAL_TAKEN.load(Ordering::SeqCst) && !ends_the_screen() {
                    let message = info.to_string();
                    tracing::error!(panic = %format::inert(&message), "a thread panicked");
                    return;
                }
                give_back_terminal();
                let report = panic_hook.panic_report(info).to_string();
                let _ = writeln!(std::io::stderr(), "{report}");
            }));
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "fetchtop: cannot install the error handler: {e}"
            );
        }
    }
}
