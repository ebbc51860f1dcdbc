//! Error and panic hooks that never panic themselves.
//!
//! A panic hook that panics (color-eyre's and ratatui's both print with
//! `eprintln!`, which panics when stderr is a terminal that has hung up)
//! makes Rust abort the process: SIGABRT instead of an orderly exit, and the
//! summary and exit status lost. These hooks write best effort and ignore
//! a dead stderr.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the terminal is in raw mode on the alternate screen.
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Raw mode and the alternate screen, for the dashboard.
pub fn take_terminal() -> std::io::Result<()> {
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

/// Installs color-eyre's error report hook, and a panic hook that prints
/// color-eyre's panic report without ever failing on a closed stderr.
pub fn install() {
    match color_eyre::config::HookBuilder::default().try_into_hooks() {
        Ok((panic_hook, eyre_hook)) => {
            // Fails only when a hook is already installed; that one then serves.
            let _ = eyre_hook.install();
            std::panic::set_hook(Box::new(move |info| {
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

/// Adds terminal restoration in front of the current panic hook (once per
/// process): a panic on the dashboard's thread leaves the alternate screen
/// and raw mode before the report is printed, so the report is readable
/// and the shell usable. Unlike ratatui's own hook, a failure to restore
/// (the terminal is gone) is ignored rather than printed.
pub fn restore_terminal_on_panic() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            give_back_terminal();
            previous(info);
        }));
    });
}
