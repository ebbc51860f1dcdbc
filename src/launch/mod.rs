//! From a parsed command line to a finished run: builds the source, the
//! engine and the writer, picks the reader, prints the summary. One file
//! per job: `fetch.rs` (a run), `request.rs` (what it sends and the checks
//! before it starts), `demo.rs` (`serve`, `demo`), `recorded.rs` (`replay`,
//! `report` of a recording).

mod demo;
mod fetch;
mod recorded;
mod request;

pub use fetch::fetch;
use fetch::fetch_with;
use recorded::{replay, report_of_recording};
use request::{check_first_url, check_routes, request_options};

use std::io::Write;
use std::process::ExitCode;

use color_eyre::eyre::Report;

use crate::cli::{Cli, Mode};
use crate::engine::SourceSpec;
use crate::format;

/// Exit status of a run interrupted by a signal (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Exit status of a run stopped because its `-o` file could not be written.
pub const EXIT_WRITE_FAILED: u8 = 4;

/// Why fetchtop could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// Bad input found before anything ran: exit status 2, one line.
    Usage(String),
    /// Something went wrong while running: exit status 1.
    Run(Report),
    /// The output file could not be written, and the run was stopped:
    /// exit status [`EXIT_WRITE_FAILED`].
    Output(Report),
}

impl From<Report> for Failure {
    fn from(e: Report) -> Self {
        Failure::Run(e)
    }
}

impl From<crate::engine::EngineError> for Failure {
    fn from(e: crate::engine::EngineError) -> Self {
        Failure::Run(Report::new(e))
    }
}

impl Failure {
    /// Prints the one-line error and gives the exit status.
    pub fn report(&self) -> ExitCode {
        match self {
            // stderr may be gone with a hung-up terminal: never panic over it.
            // Messages may quote outside text (a path, a URL, a server's
            // words): made inert, like everything else on the terminal.
            Failure::Usage(msg) => {
                let _ = writeln!(std::io::stderr(), "fetchtop: {}", format::inert(msg));
                ExitCode::from(2)
            }
            Failure::Run(e) | Failure::Output(e) => {
                let msg = format!("{e:#}");
                let _ = writeln!(
                    std::io::stderr(),
                    "fetchtop: error: {}",
                    format::inert(&msg)
                );
                ExitCode::from(if matches!(self, Failure::Output(_)) {
                    EXIT_WRITE_FAILED
                } else {
                    1
                })
            }
        }
    }
}

/// Reports a command-line error as one line (exit 2); help and version
/// requests print in full and succeed.
pub fn clap_failure(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        // stdout may be closed (`fetchtop --help | head`); nothing to do then.
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if let Some(word) = stray_word(e) {
        // The subcommands as the parser has them, so a new one is never left out.
        let subcommands: Vec<String> = <Cli as clap::CommandFactory>::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .filter(|name| name != "help")
            .collect();
        let _ = writeln!(
            std::io::stderr(),
            "fetchtop: unexpected argument '{}': one URL at most, and a subcommand ({}) comes first (see fetchtop --help)",
            format::inert(&word),
            subcommands.join(", ")
        );
        return ExitCode::from(2);
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "the following required arguments were not provided:" names them on the next line.
    let first = match (first.ends_with(':'), lines.next()) {
        (true, Some(next)) => format!("{first} {}", next.trim()),
        _ => first.to_string(),
    };
    // clap quotes the rejected value, and a -H value may be a secret: say
    // only what was wrong with it.
    let first = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) if arg.starts_with("--header") => {
            let why = std::error::Error::source(e)
                .map_or_else(|| "not \"Name: value\"".to_string(), ToString::to_string);
            format!("invalid value for '{arg}': {why}")
        }
        _ => first,
    };
    let _ = writeln!(
        std::io::stderr(),
        "fetchtop: {} (see fetchtop --help)",
        format::inert(&first)
    );
    ExitCode::from(2)
}

/// A word after the URL (`fetchtop URL bash`): clap reads it as a
/// subcommand that "cannot be used with '[URL]'", which does not say what
/// was wrong. Gives the word.
fn stray_word(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::ArgumentConflict {
        return None;
    }
    match e.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(word)) => Some(word.clone()),
        _ => None,
    }
}

/// The end of a subcommand that prints `what` to stdout: a reader that
/// left early (`| head`) is fine; any other failed write (a full disk) is
/// an error of the run.
fn printed(what: &str, written: std::io::Result<()>) -> Result<ExitCode, Failure> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Run(Report::msg(
            format!("cannot write {what} to stdout: {e}"),
        ))),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// What `fetchtop` alone prints: where to go next.
pub const SHORT_USAGE: &str = "\
fetchtop: nothing to fetch.
usage: fetchtop [OPTIONS] <URL>          e.g. fetchtop -c 100 'http://host/items/{1..1000}'
       fetchtop [OPTIONS] -i <FILE|->    one URL per line
try:   fetchtop demo                     a live run against the built-in demo API, no network needed
more:  fetchtop --help";

/// Runs what the command line asks for.
pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Some(Mode::Serve(args)) => demo::serve(args).await,
        Some(Mode::Demo(args)) => demo::demo(*args).await,
        Some(Mode::Completions(args)) => printed(
            "the completion script",
            crate::manual::completions(args.shell, &mut std::io::stdout().lock()),
        ),
        Some(Mode::Replay(args)) => replay(&args).await,
        Some(Mode::Report(args)) => report_of_recording(&args),
        Some(Mode::Man) => printed(
            "the man page",
            crate::manual::man(&mut std::io::stdout().lock()),
        ),
        Some(Mode::Sweep(mut args)) => {
            args.run
                .adaptive
                .sweep
                .get_or_insert(crate::cli::SWEEP_DEFAULT);
            if args.source.url.is_none() && args.source.input.is_none() {
                return Err(Failure::Usage(
                    "fetchtop sweep needs a URL (or -i FILE) to sweep".into(),
                ));
            }
            let spec =
                SourceSpec::from_args(args.source.url.as_deref(), args.source.input.as_deref())
                    .map_err(Failure::Usage)?;
            fetch(spec, &args.run, 1).await
        }
        Some(Mode::Merge(args)) => crate::merge::run(&args),
        Some(Mode::Attach(args)) => crate::remote::attach::run(&args).await,
        None => {
            if cli.source.url.is_none() && cli.source.input.is_none() {
                eprintln!("{SHORT_USAGE}");
                return Ok(ExitCode::from(2));
            }
            let spec =
                SourceSpec::from_args(cli.source.url.as_deref(), cli.source.input.as_deref())
                    .map_err(Failure::Usage)?;
            fetch(spec, &cli.run, 1).await
        }
    }
}
