//! The run over time for the report: one point per second from the
//! engine's per-second aggregates, in bounded memory (past an hour, points
//! are merged in pairs, so a day-long run still draws from a few thousand).

use crate::snapshot::{SecondStats, Snapshot};

/// Most points kept; past this, neighbours merge.
pub const MAX_POINTS: usize = 3600;

/// One point of the report's charts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Seconds since the run started, at the point's end.
    pub t_s: f64,
    /// How long the point covers, in seconds.
    pub span_s: f64,
    /// Items completed in it.
    pub completed: u64,
    /// Of those, failures.
    pub failed: u64,
    /// In flight at its end.
    pub in_flight: u64,
    /// The effective limit at its end.
    pub limit: u64,
    /// Latency percentiles of its responses, in ms (merged points keep the
    /// worse of the two: percentiles cannot be added).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// The heartbeat's largest lag over the last 5 seconds when the point
    /// was taken, in ms.
    pub lag_ms: f64,
}

impl Point {
    fn of(s: &SecondStats, lag_ms: f64) -> Point {
        Point {
            t_s: s.t_s.saturating_sub(1) as f64 + s.span_s,
            span_s: s.span_s,
            completed: s.completed,
            failed: s.failed,
            in_flight: s.in_flight,
            limit: s.limit,
            p50: s.latency.p50,
            p90: s.latency.p90,
            p99: s.latency.p99,
            max: s.latency.max,
            lag_ms,
        }
    }

    fn merge(a: Point, b: Point) -> Point {
        Point {
            t_s: b.t_s,
            span_s: a.span_s + b.span_s,
            completed: a.completed + b.completed,
            failed: a.failed + b.failed,
            in_flight: b.in_flight,
            limit: b.limit,
            p50: a.p50.max(b.p50),
            p90: a.p90.max(b.p90),
            p99: a.p99.max(b.p99),
            max: a.max.max(b.max),
            lag_ms: a.lag_ms.max(b.lag_ms),
        }
    }

    /// Completed per second over the point.
    pub fn rps(&self) -> f64 {
        if self.span_s > 0.0 {
            self.completed as f64 / self.span_s
        } else {
            0.0
        }
    }
}

/// The points so far.
#[derive(Debug, Default)]
pub struct Series {
    /// Oldest first.
    pub points: Vec<Point>,
    /// The last whole second taken.
    last: u64,
    /// A merged point still filling (when points are merged).
    pending: Option<(Point, usize)>,
    /// Seconds per point (1, then 2, 4, … as the run grows).
    per_point: usize,
}

impl Series {
    /// An empty series.
    pub fn new() -> Series {
        Series {
            per_point: 1,
            ..Series::default()
        }
    }

    fn push(&mut self, p: Point) {
        let (acc, n) = match self.pending.take() {
            Some((acc, n)) => (Point::merge(acc, p), n + 1),
            None => (p, 1),
        };
        if n < self.per_point {
            self.pending = Some((acc, n));
            return;
        }
        self.points.push(acc);
        if self.points.len() >= MAX_POINTS {
            self.points = self
                .points
                .chunks(2)
                .map(|c| c.iter().copied().reduce(Point::merge).unwrap_or_default())
                .collect();
            self.per_point *= 2;
        }
    }

    /// Takes the whole seconds of `snap` not taken yet.
    pub fn observe(&mut self, snap: &Snapshot) {
        let lag = snap.executor.lag_max_ms;
        for s in &snap.seconds {
            if s.t_s > self.last {
                self.push(Point::of(s, lag));
                self.last = s.t_s;
            }
        }
    }

    /// Takes the end of the run: what is left of its whole seconds and the
    /// last part of one.
    pub fn finish(&mut self, snap: &Snapshot) {
        self.observe(snap);
        let now = snap.second_now;
        if now.span_s > 0.0 && now.t_s > self.last {
            self.push(Point::of(&now, snap.executor.lag_max_ms));
            self.last = now.t_s;
        }
        if let Some((acc, _)) = self.pending.take() {
            self.points.push(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_is_merged_into_bounded_points_that_keep_the_counts() {
        let mut s = Series::new();
        let mut snap = Snapshot::default();
        for t in 1..=10_000u64 {
            snap.seconds = vec![SecondStats {
                t_s: t,
                span_s: 1.0,
                completed: 3,
                ..SecondStats::default()
            }];
            s.observe(&snap);
        }
        s.finish(&snap);
        assert!(s.points.len() <= MAX_POINTS, "{}", s.points.len());
        let total: u64 = s.points.iter().map(|p| p.completed).sum();
        assert_eq!(total, 30_000);
        let span: f64 = s.points.iter().map(|p| p.span_s).sum();
        assert_eq!(span, 10_000.0);
        assert_eq!(s.points.last().unwrap().t_s, 10_000.0);
    }
}
