//! From a parsed command line to a finished run: builds the source, the
//! engine and the writer, picks the reader, prints the summary.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Report;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, DemoArgs, Mode, RunArgs, ServeArgs};
use crate::demo::faults::FAULT_PATHS;
use crate::demo::scenario::Scenario;
use crate::demo::{DemoServer, FaultServer, ServerConfig};
use crate::engine::bodies;
use crate::engine::net::{ConnectRules, ProxySettings, TlsFiles};
use crate::engine::retry::RetryPolicy;
use crate::engine::source::Template;
use crate::engine::transport::{TransportChoice, check_url};
use crate::engine::{
    Blocking, Command, Engine, EngineConfig, EngineHandle, MAX_CONCURRENCY, Model, RequestOptions,
    Source, SourceSpec,
};
use crate::format;
use crate::headless::{self, HeadlessOptions};
use crate::interrupt::Outcome;
use crate::logging;
use crate::output::job::{JobIdentity, JobSource};
use crate::output::summary::OutputFile;
use crate::output::timeseries::TimeSeries;
use crate::output::{self, JsonlWriter, Summary};
use crate::recording::{self, Recorder};
use crate::thresholds;
use crate::ui::{self, Theme, dashboard::DashboardOptions};

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
        Some(Mode::Serve(args)) => serve(args).await,
        Some(Mode::Demo(args)) => demo(*args).await,
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

/// `fetchtop replay FILE`: the dashboard on a recording, on the blocking
/// pool (the terminal loop blocks while it waits for keys).
async fn replay(args: &crate::cli::ReplayArgs) -> Result<ExitCode, Failure> {
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
        capacity: args.api.capacity(preset.slots),
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
        capacity: args.api.capacity(preset.slots),
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
    let job = JobSource::Demo {
        scenario: args.scenario.as_str().to_string(),
        items: args.items,
    };
    let result = fetch_with(
        SourceSpec::Template(template),
        &args.run,
        2,
        Some(blocking),
        Some(job),
    )
    .await;
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
        proxy: ProxySettings::from_env(http.proxy.as_deref(), http.noproxy.as_deref())
            .map_err(Failure::Usage)?,
        tls_files: TlsFiles::load(
            http.cacert.as_deref(),
            http.cert.as_deref(),
            http.key.as_deref(),
        )
        .map_err(Failure::Usage)?,
        connect: connect_rules(http).map_err(Failure::Usage)?,
        unix_socket: http.unix_socket.clone(),
        compressed: run.output.compressed,
        raw: run.output.raw,
    })
}

/// Refuses routing a client cannot follow rather than let it be ignored:
/// reqwest cannot connect a host to another port, and the teaching
/// models' blocking client (`--model threads`) connects straight to the
/// URL with the system's trust.
fn check_routes(run: &RunArgs, request: &RequestOptions) -> Result<(), String> {
    if run.http.transport == TransportChoice::Reqwest && request.connect.has_connect_to() {
        return Err(
            "--connect-to needs the lean transport: reqwest cannot connect a host to \
                    another port (use --transport auto, or --resolve)"
                .into(),
        );
    }
    if run.model != Model::Threads {
        return Ok(());
    }
    let used = [
        (request.proxy.any(), "a proxy (--proxy or *_PROXY)"),
        (request.tls_files.roots().is_some(), "--cacert"),
        (request.tls_files.has_identity(), "--cert"),
        (!request.connect.is_empty(), "--resolve / --connect-to"),
        (request.unix_socket.is_some(), "--unix-socket"),
    ];
    match used.iter().find(|(on, _)| *on) {
        Some((_, what)) => Err(format!(
            "--model threads cannot use {what}: use --model async (the default) or sequential"
        )),
        None => Ok(()),
    }
}

/// `--resolve` and `--connect-to`, in the order given (each was checked
/// when parsed).
fn connect_rules(http: &crate::cli::HttpArgs) -> Result<ConnectRules, String> {
    let mut rules = ConnectRules::default();
    for entry in &http.resolve {
        rules.add_resolve(entry)?;
    }
    for entry in &http.connect_to {
        rules.add_connect_to(entry)?;
    }
    Ok(rules)
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
    fetch_with(spec, run, fds_per_request, None, None).await
}

/// [`fetch`], with the demo's blocking switch when it is a demo run.
async fn fetch_with(
    spec: SourceSpec,
    run: &RunArgs,
    fds_per_request: u64,
    demo_blocking: Option<Blocking>,
    demo_job: Option<JobSource>,
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
    let mut request = request_options(run)?;
    if demo_blocking.is_some() && run.http.proxy.is_none() {
        // The demo's server is in this process: a proxy from the
        // environment could only get in the way (an explicit -x still counts).
        request.proxy = ProxySettings::default();
    }
    check_routes(run, &request).map_err(Failure::Usage)?;
    if let Some(line) = request.proxy.describe()
        && !run.output.quiet
    {
        eprintln!("fetchtop: {line}");
    }
    if let Some(dir) = &request.save_bodies {
        bodies::prepare_dir(dir).map_err(Failure::Usage)?;
    }
    // A plain URL is fetched once unless -n or -z says otherwise, or a
    // sweep repeats it until it ends.
    let limit = match (&spec, run.requests, run.duration) {
        (SourceSpec::Repeat(_), None, None) if run.adaptive.sweep.is_none() => Some(1),
        (_, n, _) => n,
    };
    check_first_url(&spec).map_err(Failure::Usage)?;
    let part = crate::remote::job::resolve(run.job.shard, run.job.shard_from_env, |name| {
        std::env::var(name).ok()
    })
    .map_err(Failure::Usage)?;
    let job = JobIdentity::new(
        &spec,
        demo_job,
        request.method.as_str(),
        request.body.as_deref(),
    )
    .map(|job| job.with_job_shard(part));
    let source = Source::open(spec, limit)
        .await
        .map_err(Failure::Usage)?
        .with_job_shard(part);
    // After the source opened: its errors (a missing list) say it best.
    let job = job.map_err(Failure::Usage)?;
    let output = output::file::open(
        run.output.output.as_deref(),
        run.output.resume,
        run.output.quiet,
        &job,
    )
    .map_err(Failure::Usage)?;
    crate::remote::job::check_resume(part, output.skip.as_deref()).map_err(Failure::Usage)?;
    let timeseries = match &run.output.timeseries {
        Some(path) => Some(TimeSeries::create(path).map_err(Failure::Usage)?),
        None => None,
    };
    if let Some(path) = &run.output.report {
        crate::report::check_writable(path).map_err(Failure::Usage)?;
    }
    let ceiling = crate::sys::open_files_limit().map_or(MAX_CONCURRENCY, |n| {
        crate::sys::in_flight_ceiling(n, fds_per_request)
    });
    if run.concurrency > ceiling && !run.output.quiet {
        eprintln!(
            "fetchtop: warning: {}",
            crate::format::capped_message(run.concurrency, ceiling)
        );
    }
    let (rate, rate_schedule) = run.rate_schedule().map_err(Failure::Usage)?;
    let config = EngineConfig {
        concurrency: run.concurrency,
        duration: run.duration,
        rate,
        rate_schedule,
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
        adaptive: run.adaptive.adaptive,
        adaptive_bounds: run.adaptive.bounds(),
        sweep: run.adaptive.sweep_plan(),
        ..EngineConfig::default()
    };
    let settings = crate::report::settings(&config, &source.describe(), run);
    let rules = run.thresholds.rules();
    let recorder = match &run.output.record {
        Some(path) => {
            let header = recording::Header::new(
                source.describe(),
                crate::redact::headers(&run.http.headers),
                settings.clone(),
            )
            .with_thresholds(&rules);
            Some(Recorder::create(path, &header).map_err(Failure::Usage)?)
        }
        None => None,
    };
    let writer = output.writer;
    logging::run_started(&config, &source, &run.output, dashboard);
    if !rules.is_empty()
        || config.adaptive
        || config.sweep.is_some()
        || config.rate_schedule.is_some()
    {
        let texts = |ts: &[thresholds::Threshold]| -> Vec<String> {
            ts.iter()
                .map(|t| format::inert(&t.text).into_owned())
                .collect()
        };
        tracing::info!(
            fail_if = ?texts(&rules.fail_if),
            abort_if = ?texts(&rules.abort_if),
            abort_after = ?rules.abort_after,
            adaptive = config.adaptive,
            adaptive_bounds = ?config.adaptive_bounds,
            sweep = ?config.sweep,
            rate_schedule = ?config.rate_schedule,
            "tuning"
        );
    }
    let endpoint = match run.job.metrics {
        Some(addr) => Some(crate::remote::prepare(addr, &run.job, part).await?),
        None => None,
    };
    let handle = Engine::spawn(config, source, writer.as_ref().map(JsonlWriter::sender))?;
    let remote = endpoint.map(|e| e.serve(&handle));
    // A write error stops the run: nothing more is admitted, what is in
    // flight is cancelled, and the summary and exit status say so.
    let write_failed = writer
        .as_ref()
        .map_or_else(CancellationToken::new, JsonlWriter::failed);
    let abort = {
        let (failed, commands) = (write_failed.clone(), handle.commands.clone());
        tokio::spawn(async move {
            failed.cancelled().await;
            tracing::error!("the output file cannot be written: the run is stopped");
            let _ = commands.send(Command::Abort).await;
        })
    };
    // The recorder writes the --abort-if that stopped the run, if one did;
    // the sender's drop tells it that whether one did is known.
    let (abort_tx, abort_rx) = tokio::sync::watch::channel(None);
    let aborts = tokio::spawn({
        let watching = thresholds::watch_aborts(
            rules.clone(),
            handle.snapshots.clone(),
            handle.commands.clone(),
        );
        async move {
            let aborted = watching.await;
            abort_tx.send_replace(aborted.clone());
            aborted
        }
    });
    let series = timeseries.map(|ts| tokio::spawn(ts.follow(handle.snapshots.clone())));
    let recorded = recorder.map(|r| tokio::spawn(r.follow(handle.snapshots.clone(), abort_rx)));
    let reported = run
        .output
        .report
        .as_ref()
        .map(|_| tokio::spawn(crate::report::follow(handle.snapshots.clone())));
    let followed = follow(handle, run, dashboard, write_failed).await;
    abort.abort();
    // The watcher ends with the engine's snapshots; a short wait is only a guard.
    let aborted = match tokio::time::timeout(Duration::from_millis(500), aborts).await {
        Ok(Ok(a)) => a,
        _ => None,
    };
    let series_failed = match series {
        // It ends with the engine's last snapshot, as the watcher does.
        Some(task) => match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(_rows))) => None,
            Ok(Ok(Err(e))) => Some(e),
            _ => Some(Report::msg("the time series writer did not finish")),
        },
        None => None,
    };
    let record_failed = match recorded {
        Some(task) => match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(_frames))) => None,
            Ok(Ok(Err(e))) => Some(e),
            _ => Some(Report::msg("the recorder did not finish")),
        },
        None => None,
    };
    let result = match followed {
        Ok(outcome) => {
            let report_failed = match (reported, &run.output.report) {
                (Some(task), Some(path)) => {
                    html_report(task, path, &settings, &outcome, (&rules, aborted.clone())).await
                }
                _ => None,
            };
            let reported = report(
                outcome,
                writer,
                output.earlier,
                run,
                (&rules, aborted),
                part,
            )
            .await;
            match reported {
                Ok(code) => match series_failed.or(report_failed).or(record_failed) {
                    Some(e) => Err(Failure::Output(e)),
                    None => Ok(code),
                },
                Err(e) => Err(e),
            }
        }
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

/// Writes `--report`'s page from the series its task kept; the error, if any.
async fn html_report(
    task: tokio::task::JoinHandle<crate::report::Series>,
    path: &std::path::Path,
    settings: &[(String, String)],
    outcome: &Outcome,
    (rules, aborted): (&thresholds::Rules, Option<thresholds::Abort>),
) -> Option<Report> {
    let series = match tokio::time::timeout(Duration::from_secs(5), task).await {
        Ok(Ok(series)) => series,
        _ => return Some(Report::msg("the report's series did not finish")),
    };
    let mut summary = Summary::from_snapshot(&outcome.snapshot);
    if !rules.is_empty() {
        summary.thresholds = Some(rules.judge(&outcome.snapshot, aborted));
    }
    crate::report::write(path, settings, &summary, &outcome.snapshot, &series)
        .err()
        .map(Report::msg)
}

/// `fetchtop report FILE`: the HTML report of a recording.
fn report_of_recording(args: &crate::cli::ReportArgs) -> Result<ExitCode, Failure> {
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

/// Watches the run to its end with the dashboard or headless.
async fn follow(
    handle: EngineHandle,
    run: &RunArgs,
    dashboard: bool,
    stop_on: CancellationToken,
) -> Result<Outcome, Failure> {
    let outcome = if dashboard {
        let opts = DashboardOptions {
            fps: f64::from(run.output.fps),
            theme: Theme::from_env(run.output.ascii),
            headers: crate::redact::headers(&run.http.headers),
            stop_on,
            thresholds: run.thresholds.rules(),
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
    (rules, aborted): (&thresholds::Rules, Option<thresholds::Abort>),
    part: crate::engine::job_shard::JobShard,
) -> Result<ExitCode, Failure> {
    let mut summary = Summary::from_snapshot(&outcome.snapshot);
    if !rules.is_empty() {
        summary.thresholds = Some(rules.judge(&outcome.snapshot, aborted));
    }
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
        Err(failure) => {
            // Only what is wholly in the file counts as recorded.
            let path = run
                .output
                .output
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            write_error = Some(Report::msg(format!(
                "{:#}; the run was stopped: {} item{} safely in {path}",
                failure.error,
                format::count(failure.safe),
                if failure.safe == 1 { " is" } else { "s are" },
            )));
            summary.output = Some(OutputFile {
                path,
                lines: failure.safe,
                earlier,
            });
        }
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
    if let Some(e) = write_error {
        tracing::error!(error = %format::inert(&format!("{e:#}")), "the output file failed");
        return Err(Failure::Output(e));
    }
    if let Some(e) = outcome.failure {
        tracing::error!(error = %format::inert(&format!("{e:#}")), "the run failed");
        return Err(Failure::Run(e));
    }
    if outcome.interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if summary.source_error.is_some() {
        return Ok(ExitCode::from(1));
    }
    if let Some(t) = summary.thresholds.as_ref().filter(|t| !t.passed) {
        let failed: Vec<&str> = t
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.expression.as_str())
            .collect();
        tracing::warn!(failed = ?failed, "thresholds failed");
        return Ok(ExitCode::from(thresholds::EXIT_THRESHOLD));
    }
    Ok(ExitCode::SUCCESS)
}
