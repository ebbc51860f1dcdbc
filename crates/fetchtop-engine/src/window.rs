//! What happened over a stretch of the run (a window): responses, the
//! latency of just those, overload signals. The control plane's tuners
//! (`--adaptive`, `--sweep`) decide from windows, not from the whole run.
//!
//! A window is the difference of two readings of the run's cumulative
//! counters and histogram, so it costs nothing per request.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::record::ErrorKind;
use crate::snapshot::Snapshot;

/// The measurements of one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// How long the window lasted.
    pub span: Duration,
    /// The limit during the window (at its end).
    pub limit: u64,
    /// Most requests in flight seen during the window.
    pub peak_in_flight: u64,
    /// Responses and failures that ended in the window.
    pub completed: u64,
    /// Of those, failures (errors and error statuses).
    pub failed: u64,
    /// Responses 429 or 503: the server asks for less.
    pub throttled: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Median latency of the window's responses, in ms.
    pub p50_ms: f64,
    /// Mean latency of the window's responses, in ms (by Little's law,
    /// the requests in flight over the throughput).
    pub mean_ms: f64,
    /// 99th percentile of the window's responses, in ms.
    pub p99_ms: f64,
}

impl Sample {
    /// Completed per second over the window.
    pub fn throughput(&self) -> f64 {
        let s = self.span.as_secs_f64();
        if s > 0.0 {
            self.completed as f64 / s
        } else {
            0.0
        }
    }
}

/// The cumulative readings a window starts from.
pub struct Window {
    start: Duration,
    latency: Histogram<u64>,
    completed: u64,
    failed: u64,
    throttled: u64,
    timeouts: u64,
    peak: u64,
}

fn throttled(snap: &Snapshot) -> u64 {
    snap.status
        .iter()
        .filter(|(c, _)| *c == 429 || *c == 503)
        .map(|(_, n)| n)
        .sum()
}

fn timeouts(snap: &Snapshot) -> u64 {
    snap.errors
        .iter()
        .filter(|(k, _)| *k == ErrorKind::Timeout)
        .map(|(_, n)| n)
        .sum()
}

impl Window {
    /// A window opening now, at `snap` with the run's histogram `latency` (µs).
    pub fn open(snap: &Snapshot, latency: &Histogram<u64>) -> Window {
        Window {
            start: snap.elapsed,
            latency: latency.clone(),
            completed: snap.counts.done + snap.counts.failed,
            failed: snap.counts.failed,
            throttled: throttled(snap),
            timeouts: timeouts(snap),
            peak: snap.in_flight,
        }
    }

    /// How long the window has been open at `snap`.
    pub fn age(&self, snap: &Snapshot) -> Duration {
        snap.elapsed.saturating_sub(self.start)
    }

    /// Items completed since the window opened, cheaply (no histogram).
    pub fn completed_since(&self, snap: &Snapshot) -> u64 {
        (snap.counts.done + snap.counts.failed).saturating_sub(self.completed)
    }

    /// Notes the in-flight count of a snapshot inside the window.
    pub fn observe(&mut self, snap: &Snapshot) {
        self.peak = self.peak.max(snap.in_flight);
    }

    /// The window from its opening to `snap` (histogram `latency`).
    pub fn close(&self, snap: &Snapshot, latency: &Histogram<u64>) -> Sample {
        let mut h = latency.clone();
        // The run's histogram only grows: what was in it at the opening is
        // still in it, so the subtraction cannot underflow.
        let within = h.subtract(&self.latency).is_ok() && !h.is_empty();
        let q = |q: f64| {
            if within {
                h.value_at_quantile(q) as f64 / 1000.0
            } else {
                0.0
            }
        };
        Sample {
            span: self.age(snap),
            limit: snap.effective_limit(),
            peak_in_flight: self.peak.max(snap.in_flight),
            completed: (snap.counts.done + snap.counts.failed).saturating_sub(self.completed),
            failed: snap.counts.failed.saturating_sub(self.failed),
            throttled: throttled(snap).saturating_sub(self.throttled),
            timeouts: timeouts(snap).saturating_sub(self.timeouts),
            p50_ms: q(0.5),
            mean_ms: if within { h.mean() / 1000.0 } else { 0.0 },
            p99_ms: q(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::StateCounts;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    #[test]
    fn a_window_sees_only_what_happened_inside_it() {
        let before = Snapshot {
            counts: StateCounts {
                done: 100,
                failed: 5,
                ..StateCounts::default()
            },
            status: vec![(200, 100), (429, 5)],
            ..Snapshot::default()
        };
        let w = Window::open(&before, &hist(&[1_000; 105]));
        let mut after = before.clone();
        after.elapsed = Duration::from_secs(2);
        after.limit = 40;
        after.counts.done = 190;
        after.counts.failed = 15;
        after.status = vec![(200, 190), (429, 10), (503, 5)];
        after.errors = vec![(ErrorKind::Timeout, 0)];
        let mut all = vec![1_000; 105];
        all.extend([50_000; 100]);
        let s = w.close(&after, &hist(&all));
        assert_eq!(s.completed, 100);
        assert_eq!(s.failed, 10);
        assert_eq!(s.throttled, 10);
        assert_eq!(s.limit, 40);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{}", s.p50_ms);
        assert!((s.throughput() - 50.0).abs() < 1e-9);
    }
}
