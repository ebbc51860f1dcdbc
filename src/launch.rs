//! From a parsed command line to a finished run: builds the source, the
//! engine and the writer, picks the reader, prints the summary.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use color_eyre::eyre::Report;

use crate::cli::{Cli, DemoArgs, Mode, RunArgs, ServeArgs};
use crate::demo::faults::FAULT_PATHS;
use crate::demo::scenario::Scenario;
use crate::demo::{DemoServer, FaultServer, ServerConfig};
use crate::engine::bodies;
use crate::engine::retry::RetryPolicy;
use crate::engine::source::Template;
use crate::engine::transport::check_url;
use crate::engine::{
    Blocking, Engine, EngineConfig, EngineHandle, MAX_CONCURRENCY, RequestOptions, Source,
    SourceSpec,
};
use crate::format;
use crate::headless::{self, HeadlessOptions};
use crate::interrupt::Outcome;
use crate::logging;
use crate::output::summary::OutputFile;
use crate::output::{self, JsonlWriter, Summary};
use crate::ui::{self, Theme, dashboard::DashboardOptions};

/// Exit status of a run interrupted by a signal (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why fetchtop could not do its job.
#[derive(Debug)]
pub enum Failure {
    /// Bad input found before anything ran: exit status 2, one line.
    Usage(String),
    /// Something went wrong while running: exit status 1.
    Run(Report),
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
            Failure::Run(e) => {
                let msg = format!("{e:#}");
                let _ = writeln!(
                    std::io::stderr(),
                    "fetchtop: error: {}",
                    format::inert(&msg)
                );
                ExitCode::from(1)
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
        Some(Mode::Serve(args)) => serve(args).await,
        Some(Mode::Demo(args)) => demo(*args).await,
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

async fn serve(args: ServeArgs) -> Result<ExitCode, Failure> {
    let preset = Scenario::Items.preset();
    let (latency_min, latency_max) = args.api.latency.unwrap_or(preset.latency);
    let cfg = ServerConfig {
        addr: args.addr,
        latency_min,
        latency_max,
        error_rate: args.api.error_rate.unwrap_or(preset.error_rate),
        items: args.items,
        throttle_rate: preset.throttle_rate,
    };
    let faults = match args.faults {
        Some(addr) => {
            let server = FaultServer::start(addr).await?;
            let paths: Vec<&str> = FAULT_PATHS.iter().map(|(p, _)| *p).collect();
            eprintln!(
                "fetchtop fault server listening on http://{} ({})",
                server.addr(),
                paths.join(", ")
            );
            Some(server)
        }
        None => None,
    };
    let served = crate::demo::server::serve_until_ctrl_c(cfg).await;
    if let Some(f) = faults {
        f.shutdown().await;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let preset = args.scenario.preset();
    let (latency_min, latency_max) = args.api.latency.unwrap_or(preset.latency);
    let server = DemoServer::start(ServerConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        latency_min,
        latency_max,
        error_rate: args.api.error_rate.unwrap_or(preset.error_rate),
        items: args.items,
        throttle_rate: preset.throttle_rate,
    })
    .await?;
    if !args.run.output.quiet {
        eprintln!(
            "fetchtop demo: the demo API is serving at {} (counters at {})",
            server.url(""),
            server.url("/stats")
        );
    }
    let url = server.url(&format!("/items/{{1..{}}}", args.items));
    let template = Template::parse(&url)
        .map_err(Failure::Usage)?
        .ok_or_else(|| Failure::Usage(format!("not a template: {url}")))?;
    // Every demo can switch blocking work on (`b`); the blocking scenario starts with it on.
    let blocking = Blocking {
        on: preset.blocking,
        ..Blocking::default()
    };
    // The server in this process holds the other end of every connection.
    let result = fetch_with(SourceSpec::Template(template), &args.run, 2, Some(blocking)).await;
    server.shutdown().await;
    result
}

/// Builds the request options from the flags; reads `--data-file`.
fn request_options(run: &RunArgs) -> Result<RequestOptions, Failure> {
    let http = &run.http;
    let body = match (&http.data, &http.data_file) {
        (Some(d), _) => Some(d.clone().into_bytes()),
        (None, Some(path)) => Some(std::fs::read(path).map_err(|e| {
            Failure::Usage(format!("cannot read --data-file {}: {e}", path.display()))
        })?),
        (None, None) => None,
    };
    let method = http.method.clone().unwrap_or(if body.is_some() {
        reqwest::Method::POST
    } else {
        reqwest::Method::GET
    });
    Ok(RequestOptions {
        method,
        headers: http.headers.clone(),
        body,
        timeout: http.timeout,
        connect_timeout: http.connect_timeout,
        redirects: http.redirects,
        http2: http.http2,
        insecure: http.insecure,
        keep_body: run.output.keep_body,
        extract: run.output.extract.clone(),
        max_body: run.output.max_body,
        retry: RetryPolicy {
            retries: http.retries,
            max_backoff: http.max_backoff,
            ..RetryPolicy::default()
        },
        save_bodies: run.output.save_bodies.clone(),
    })
}

/// A URL given on the command line is checked before the run starts; a bad
/// line in a list only fails its own item.
fn check_first_url(spec: &SourceSpec) -> Result<(), String> {
    let first = match spec {
        SourceSpec::Repeat(url) => Some(url.clone()),
        SourceSpec::Template(t) => t.nth(0),
        SourceSpec::ListFile(_) | SourceSpec::Stdin => None,
    };
    match first {
        Some(url) => check_url(&url)
            .map(|_| ())
            .map_err(|f| format!("invalid URL: {}", f.message)),
        None => Ok(()),
    }
}

/// Runs a fetch job to its end and prints the summary. Each request holds
/// `fds_per_request` open files (2 when the server is in this process).
pub async fn fetch(
    spec: SourceSpec,
    run: &RunArgs,
    fds_per_request: u64,
) -> Result<ExitCode, Failure> {
    fetch_with(spec, run, fds_per_request, None).await
}

/// [`fetch`], with the demo's blocking switch when it is a demo run.
async fn fetch_with(
    spec: SourceSpec,
    run: &RunArgs,
    fds_per_request: u64,
    demo_blocking: Option<Blocking>,
) -> Result<ExitCode, Failure> {
    // Held to the end of the run: dropping it flushes the log.
    let _log = match &run.output.log {
        Some(path) => Some(logging::start(path).map_err(Failure::Usage)?),
        None => None,
    };
    let dashboard = !run.output.no_tui && std::io::stdout().is_terminal();
    if run.concurrency == 0 && !dashboard {
        // Nothing headless could ever resume the run: refuse rather than hang.
        return Err(Failure::Usage(
            "-c 0 starts paused, and a headless run has no way to resume: give a limit of 1 or more".into(),
        ));
    }
    let request = request_options(run)?;
    if let Some(dir) = &request.save_bodies {
        bodies::prepare_dir(dir).map_err(Failure::Usage)?;
    }
    // A plain URL is fetched once unless -n or -z says otherwise.
    let limit = match (&spec, run.requests, run.duration) {
        (SourceSpec::Repeat(_), None, None) => Some(1),
        (_, n, _) => n,
    };
    check_first_url(&spec).map_err(Failure::Usage)?;
    let part = crate::remote::job::resolve(run.job.shard, run.job.shard_from_env, |name| {
        std::env::var(name).ok()
    })
    .map_err(Failure::Usage)?;
    let source = Source::open(spec, limit)
        .await
        .map_err(Failure::Usage)?
        .with_job_shard(part);
    let output = output::file::open(
        run.output.output.as_deref(),
        run.output.resume,
        run.output.quiet,
    )
    .map_err(Failure::Usage)?;
    crate::remote::job::check_resume(part, output.skip.as_deref()).map_err(Failure::Usage)?;
    let ceiling = crate::sys::open_files_limit().map_or(MAX_CONCURRENCY, |n| {
        crate::sys::in_flight_ceiling(n, fds_per_request)
    });
    if run.concurrency > ceiling && !run.output.quiet {
        eprintln!(
            "fetchtop: warning: {}",
            crate::format::capped_message(run.concurrency, ceiling)
        );
    }
    let config = EngineConfig {
        concurrency: run.concurrency,
        duration: run.duration,
        rate: run.rate,
        request,
        model: run.model,
        demo_blocking,
        transport: run.http.transport,
        ceiling,
        skip: output.skip,
        shards: run.workers.map_or_else(crate::engine::default_shards, |n| {
            usize::try_from(n).unwrap_or(1)
        }),
        // --workers N asks for N shards running; without it they start as they pay.
        shards_on_demand: run.workers.is_none(),
        ..EngineConfig::default()
    };
    let writer = output.writer;
    logging::run_started(&config, &source, &run.output, dashboard);
    let endpoint = match run.job.metrics {
        Some(addr) => Some(crate::remote::prepare(addr, &run.job, part).await?),
        None => None,
    };
    let handle = Engine::spawn(config, source, writer.as_ref().map(JsonlWriter::sender))?;
    let remote = endpoint.map(|e| e.serve(&handle));
    let result = match follow(handle, run, dashboard).await {
        Ok(outcome) => report(outcome, writer, output.earlier, run, part).await,
        Err(e) => {
            // Even when the run itself broke, what finished is written out.
            let _ = output::file::close(writer).await;
            if let Failure::Run(report) = &e {
                tracing::error!(error = %format::inert(&format!("{report:#}")), "the run failed");
            }
            Err(e)
        }
    };
    if let Some(remote) = remote {
        // An interrupted run is left at once; a finished one stays up for a last scrape.
        let interrupted = matches!(&result, Ok(code) if *code == ExitCode::from(EXIT_INTERRUPTED));
        if !interrupted && !run.job.metrics_grace.is_zero() && !run.output.quiet {
            eprintln!(
                "fetchtop: still serving --metrics for {} so a last scrape sees the end (--metrics-grace; Ctrl-C ends it)",
                humantime::format_duration(run.job.metrics_grace)
            );
        }
        remote
            .finish(if interrupted {
                std::time::Duration::ZERO
            } else {
                run.job.metrics_grace
            })
            .await;
    }
    result
}

/// Watches the run to its end with the dashboard or headless.
async fn follow(handle: EngineHandle, run: &RunArgs, dashboard: bool) -> Result<Outcome, Failure> {
    let outcome = if dashboard {
        let opts = DashboardOptions {
            fps: f64::from(run.output.fps),
            theme: Theme::from_env(run.output.ascii),
            headers: crate::redact::headers(&run.http.headers),
        };
        ui::dashboard::run(handle, opts).await?
    } else {
        let opts = HeadlessOptions {
            progress: !run.output.quiet,
            ..HeadlessOptions::default()
        };
        headless::run(handle, opts).await?
    };
    Ok(outcome)
}

/// Flushes the output file, prints the summary, and picks the exit status.
async fn report(
    outcome: Outcome,
    writer: Option<JsonlWriter>,
    earlier: Option<u64>,
    run: &RunArgs,
    part: crate::engine::job_shard::JobShard,
) -> Result<ExitCode, Failure> {
    let mut summary = Summary::from_snapshot(&outcome.snapshot);
    summary.job_shard = (!part.is_whole()).then_some(part);
    summary.dashboard = outcome.frames;
    summary.interrupted = outcome.interrupted;
    let mut write_error = None;
    match output::file::close(writer).await {
        Ok(Some((path, lines))) => {
            summary.output = Some(OutputFile {
                path,
                lines,
                earlier,
            });
        }
        Ok(None) => {}
        Err(e) => write_error = Some(e),
    }
    // The terminal may be gone (a hang-up): printing is best effort, and
    // comes after the output file is safe.
    let text = if run.output.json {
        summary.to_json() + "\n"
    } else {
        summary.to_text()
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    if let Some(path) = &run.output.summary_file {
        std::fs::write(path, summary.to_json() + "\n").map_err(|e| {
            Failure::Run(Report::msg(format!(
                "cannot write the summary file {}: {e}",
                path.display()
            )))
        })?;
    }
    tracing::info!(summary = %summary.to_json(), "run ended");
    if let Some(e) = &summary.source_error {
        tracing::warn!(error = %format::inert(e), "the input stopped early");
    }
    if let Some(e) = outcome.failure.or(write_error) {
        tracing::error!(error = %format::inert(&format!("{e:#}")), "the run failed");
        return Err(Failure::Run(e));
    }
    if outcome.interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if summary.source_error.is_some() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
