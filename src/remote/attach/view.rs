//! The instances' last answers as one [`Snapshot`] for the dashboard.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::engine::ErrorKind;
use crate::engine::stats;
use crate::remote::wire::HistogramSum;
use crate::snapshot::{
    ExecutorView, HistoryPoint, InstanceView, RunState, ShardView, Snapshot, StateCounts,
};

use super::Instance;

/// One-second points kept for the charts.
const HISTORY_LEN: usize = 180;

/// One-second throughput points over the attach's own clock, and the
/// merged histogram as it was over the last seconds (for "last 5 s").
#[derive(Default)]
pub(super) struct History {
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
    pub(super) fn recent(
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

    pub(super) fn observe(
        &mut self,
        elapsed: Duration,
        completed: u64,
        in_flight: u64,
        limit: u64,
    ) {
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
pub(super) fn merge(
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
    // Paused only when every instance that answered says so (and one has).
    let answered = instances.iter().any(|i| i.last.is_some());
    snap.paused = all_paused && answered;
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

#[cfg(test)]
mod tests {
    use super::super::{Counts, Doc};
    use super::*;
    use crate::remote::wire::LosslessHistogram;

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
