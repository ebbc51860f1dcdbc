//! `fetchtop attach URL...`: the dashboard over running instances'
//! `/snapshot` endpoints, merged into one [`Snapshot`] (counts summed,
//! latency histograms added exactly), with the dashboard's keys fanned out
//! to every instance's `/control`.
//!
//! To the dashboard this looks like an engine: a `watch<Snapshot>` fed by a
//! poller, a command channel read by a fan-out. An instance that stops
//! answering is shown as lost with its last numbers (never as zero), and
//! comes back when it answers again. `q` detaches: the instances go on.

use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::control::Token;
use super::wire::{HistogramSum, LosslessHistogram};
use crate::cli::AttachArgs;
use crate::engine::stats;
use crate::engine::{Command, EngineHandle, ErrorKind};
use crate::launch::Failure;
use crate::snapshot::{
    ExecutorView, HistoryPoint, InstanceView, RunState, ShardView, Snapshot, StateCounts,
};
use crate::ui::{self, Theme, dashboard::DashboardOptions};

/// How often every instance is asked for its snapshot.
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long one answer may take before the instance counts as lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// One-second points kept for the charts.
const HISTORY_LEN: usize = 180;

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

/// One-second throughput points over the attach's own clock, and the
/// merged histogram as it was over the last seconds (for "last 5 s").
#[derive(Default)]
struct History {
    points: VecDeque<HistoryPoint>,
    mark: Option<u64>,
    /// (attach second, merged histogram then), at most one a second.
    earlier: VecDeque<(u64, hdrhistogram::Histogram<u64>)>,
}

/// Seconds covered by the recent latency, as in a run's own dashboard.
const RECENT_SECS: u64 = 5;

impl History {
    /// The responses of the last [`RECENT_SECS`]: the merged histogram now
    /// less the one kept from then. `None` until there is one, or when an
    /// instance came back with fewer counts (restarted) and less is not less.
    fn recent(
        &mut self,
        elapsed: Duration,
        now: &hdrhistogram::Histogram<u64>,
    ) -> Option<hdrhistogram::Histogram<u64>> {
        let second = elapsed.as_secs();
        if self.earlier.back().is_none_or(|(s, _)| *s < second) {
            self.earlier.push_back((second, now.clone()));
        }
        while self.earlier.len() > RECENT_SECS as usize + 1 {
            self.earlier.pop_front();
        }
        let (_, then) = self.earlier.front()?;
        let mut recent = now.clone();
        recent.subtract(then).ok()?;
        Some(recent)
    }

    fn observe(&mut self, elapsed: Duration, completed: u64, in_flight: u64, limit: u64) {
        let second = elapsed.as_secs();
        let next = self.points.back().map_or(1, |p| p.t_s + 1);
        let mark = *self.mark.get_or_insert(completed);
        if second >= next {
            if self.points.len() == HISTORY_LEN {
                self.points.pop_front();
            }
            self.points.push_back(HistoryPoint {
                t_s: second,
                finished: completed.saturating_sub(mark),
                in_flight,
                limit,
            });
            self.mark = Some(completed);
        }
    }
}

fn short_name(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string()
}

/// The instances as one snapshot: their last answers, summed and merged.
fn merge(
    instances: &[Instance],
    applied: u64,
    elapsed: Duration,
    history: &mut History,
) -> Snapshot {
    let mut snap = Snapshot {
        commands: applied,
        ceiling: crate::engine::MAX_CONCURRENCY,
        ..Snapshot::default()
    };
    let mut sum = HistogramSum::new();
    let (mut counts, mut status, mut errors) =
        (StateCounts::default(), BTreeMap::new(), BTreeMap::new());
    let (mut all_finished, mut all_paused, mut total, mut rate_limit) =
        (true, true, Some(0u64), Some(0.0));
    let mut targets = Vec::new();
    let (mut lag_now, mut lag_p99) = (0.0f64, 0.0f64);
    for (i, inst) in instances.iter().enumerate() {
        let mut view = InstanceView {
            name: short_name(&inst.base),
            lost: inst.lost || inst.last.is_none(),
            command_error: inst.command_error.clone(),
            ..InstanceView::default()
        };
        let Some((d, hist)) = &inst.last else {
            all_finished = false;
            snap.instances.push(view);
            snap.executor.shards.push(ShardView {
                id: i,
                ..ShardView::default()
            });
            continue;
        };
        let finished = d.state == "finished";
        all_finished &= finished && !view.lost;
        all_paused &= d.paused;
        view.finished = finished;
        view.job_shard = d.job_shard.filter(|p| !p.is_whole()).map(|p| p.to_string());
        view.in_flight = d.in_flight;
        view.limit = if d.paused { 0 } else { d.limit };
        let c = d.counts;
        view.ended = c.done + c.failed + c.cancelled;
        view.lag_ms = d.lag_ms;
        if !targets.contains(&d.target) {
            targets.push(d.target.clone());
        }
        snap.elapsed = snap
            .elapsed
            .max(Duration::from_secs_f64(d.elapsed_s.max(0.0)));
        snap.limit += d.limit;
        snap.in_flight += d.in_flight;
        snap.dispatched += d.dispatched;
        snap.skipped += d.skipped;
        snap.bytes += d.bytes;
        snap.retries += d.retries;
        snap.rate_recent += d.rate_recent;
        snap.rate_overall += d.rate_overall;
        total = total.zip(d.total).map(|(a, b)| a + b);
        rate_limit = rate_limit.zip(d.rate_limit).map(|(a, b)| a + b);
        for (sum, add) in [
            (&mut counts.queued, c.queued),
            (&mut counts.connecting, c.connecting),
            (&mut counts.waiting, c.waiting),
            (&mut counts.receiving, c.receiving),
            (&mut counts.retrying, c.retrying),
            (&mut counts.done, c.done),
            (&mut counts.failed, c.failed),
            (&mut counts.cancelled, c.cancelled),
        ] {
            *sum += add;
        }
        for (k, n) in &d.status {
            if let Ok(code) = k.parse::<u16>() {
                *status.entry(code).or_insert(0) += n;
            }
        }
        for (k, n) in &d.errors {
            if let Some(kind) = ErrorKind::ALL.iter().find(|e| e.as_str() == k) {
                *errors.entry(*kind).or_insert(0u64) += n;
            }
        }
        if let Some(h) = hist {
            let _ = sum.add(h);
        }
        lag_now = lag_now.max(d.lag_ms);
        lag_p99 = lag_p99.max(d.lag_p99_ms);
        snap.executor.shards.push(ShardView {
            id: i,
            in_flight: d.in_flight,
            finished: view.ended,
            lag_now_ms: d.lag_ms,
            lag_p99_ms: d.lag_p99_ms,
            lag_max_ms: d.lag_p99_ms,
            ..ShardView::default()
        });
        snap.instances.push(view);
    }
    snap.target = match targets.as_slice() {
        [] => format!("{} instances", instances.len()),
        [one] => format!("{one} · {} instances", instances.len()),
        _ => format!("{} instances", instances.len()),
    };
    snap.counts = counts;
    snap.paused = all_paused && !instances.is_empty();
    snap.state = if all_finished && !instances.is_empty() {
        RunState::Finished
    } else if snap.paused {
        RunState::Paused
    } else {
        RunState::Running
    };
    snap.source_done = snap.state == RunState::Finished;
    snap.total = total;
    snap.rate_limit = rate_limit.filter(|_| instances.iter().all(|i| i.last.is_some()));
    snap.max_in_flight = snap.in_flight;
    snap.status = status.into_iter().collect();
    let mut errors: Vec<(ErrorKind, u64)> = errors.into_iter().collect();
    errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    snap.errors = errors;
    snap.latency = stats::percentiles(sum.histogram());
    snap.histogram = stats::bars(sum.histogram());
    if let Some(recent) = history.recent(elapsed, sum.histogram()) {
        snap.latency_recent = stats::percentiles(&recent);
        snap.histogram_recent = stats::bars(&recent);
    }
    snap.executor = ExecutorView {
        workers: instances.len(),
        active_shards: instances.len(),
        lag_now_ms: lag_now,
        lag_p99_ms: lag_p99,
        lag_max_ms: lag_p99,
        shards: std::mem::take(&mut snap.executor.shards),
        ..ExecutorView::default()
    };
    history.observe(
        elapsed,
        counts.done + counts.failed,
        snap.in_flight,
        snap.effective_limit(),
    );
    snap.history = history.points.iter().copied().collect();
    snap
}

/// Shares of `new` in proportion to `old` (equal shares when all are 0),
/// adding up to `new`.
fn proportional(old: &[f64], new: f64) -> Vec<f64> {
    let sum: f64 = old.iter().sum();
    if old.is_empty() {
        return Vec::new();
    }
    if sum <= 0.0 {
        return vec![new / old.len() as f64; old.len()];
    }
    old.iter().map(|o| o * new / sum).collect()
}

/// Whole shares of `new` in proportion to `old`, adding up to `new` exactly.
fn proportional_whole(old: &[u64], new: u64) -> Vec<u64> {
    let shares = proportional(
        &old.iter().map(|&o| o as f64).collect::<Vec<_>>(),
        new as f64,
    );
    let mut whole: Vec<u64> = shares.iter().map(|s| s.floor() as u64).collect();
    let mut left = new.saturating_sub(whole.iter().sum());
    // The remainder goes to the largest fractions first.
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| {
        (shares[b] - shares[b].floor()).total_cmp(&(shares[a] - shares[a].floor()))
    });
    for i in order {
        if left == 0 {
            break;
        }
        whole[i] += 1;
        left -= 1;
    }
    whole
}

/// The per-instance requests for one dashboard command; `None` for those
/// attach does not forward (quitting detaches instead).
fn requests_for(cmd: Command, instances: &[Instance]) -> Option<Vec<Option<String>>> {
    let body = |s: String| Some(s);
    let same = |s: &str| Some(vec![Some(s.to_string()); instances.len()]);
    match cmd {
        Command::SetConcurrency(total) => {
            let old: Vec<u64> = instances
                .iter()
                .map(|i| i.last.as_ref().map_or(0, |(d, _)| d.limit))
                .collect();
            Some(
                proportional_whole(&old, total)
                    .into_iter()
                    .map(|l| body(format!("{{\"command\":\"set_limit\",\"limit\":{l}}}")))
                    .collect(),
            )
        }
        Command::SetRate(total) => {
            let old: Vec<f64> = instances
                .iter()
                .map(|i| {
                    i.last
                        .as_ref()
                        .and_then(|(d, _)| d.rate_limit)
                        .unwrap_or(0.0)
                })
                .collect();
            Some(
                proportional(&old, total)
                    .into_iter()
                    .map(|r| {
                        let r =
                            r.clamp(crate::engine::pace::MIN_RATE, crate::engine::pace::MAX_RATE);
                        body(format!("{{\"command\":\"set_rate\",\"rate\":{r}}}"))
                    })
                    .collect(),
            )
        }
        Command::Pause => same(r#"{"command":"pause"}"#),
        Command::Resume => same(r#"{"command":"resume"}"#),
        Command::CancelAll => same(r#"{"command":"cancel_all"}"#),
        _ => None,
    }
}

/// Sends each command to every instance's `/control`.
async fn fan_out(
    client: reqwest::Client,
    token: Option<Token>,
    shared: Arc<Shared>,
    mut commands: mpsc::Receiver<Command>,
    poke: mpsc::Sender<()>,
) {
    while let Some(cmd) = commands.recv().await {
        if matches!(cmd, Command::Stop | Command::Abort) {
            shared.detach.cancel();
            continue;
        }
        let planned = {
            let instances = lock(&shared);
            requests_for(cmd, &instances).map(|bodies| {
                instances
                    .iter()
                    .map(|i| i.base.clone())
                    .zip(bodies)
                    .collect::<Vec<_>>()
            })
        };
        let Some(planned) = planned else {
            shared.applied.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let mut sends = tokio::task::JoinSet::new();
        for (i, (base, body)) in planned.into_iter().enumerate() {
            let Some(body) = body else { continue };
            let (client, token) = (client.clone(), token.clone());
            sends.spawn(async move { (i, send(&client, token.as_ref(), &base, body).await) });
        }
        let mut results = Vec::new();
        while let Some(Ok(r)) = sends.join_next().await {
            results.push(r);
        }
        {
            let mut instances = lock(&shared);
            for (i, result) in results {
                if let Some(inst) = instances.get_mut(i) {
                    inst.command_error = result.err();
                }
            }
        }
        shared.applied.fetch_add(1, Ordering::Relaxed);
        let _ = poke.try_send(());
    }
}

async fn send(
    client: &reqwest::Client,
    token: Option<&Token>,
    base: &str,
    body: String,
) -> Result<(), String> {
    let mut req = client
        .post(format!("{base}/control"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t.expose());
    }
    let resp = req.send().await.map_err(|e| format!("no answer ({e})"))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
        " (give --control-token)"
    } else {
        ""
    };
    Err(format!(
        "refused the command: HTTP {}{hint}",
        status.as_u16()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_shared_in_proportion_and_add_up() {
        assert_eq!(proportional_whole(&[4, 4], 16), [8, 8]);
        assert_eq!(proportional_whole(&[10, 30], 20), [5, 15]);
        assert_eq!(proportional_whole(&[0, 0, 0], 10).iter().sum::<u64>(), 10);
        assert_eq!(proportional_whole(&[1, 1, 1], 4).iter().sum::<u64>(), 4);
        assert!(proportional_whole(&[], 4).is_empty());
    }

    #[test]
    fn urls_become_bases() {
        assert_eq!(base_url("127.0.0.1:9898"), "http://127.0.0.1:9898");
        assert_eq!(base_url("http://h:1/snapshot"), "http://h:1");
        assert_eq!(base_url("http://h:1/"), "http://h:1");
    }

    fn doc(limit: u64, done: u64, lag: f64) -> Doc {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        h.record(1000 * done).unwrap();
        Doc {
            job_shard: None,
            target: "t".into(),
            state: "running".into(),
            elapsed_s: 1.0,
            limit,
            paused: false,
            rate_limit: None,
            in_flight: limit,
            total: Some(100),
            dispatched: done + limit,
            skipped: 0,
            counts: Counts {
                done,
                ..Counts::default()
            },
            bytes: 10,
            retries: 0,
            rate_recent: 5.0,
            rate_overall: 5.0,
            status: [("200".to_string(), done)].into(),
            errors: BTreeMap::new(),
            lag_ms: lag,
            lag_p99_ms: lag,
            latency_histogram: Some(LosslessHistogram::encode(&h)),
        }
    }

    #[test]
    fn a_lost_instance_keeps_its_numbers_and_is_marked() {
        let inst = |d: Doc, lost| {
            let h = d.latency_histogram.as_ref().and_then(|h| h.decode().ok());
            Instance {
                base: "http://a:1".into(),
                last: Some((d, h)),
                lost,
                command_error: None,
            }
        };
        let instances = vec![inst(doc(4, 10, 1.0), false), inst(doc(6, 30, 9.0), true)];
        let s = merge(
            &instances,
            2,
            Duration::from_secs(1),
            &mut History::default(),
        );
        assert_eq!(s.limit, 10);
        assert_eq!(s.counts.done, 40);
        assert_eq!(s.status, [(200, 40)]);
        assert_eq!(s.total, Some(200));
        assert_eq!(s.commands, 2);
        assert_eq!(s.latency.count, 2);
        assert!((s.latency.max - 30.0).abs() < 0.1, "{}", s.latency.max);
        assert_eq!(s.executor.lag_now_ms, 9.0);
        assert_eq!(s.instances.len(), 2);
        assert!(!s.instances[0].lost && s.instances[1].lost);
        assert_eq!(s.instances[1].ended, 30, "never shown as zero");
        assert_eq!(s.state, RunState::Running);
    }

    #[test]
    fn recent_latency_is_the_difference_over_the_last_seconds() {
        let mut history = History::default();
        let mut h = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        h.auto(true);
        h.record(1_000).unwrap();
        assert_eq!(
            history.recent(Duration::from_secs(0), &h).map(|r| r.len()),
            Some(0)
        );
        h.record(50_000).unwrap();
        h.record(50_000).unwrap();
        let recent = history.recent(Duration::from_secs(1), &h).unwrap();
        assert_eq!(recent.len(), 2, "what came after the first second");
        for s in 2..=8 {
            history.recent(Duration::from_secs(s), &h);
        }
        assert_eq!(
            history.recent(Duration::from_secs(9), &h).map(|r| r.len()),
            Some(0),
            "nothing new in 5 s"
        );
        let fewer = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert!(
            history.recent(Duration::from_secs(10), &fewer).is_none(),
            "a restarted instance"
        );
    }
}
