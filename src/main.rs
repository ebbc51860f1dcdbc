//! The `fetchtop` binary: parse the command line, run, exit with a status
//! that scripts can trust (0 ran, 1 failed while running, 2 bad input,
//! 3 a threshold failed, 4 the output file could not be written, 130
//! interrupted).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use fetchtop::cli::Cli;
use fetchtop::launch;

// Every request allocates a little (futures, buffers, records): mimalloc's
// thread-local free lists make that cheaper than glibc's malloc, which took
// a sixth of each request's instructions in callgrind.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    fetchtop::hooks::install();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return launch::clap_failure(&e),
    };
    fetchtop::sys::raise_fd_limit();
    // The engine runs its shards and its control plane on threads of their
    // own; this runtime only carries the readers (and the demo API): one
    // thread is enough. `serve` is a server alone and takes every core.
    let mut builder = match cli.command {
        Some(fetchtop::cli::Mode::Serve(_)) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fetchtop: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime
        .block_on(launch::run(cli))
        .unwrap_or_else(|failure| failure.report());
    // A stdin reader may still be blocked in a read: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}
