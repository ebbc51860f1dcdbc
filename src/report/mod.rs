//! `--report FILE.html` and `fetchtop report RECORDING`: a page to look at
//! after a run, built from per-second aggregates (never per-request data).

pub mod html;
pub mod series;

use std::path::Path;

use tokio::sync::watch;

use crate::output::Summary;
use crate::recording::Reader;
use crate::snapshot::{RunState, Snapshot};
pub use series::Series;

/// The settings a report shows: what was fetched and how, secrets
/// redacted (headers as `redact` shows them, proxies as the engine shows them).
pub fn settings(
    config: &crate::engine::EngineConfig,
    target: &str,
    run: &crate::cli::RunArgs,
) -> Vec<(String, String)> {
    let r = &config.request;
    let mut out = vec![
        (
            "target".to_string(),
            crate::format::inert(target).into_owned(),
        ),
        ("method".into(), r.method.to_string()),
        ("concurrency (-c)".into(), config.concurrency.to_string()),
        (
            "duration (-z)".into(),
            config
                .duration
                .map_or_else(|| "until the items end".into(), crate::format::span),
        ),
        (
            "rate".into(),
            config
                .rate
                .map_or_else(|| "none".into(), |r| format!("{r}/s")),
        ),
        ("model".into(), format!("{:?}", config.model).to_lowercase()),
        ("shards".into(), config.shards.to_string()),
        ("timeout".into(), format!("{:?}", r.timeout)),
        ("adaptive".into(), config.adaptive.to_string()),
    ];
    for h in crate::redact::headers(&r.headers) {
        out.push(("header".into(), crate::format::inert(&h).into_owned()));
    }
    if let Some(p) = r.proxy.describe() {
        out.push(("proxy".into(), crate::format::inert(&p).into_owned()));
    }
    if let Some(n) = run.requests {
        out.push(("requests (-n)".into(), n.to_string()));
    }
    out
}

/// Follows a run's snapshots to its end, keeping its seconds. Returns the
/// series (finished with the last snapshot).
pub async fn follow(mut snapshots: watch::Receiver<Snapshot>) -> Series {
    let mut series = Series::new();
    while snapshots.changed().await.is_ok() {
        let snap = snapshots.borrow_and_update().clone();
        if snap.state == RunState::Finished {
            series.finish(&snap);
            return series;
        }
        series.observe(&snap);
    }
    let snap = snapshots.borrow().clone();
    series.finish(&snap);
    series
}

/// Writes the page to `path`.
pub fn write(
    path: &Path,
    settings: &[(String, String)],
    summary: &Summary,
    last: &Snapshot,
    series: &Series,
) -> Result<(), String> {
    let page = html::page(&html::Input {
        settings,
        summary,
        last,
        points: &series.points,
    })?;
    std::fs::write(path, page)
        .map_err(|e| format!("cannot write the report {}: {e}", path.display()))
}

/// Checks before a run that the report's file can be written: a usage error
/// then, not a lost report at the end.
pub fn check_writable(path: &Path) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot write the report {}: {e}", path.display()))
}

/// `fetchtop report RECORDING -o FILE.html`: the report of a recorded run.
/// Returns whether the recording was cut short.
pub fn from_recording(recording: &Path, out: &Path) -> Result<bool, String> {
    let mut reader = Reader::open(recording)?;
    let mut series = Series::new();
    let mut last = None;
    while let Some(snap) = reader.next_snapshot() {
        series.observe(&snap);
        last = Some(snap);
    }
    let last = last.ok_or_else(|| format!("{} holds no whole frame", recording.display()))?;
    series.finish(&last);
    let mut summary = Summary::from_snapshot(&last);
    // The run's thresholds, judged as the run judged them at its end; the
    // --abort-if that stopped it is in the recording's frames.
    let rules = reader.header.thresholds.rules().map_err(|e| {
        format!(
            "{}: a threshold in its header does not read: {e}",
            recording.display()
        )
    })?;
    if !rules.is_empty() {
        summary.thresholds = Some(rules.judge(&last, reader.aborted.clone()));
    }
    write(out, &reader.header.settings, &summary, &last, &series)?;
    Ok(reader.cut)
}
