//! `fetchtop attach URL...`: the dashboard over running instances'
//! `/snapshot` endpoints, merged into one [`Snapshot`] (counts summed,
//! latency histograms added exactly), with the dashboard's keys fanned out
//! to every instance's `/control`.
//!
//! To the dashboard this looks like an engine: a `watch<Snapshot>` fed by a
//! poller, a command channel read by a fan-out. An instance that stops
//! answering is shown as lost with its last numbers (never as zero), and
//! comes back when it answers again. `q` detaches: the instances go on.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::control::Token;
use super::wire::LosslessHistogram;
use crate::cli::AttachArgs;
use crate::engine::EngineHandle;
use crate::launch::Failure;
use crate::snapshot::{RunState, Snapshot};
use crate::ui::{self, Theme, dashboard::DashboardOptions};

mod fan_out;
mod view;

use fan_out::fan_out;
use view::{History, merge};

/// How often every instance is asked for its snapshot.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long one answer may take before the instance counts as lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

/// The fields of `/snapshot` that attach reads.
#[derive(Clone, Debug, Deserialize)]
struct Doc {
    #[serde(default)]
    job_shard: Option<crate::engine::job_shard::JobShard>,
    target: String,
    state: String,
    elapsed_s: f64,
    limit: u64,
    paused: bool,
    rate_limit: Option<f64>,
    in_flight: u64,
    total: Option<u64>,
    dispatched: u64,
    skipped: u64,
    counts: Counts,
    bytes: u64,
    #[serde(default)]
    retries: u64,
    rate_recent: f64,
    rate_overall: f64,
    status: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    lag_ms: f64,
    lag_p99_ms: f64,
    latency_histogram: Option<LosslessHistogram>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
struct Counts {
    queued: u64,
    connecting: u64,
    waiting: u64,
    receiving: u64,
    retrying: u64,
    done: u64,
    failed: u64,
    cancelled: u64,
}

/// What attach knows of one instance.
#[derive(Debug)]
struct Instance {
    /// Its base URL, without a trailing slash.
    base: String,
    /// Its last answer and histogram, kept while it is lost.
    last: Option<(Doc, Option<hdrhistogram::Histogram<u64>>)>,
    lost: bool,
    command_error: Option<String>,
}

/// Shared by the poller and the fan-out.
struct Shared {
    instances: Mutex<Vec<Instance>>,
    /// Commands sent to every instance so far.
    applied: AtomicU64,
    /// Set by `q`: publish a finished snapshot and end.
    detach: CancellationToken,
}

/// `http://host:port`, `host:port` or `.../snapshot`, as a base URL.
fn base_url(given: &str) -> String {
    let s = given.trim().trim_end_matches('/');
    let s = s.strip_suffix("/snapshot").unwrap_or(s);
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// Runs `fetchtop attach`.
pub async fn run(args: &AttachArgs) -> Result<ExitCode, Failure> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return Err(Failure::Usage(
            "attach shows a dashboard: run it in a terminal".into(),
        ));
    }
    let token = args
        .control_token
        .as_deref()
        .map(Token::given)
        .transpose()
        .map_err(Failure::Usage)?;
    let client = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .map_err(|e| Failure::Usage(format!("cannot prepare the HTTP client: {e}")))?;
    let shared = Arc::new(Shared {
        instances: Mutex::new(
            args.urls
                .iter()
                .map(|u| Instance {
                    base: base_url(u),
                    last: None,
                    lost: false,
                    command_error: None,
                })
                .collect(),
        ),
        applied: AtomicU64::new(0),
        detach: CancellationToken::new(),
    });
    let (snap_tx, snapshots) = watch::channel(Snapshot {
        target: format!("{} instances", args.urls.len()),
        ..Snapshot::default()
    });
    let (commands, command_rx) = mpsc::channel(64);
    let (poke_tx, poke_rx) = mpsc::channel(8);
    let finished = tokio::spawn(poll(client.clone(), Arc::clone(&shared), snap_tx, poke_rx));
    tokio::spawn(fan_out(
        client,
        token,
        Arc::clone(&shared),
        command_rx,
        poke_tx,
    ));
    let handle = EngineHandle {
        commands,
        snapshots,
        finished,
    };
    let opts = DashboardOptions {
        fps: f64::from(args.fps),
        theme: Theme::from_env(args.ascii),
        headers: Vec::new(),
        // Thresholds and write errors belong to each instance's own run.
        stop_on: tokio_util::sync::CancellationToken::new(),
        thresholds: crate::thresholds::Rules::default(),
    };
    let outcome = ui::dashboard::run(handle, opts).await?;
    Ok(if outcome.interrupted {
        ExitCode::from(crate::launch::EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Asks every instance for its snapshot, publishes the merged one, until
/// detached; returns the last.
async fn poll(
    client: reqwest::Client,
    shared: Arc<Shared>,
    tx: watch::Sender<Snapshot>,
    mut poke: mpsc::Receiver<()>,
) -> Snapshot {
    let started = Instant::now();
    let mut history = History::default();
    let mut ticker = tokio::time::interval(POLL_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shared.detach.cancelled() => break,
            _ = ticker.tick() => {}
            Some(()) = poke.recv() => {}
        }
        let bases: Vec<String> = lock(&shared).iter().map(|i| i.base.clone()).collect();
        let mut asks = tokio::task::JoinSet::new();
        for (i, base) in bases.into_iter().enumerate() {
            let client = client.clone();
            asks.spawn(async move { (i, fetch_doc(&client, &base).await) });
        }
        let mut answers = Vec::new();
        while let Some(Ok(answer)) = asks.join_next().await {
            answers.push(answer);
        }
        {
            let mut instances = lock(&shared);
            for (i, answer) in answers {
                let Some(inst) = instances.get_mut(i) else {
                    continue;
                };
                match answer {
                    Some(doc) => {
                        let hist = doc.latency_histogram.as_ref().and_then(|h| h.decode().ok());
                        inst.last = Some((doc, hist));
                        inst.lost = false;
                    }
                    // One that finished and then went (its grace period
                    // over) is done, not lost.
                    None => {
                        inst.lost = inst
                            .last
                            .as_ref()
                            .is_none_or(|(d, _)| d.state != "finished");
                    }
                }
            }
        }
        let snap = merge(
            &lock(&shared),
            shared.applied.load(Ordering::Relaxed),
            started.elapsed(),
            &mut history,
        );
        tx.send_replace(snap);
    }
    let mut last = merge(
        &lock(&shared),
        shared.applied.load(Ordering::Relaxed),
        started.elapsed(),
        &mut history,
    );
    // Detached: to the dashboard, this run is over.
    last.state = RunState::Finished;
    tx.send_replace(last.clone());
    last
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Vec<Instance>> {
    // A panic elsewhere while holding it leaves data still worth showing.
    shared
        .instances
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn fetch_doc(client: &reqwest::Client, base: &str) -> Option<Doc> {
    let resp = client.get(format!("{base}/snapshot")).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body = resp.bytes().await.ok()?;
    serde_json::from_slice(&body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_bases() {
        assert_eq!(base_url("127.0.0.1:9898"), "http://127.0.0.1:9898");
        assert_eq!(base_url("http://h:1/snapshot"), "http://h:1");
        assert_eq!(base_url("http://h:1/"), "http://h:1");
    }
}
