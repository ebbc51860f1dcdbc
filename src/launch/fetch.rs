//! A run: the source, the engine and the writer wired together, followed
//! by the dashboard or headless, then the summary, the report and the
//! exit status.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Report;
use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::engine::bodies;
use crate::engine::net::ProxySettings;
use crate::engine::{
    Blocking, Command, Engine, EngineConfig, EngineHandle, MAX_CONCURRENCY, Source, SourceSpec,
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

use super::{EXIT_INTERRUPTED, Failure, check_first_url, check_routes, request_options};

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
pub(super) async fn fetch_with(
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
pub(super) async fn html_report(
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

/// Watches the run to its end with the dashboard or headless.
pub(super) async fn follow(
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
pub(super) async fn report(
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
