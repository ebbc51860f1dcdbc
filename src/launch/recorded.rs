//! `fetchtop replay` and `fetchtop report`: a recording read back, on
//! the screen or as an HTML page.

use std::io::IsTerminal;
use std::process::ExitCode;

use color_eyre::eyre::Report;

use crate::format;
use crate::ui::{self, Theme};

use super::{EXIT_INTERRUPTED, Failure};

/// `fetchtop replay FILE`: the dashboard on a recording, on the blocking
/// pool (the terminal loop blocks while it waits for keys).
pub(super) async fn replay(args: &crate::cli::ReplayArgs) -> Result<ExitCode, Failure> {
    // A file that is not a recording is bad input: said before the screen opens.
    crate::recording::Reader::open(&args.file).map_err(Failure::Usage)?;
    if !std::io::stdout().is_terminal() {
        return Err(Failure::Usage("fetchtop replay needs a terminal".into()));
    }
    let (path, theme, fps) = (
        args.file.clone(),
        Theme::from_env(args.ascii),
        f64::from(args.fps),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ui = tokio::task::spawn_blocking({
        let stop = std::sync::Arc::clone(&stop);
        move || ui::replay::run(&path, theme, fps, &stop)
    });
    tokio::pin!(ui);
    let mut signals = crate::interrupt::Signals::new();
    let mut signalled = false;
    let joined = loop {
        tokio::select! {
            r = &mut ui => break r,
            // SIGTERM or SIGHUP: the loop leaves at its next frame, and the
            // terminal is given back.
            _ = signals.next(), if !signalled => {
                signalled = true;
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    joined.map_err(|e| Failure::Run(Report::msg(format!("the replay crashed: {e}"))))??;
    Ok(ExitCode::from(if signalled { EXIT_INTERRUPTED } else { 0 }))
}

/// `fetchtop report FILE`: the HTML report of a recording.
pub(super) fn report_of_recording(args: &crate::cli::ReportArgs) -> Result<ExitCode, Failure> {
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.file.with_extension("html"));
    if out == args.file {
        return Err(Failure::Usage(format!(
            "the report would overwrite the recording {}: give -o FILE.html",
            args.file.display()
        )));
    }
    let cut = crate::report::from_recording(&args.file, &out).map_err(Failure::Usage)?;
    if cut {
        eprintln!(
            "fetchtop: {} was cut short (the run did not end): the report covers its whole frames",
            format::inert(&args.file.display().to_string())
        );
    }
    eprintln!(
        "fetchtop: wrote {}",
        format::inert(&out.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}
