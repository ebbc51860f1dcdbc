//! Run statistics in constant memory: histograms, counters and rolling rates.
//!
//! Pure: no I/O, no clocks of its own (callers pass the elapsed time), so it
//! is unit-tested directly. Recording one item is O(1); filling a snapshot is
//! proportional to the histogram size, never to the number of items.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::record::{ErrorKind, HTTP_VERSIONS, ItemState, Record};
use crate::snapshot::{HistogramBar, HistoryPoint, Percentiles, SecondStats, Snapshot};

/// Longest latency tracked exactly (larger values are clamped to it), in µs.
const MAX_TRACKED_US: u64 = 3_600_000_000;
/// Seconds of latency covered by "recent" percentiles.
const RECENT_SECS: usize = 5;
/// Window of the recent throughput, in seconds.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// How many one-second history points are kept.
const HISTORY_LEN: usize = 180;
/// How many whole seconds are kept in detail ([`Snapshot::seconds`]).
const SECONDS_LEN: usize = 60;
/// Bars in the latency histogram.
const HISTOGRAM_BARS: usize = 24;

fn histogram(sigfig: u8) -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; this cannot fail.
    Histogram::new_with_bounds(1, MAX_TRACKED_US, sigfig)
        .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"))
}

/// Latency for the last few seconds: one coarse histogram per second, rotated.
struct RecentLatency {
    slots: Vec<Histogram<u64>>,
    /// The run second each slot holds.
    slot_second: Vec<u64>,
    merged: Histogram<u64>,
}

impl RecentLatency {
    fn new() -> RecentLatency {
        RecentLatency {
            slots: (0..RECENT_SECS).map(|_| histogram(2)).collect(),
            slot_second: vec![0; RECENT_SECS],
            merged: histogram(2),
        }
    }

    fn record(&mut self, second: u64, us: u64) {
        let i = (second % RECENT_SECS as u64) as usize;
        if self.slot_second[i] != second {
            self.slots[i].reset();
            self.slot_second[i] = second;
        }
        self.slots[i].saturating_record(us);
    }

    fn add(&mut self, second: u64, h: &Histogram<u64>) {
        let i = (second % RECENT_SECS as u64) as usize;
        if self.slot_second[i] != second {
            self.slots[i].reset();
            self.slot_second[i] = second;
        }
        // The slots' bounds cover every value a shard records: adding cannot fail.
        let _ = self.slots[i].add(h);
    }

    /// The latency of the seconds `from..=to` alone (those still kept).
    fn seconds(&mut self, from: u64, to: u64) -> Percentiles {
        self.merged.reset();
        for (h, &s) in self.slots.iter().zip(&self.slot_second) {
            if (from..=to).contains(&s) {
                // Same bounds on both sides, so adding cannot fail.
                let _ = self.merged.add(h);
            }
        }
        percentiles(&self.merged)
    }

    fn percentiles(&mut self, second: u64) -> Percentiles {
        self.merged.reset();
        for (h, &s) in self.slots.iter().zip(&self.slot_second) {
            if second.saturating_sub(s) < RECENT_SECS as u64 {
                // Same bounds on both sides, so adding cannot fail.
                let _ = self.merged.add(h);
            }
        }
        percentiles(&self.merged)
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The percentiles of a histogram of µs, in ms (for readers that merge
/// histograms of their own, such as `fetchtop attach`).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    // One walk over the buckets for all four (ascending), not one each.
    let mut q = h.value_at_quantiles([0.50, 0.90, 0.99, 0.999]);
    let mut next = || us_to_ms(q.next().unwrap_or(0));
    Percentiles {
        p50: next(),
        p90: next(),
        p99: next(),
        p999: next(),
        max: us_to_ms(h.max()),
        mean: h.mean() / 1000.0,
        count: h.len(),
    }
}

/// Log-spaced bars from the smallest to the largest value seen. One pass
/// over the recorded buckets, so every response lands in exactly one bar.
pub fn bars(h: &Histogram<u64>) -> Vec<HistogramBar> {
    if h.is_empty() {
        return Vec::new();
    }
    let lo = h.min().max(1) as f64;
    let hi = (h.max() as f64).max(lo + 1.0);
    let step = (hi / lo).powf(1.0 / HISTOGRAM_BARS as f64);
    let mut bounds: Vec<u64> = (1..HISTOGRAM_BARS)
        .map(|i| (lo * step.powi(i as i32)) as u64)
        .collect();
    bounds.push(h.max());
    bounds.dedup();
    let mut counts = vec![0u64; bounds.len()];
    let last = counts.len() - 1;
    for v in h.iter_recorded() {
        let i = bounds
            .partition_point(|&b| b < v.value_iterated_to())
            .min(last);
        counts[i] += v.count_at_value();
    }
    bounds
        .iter()
        .zip(counts)
        .map(|(&b, count)| HistogramBar {
            le_ms: us_to_ms(b),
            count,
        })
        .collect()
}

/// The counters of a run or of one shard: what every finished item adds to.
/// Cumulative, so a shard's latest tally replaces its previous one and the
/// run's is their sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// Items done.
    pub done: u64,
    /// Items failed.
    pub failed: u64,
    /// Items cancelled.
    pub cancelled: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// Attempts after the first (`--retries`), over every item.
    pub retries: u64,
    /// Responses by status code (index = code).
    pub status: Vec<u64>,
    /// Items by error kind (index = [`ErrorKind::index`]).
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Answers by the HTTP version spoken (index into [`HTTP_VERSIONS`]).
    pub versions: [u64; HTTP_VERSIONS.len()],
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            done: 0,
            failed: 0,
            cancelled: 0,
            bytes: 0,
            retries: 0,
            status: vec![0; 1000],
            errors: [0; ErrorKind::ALL.len()],
            versions: [0; HTTP_VERSIONS.len()],
        }
    }
}

impl Tally {
    /// Counts one finished item. O(1).
    pub fn record(&mut self, r: &Record) {
        match r.state {
            ItemState::Done => self.done += 1,
            ItemState::Failed => self.failed += 1,
            ItemState::Cancelled => self.cancelled += 1,
        }
        if let Some(kind) = r.error_kind() {
            self.errors[kind.index()] += 1;
        }
        self.bytes += r.bytes;
        self.retries += u64::from(r.attempts.saturating_sub(1));
        if let Some(slot) = r.status.and_then(|code| self.status.get_mut(code as usize)) {
            *slot += 1;
        }
        if let Some(i) = r
            .http
            .and_then(|v| HTTP_VERSIONS.iter().position(|&n| n == v))
        {
            self.versions[i] += 1;
        }
    }

    /// Adds another tally into this one.
    pub fn add(&mut self, other: &Tally) {
        self.done += other.done;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.bytes += other.bytes;
        self.retries += other.retries;
        for (a, b) in self.status.iter_mut().zip(&other.status) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
        for (a, b) in self.versions.iter_mut().zip(&other.versions) {
            *a += b;
        }
    }

    /// Items finished, one way or another.
    pub fn finished(&self) -> u64 {
        self.done + self.failed + self.cancelled
    }
}

/// What one shard counts: its tally, and the latencies recorded since it
/// last handed them to the control plane.
pub struct ShardStats {
    tally: Tally,
    latency: Histogram<u64>,
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats {
            tally: Tally::default(),
            latency: histogram(3),
        }
    }
}

impl ShardStats {
    /// Counts one finished item. O(1).
    pub fn record(&mut self, r: &Record) {
        self.tally.record(r);
        // Latency describes the server's answers: only items that got one count.
        if r.status.is_some() {
            self.latency.saturating_record(r.latency_us.max(1));
        }
    }

    /// The tally so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// The latencies recorded since the last call, leaving none behind;
    /// None when there were none.
    pub fn take_latency(&mut self) -> Option<Histogram<u64>> {
        if self.latency.is_empty() {
            return None;
        }
        Some(std::mem::replace(&mut self.latency, histogram(3)))
    }
}

/// Everything counted over a run.
pub struct Stats {
    latency: Histogram<u64>,
    recent: RecentLatency,
    tally: Tally,
    /// (elapsed, items completed so far), sampled at every tick, for the recent rate.
    samples: VecDeque<(Duration, u64)>,
    history: VecDeque<HistoryPoint>,
    /// Items completed when the last history point was taken.
    history_mark: u64,
    /// The last whole seconds in detail.
    seconds: VecDeque<SecondStats>,
    /// The run's counters when the last whole second ended.
    second_mark: Tally,
    /// Percentiles and bars as last derived, and when (see [`Stats::fill`]).
    derived: Derived,
}

/// The histogram readings, which walk every bucket and so are not worth
/// redoing for each snapshot.
#[derive(Default)]
struct Derived {
    at: Option<Duration>,
    latency: Percentiles,
    latency_recent: Percentiles,
    histogram: Vec<HistogramBar>,
    histogram_recent: Vec<HistogramBar>,
    /// A copy of the run's histogram as it was then.
    latency_histogram: Option<std::sync::Arc<Histogram<u64>>>,
}

/// How often percentiles and bars are derived again: often enough for the
/// eye, rarely enough that a snapshot costs almost nothing.
pub const DERIVE_EVERY: Duration = Duration::from_millis(200);

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Stats {
        Stats {
            latency: histogram(3),
            recent: RecentLatency::new(),
            tally: Tally::default(),
            samples: VecDeque::new(),
            history: VecDeque::with_capacity(HISTORY_LEN),
            history_mark: 0,
            seconds: VecDeque::with_capacity(SECONDS_LEN),
            second_mark: Tally::default(),
            derived: Derived::default(),
        }
    }

    /// Items finished so far.
    pub fn finished(&self) -> u64 {
        self.tally.finished()
    }

    /// Items that ran to an outcome of their own (done or failed). Rates count
    /// these: a cancellation is the user's doing, not work the target did.
    pub fn completed(&self) -> u64 {
        self.tally.done + self.tally.failed
    }

    /// Counts one finished item, `elapsed` after the run started. O(1).
    pub fn record(&mut self, r: &Record, elapsed: Duration) {
        self.tally.record(r);
        // Latency describes the server's answers: only items that got one count.
        if r.status.is_some() {
            self.latency.saturating_record(r.latency_us.max(1));
            self.recent.record(elapsed.as_secs(), r.latency_us.max(1));
        }
    }

    /// Takes the run's counters as they are now (the sum of the shards' tallies).
    pub fn set_tally(&mut self, tally: Tally) {
        self.tally = tally;
    }

    /// The run's counters.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Adds a shard's latencies, handed over `elapsed` after the run started.
    /// Histograms add exactly: the merged percentiles are those of every
    /// response of every shard, not an average of the shards' percentiles.
    pub fn add_latency(&mut self, h: &Histogram<u64>, elapsed: Duration) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(h);
        self.recent.add(elapsed.as_secs(), h);
    }

    /// The whole run's latency histogram (µs).
    pub fn latency_histogram(&self) -> &Histogram<u64> {
        &self.latency
    }

    /// Advances the rolling windows; call at every snapshot tick.
    pub fn tick(&mut self, elapsed: Duration, in_flight: u64, limit: u64) {
        let finished = self.completed();
        self.samples.push_back((elapsed, finished));
        while let Some(&(t, _)) = self.samples.front() {
            if elapsed.saturating_sub(t) > RATE_WINDOW && self.samples.len() > 2 {
                self.samples.pop_front();
            } else {
                break;
            }
        }
        let second = elapsed.as_secs();
        let next = self.history.back().map_or(1, |p| p.t_s + 1);
        if second >= next {
            // Ticks run many times a second; a stalled process may skip seconds,
            // which then show as zero rather than disappearing.
            for t in next..=second {
                let count = if t == second {
                    finished - self.history_mark
                } else {
                    0
                };
                if self.history.len() == HISTORY_LEN {
                    self.history.pop_front();
                }
                self.history.push_back(HistoryPoint {
                    t_s: t,
                    finished: count,
                    in_flight,
                    limit,
                });
            }
            self.history_mark = finished;
            self.close_seconds(next, second, in_flight, limit);
        }
    }

    /// What happened since the last whole second was closed, up to the
    /// end of second `end` (`span_s` of it so far), counted against the
    /// mark; `first` is the first second not closed yet.
    fn since_mark(
        &mut self,
        (first, end): (u64, u64),
        span_s: f64,
        in_flight: u64,
        limit: u64,
    ) -> SecondStats {
        let mut errors = [0; ErrorKind::ALL.len()];
        let (now, mark) = (&self.tally, &self.second_mark);
        for (e, (n, m)) in errors.iter_mut().zip(now.errors.iter().zip(&mark.errors)) {
            *e = n.saturating_sub(*m);
        }
        // Latencies are filed under the second they were handed over in
        // (elapsed, whole seconds): second `t` (ending at t) is slot `t - 1`.
        let latency = self
            .recent
            .seconds(first.saturating_sub(1), end.saturating_sub(1));
        let (now, mark) = (&self.tally, &self.second_mark);
        SecondStats {
            t_s: end,
            span_s,
            completed: (now.done + now.failed).saturating_sub(mark.done + mark.failed),
            failed: now.failed.saturating_sub(mark.failed),
            cancelled: now.cancelled.saturating_sub(mark.cancelled),
            responses: latency.count,
            in_flight,
            limit,
            latency,
            errors,
        }
    }

    /// Closes the whole seconds `first..=last`: the last one gets what
    /// happened since the mark, the ones a stalled process skipped nothing.
    fn close_seconds(&mut self, first: u64, last: u64, in_flight: u64, limit: u64) {
        for t in first..=last {
            let s = if t == last {
                self.since_mark((first, t), 1.0, in_flight, limit)
            } else {
                SecondStats {
                    t_s: t,
                    span_s: 1.0,
                    in_flight,
                    limit,
                    ..SecondStats::default()
                }
            };
            if self.seconds.len() == SECONDS_LEN {
                self.seconds.pop_front();
            }
            self.seconds.push_back(s);
        }
        self.second_mark = self.tally.clone();
    }

    /// Items completed per second over the recent window.
    pub fn rate_recent(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => {
                (n1 - n0) as f64 / (t1 - t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Writes the statistics into a snapshot.
    ///
    /// Percentiles and histogram bars are derived again only when `exact`
    /// asks or [`DERIVE_EVERY`] has passed since the last time.
    pub fn fill(&mut self, snap: &mut Snapshot, exact: bool) {
        let elapsed = snap.elapsed;
        snap.counts.done = self.tally.done;
        snap.counts.failed = self.tally.failed;
        snap.counts.cancelled = self.tally.cancelled;
        snap.bytes = self.tally.bytes;
        snap.retries = self.tally.retries;
        let due = self
            .derived
            .at
            .is_none_or(|at| elapsed.saturating_sub(at) >= DERIVE_EVERY);
        if exact || due {
            let d = &mut self.derived;
            d.at = Some(elapsed);
            d.latency = percentiles(&self.latency);
            d.latency_recent = self.recent.percentiles(elapsed.as_secs());
            d.histogram = bars(&self.latency);
            d.histogram_recent = bars(&self.recent.merged);
            d.latency_histogram = Some(std::sync::Arc::new(self.latency.clone()));
        }
        snap.latency = self.derived.latency;
        snap.latency_recent = self.derived.latency_recent;
        snap.histogram = self.derived.histogram.clone();
        snap.histogram_recent = self.derived.histogram_recent.clone();
        snap.latency_histogram = self.derived.latency_histogram.clone();
        snap.status = self
            .tally
            .status
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(code, &n)| (code as u16, n))
            .collect();
        let mut errors: Vec<(ErrorKind, u64)> = ErrorKind::ALL
            .iter()
            .map(|&k| (k, self.tally.errors[k.index()]))
            .filter(|&(_, n)| n > 0)
            .collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        snap.errors = errors;
        snap.http_versions = HTTP_VERSIONS
            .iter()
            .zip(&self.tally.versions)
            .filter(|&(_, &n)| n > 0)
            .map(|(&v, &n)| (v, n))
            .collect();
        snap.rate_recent = self.rate_recent();
        let secs = elapsed.as_secs_f64();
        snap.rate_overall = if secs > 0.0 {
            self.completed() as f64 / secs
        } else {
            0.0
        };
        snap.history = self.history.iter().copied().collect();
        snap.seconds = self.seconds.iter().copied().collect();
        let start = elapsed.as_secs();
        let first = self.seconds.back().map_or(1, |s| s.t_s + 1);
        snap.second_now = self.since_mark(
            (first, start + 1),
            elapsed.as_secs_f64() - start as f64,
            snap.in_flight,
            snap.effective_limit(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::record::Failure;

    fn record(state: ItemState, status: Option<u16>, latency_ms: u64) -> Record {
        let error = match (state, status) {
            (ItemState::Cancelled, _) => Some(Failure::new(ErrorKind::Cancelled, "by user")),
            (ItemState::Failed, Some(s)) => ErrorKind::from_status(s).map(|k| Failure::new(k, "x")),
            (ItemState::Failed, None) => Some(Failure::new(ErrorKind::Timeout, "x")),
            _ => None,
        };
        Record {
            seq: 1,
            url: Arc::from("http://x/"),
            state,
            status,
            http: None,
            latency_us: latency_ms * 1000,
            ttfb_us: None,
            bytes: 100,
            decoded_bytes: None,
            encoding: None,
            attempts: 1,
            error,
            line: None,
            body: None,
            body_base64: None,
            fields: None,
        }
    }

    #[test]
    fn histogram_readings_are_redone_only_when_due_or_asked() {
        let mut s = Stats::new();
        let at = |ms| Snapshot {
            elapsed: Duration::from_millis(ms),
            ..Snapshot::default()
        };
        let done = record(ItemState::Done, Some(200), 10);
        s.record(&done, Duration::from_millis(990));
        let mut snap = at(1000);
        s.fill(&mut snap, false);
        assert_eq!(snap.latency.count, 1);
        s.record(&done, Duration::from_millis(1010));
        let mut snap = at(1040);
        s.fill(&mut snap, false);
        assert_eq!(snap.counts.done, 2, "counters are always current");
        assert_eq!(snap.latency.count, 1, "percentiles wait for DERIVE_EVERY");
        let mut snap = at(1040);
        s.fill(&mut snap, true);
        assert_eq!(snap.latency.count, 2, "exact readings when asked");
        s.record(&done, Duration::from_millis(1100));
        let mut snap = at(1040 + DERIVE_EVERY.as_millis() as u64);
        s.fill(&mut snap, false);
        assert_eq!(snap.latency.count, 3, "and again once due");
        assert_eq!(snap.histogram.iter().map(|b| b.count).sum::<u64>(), 3);
    }

    #[test]
    fn counts_and_percentiles() {
        let mut s = Stats::new();
        for ms in 1..=100 {
            s.record(
                &record(ItemState::Done, Some(200), ms),
                Duration::from_secs(1),
            );
        }
        s.record(
            &record(ItemState::Failed, Some(503), 7),
            Duration::from_secs(1),
        );
        s.record(
            &record(ItemState::Failed, None, 5000),
            Duration::from_secs(1),
        );
        s.record(
            &record(ItemState::Cancelled, None, 1),
            Duration::from_secs(1),
        );
        let mut snap = Snapshot {
            elapsed: Duration::from_secs(2),
            ..Snapshot::default()
        };
        s.fill(&mut snap, true);
        assert_eq!(snap.counts.done, 100);
        assert_eq!(snap.counts.failed, 2);
        assert_eq!(snap.counts.cancelled, 1);
        assert_eq!(snap.bytes, 10_300);
        assert_eq!(snap.status, vec![(200, 100), (503, 1)]);
        // The timeout and the cancellation got no response: no latency, no status.
        assert_eq!(snap.latency.count, 101);
        assert!((snap.latency.p50 - 50.0).abs() < 0.5, "{:?}", snap.latency);
        assert!((snap.latency.max - 100.0).abs() < 0.1, "{:?}", snap.latency);
        assert!(snap.latency.p99 >= snap.latency.p90 && snap.latency.p90 >= snap.latency.p50);
        let kinds: Vec<_> = snap.errors.iter().map(|e| e.0).collect();
        assert!(kinds.contains(&ErrorKind::Http5xx));
        assert!(kinds.contains(&ErrorKind::Timeout));
        assert!(kinds.contains(&ErrorKind::Cancelled));
        let bars: u64 = snap.histogram.iter().map(|b| b.count).sum();
        assert_eq!(bars, 101, "histogram bars cover every response once");
        assert!(snap.histogram.windows(2).all(|w| w[0].le_ms < w[1].le_ms));
    }

    #[test]
    fn recent_latency_forgets_old_seconds() {
        let mut s = Stats::new();
        s.record(
            &record(ItemState::Done, Some(200), 900),
            Duration::from_secs(1),
        );
        s.record(
            &record(ItemState::Done, Some(200), 10),
            Duration::from_secs(20),
        );
        let mut snap = Snapshot {
            elapsed: Duration::from_secs(21),
            ..Snapshot::default()
        };
        s.fill(&mut snap, true);
        assert_eq!(snap.latency_recent.count, 1);
        assert_eq!(
            snap.histogram_recent.iter().map(|b| b.count).sum::<u64>(),
            1
        );
        assert!(snap.latency_recent.max < 20.0);
        assert!(snap.latency.max > 800.0);
    }

    #[test]
    fn history_has_one_point_per_second_and_rates() {
        let mut s = Stats::new();
        let mut t = Duration::ZERO;
        for step in 0..50u64 {
            // 10 items per 100 ms tick: 100/s.
            for _ in 0..10 {
                s.record(&record(ItemState::Done, Some(200), 1), t);
            }
            t = Duration::from_millis(100 * (step + 1));
            s.tick(t, 7, 50);
        }
        let mut snap = Snapshot {
            elapsed: t,
            ..Snapshot::default()
        };
        s.fill(&mut snap, true);
        let secs: Vec<u64> = snap.history.iter().map(|p| p.t_s).collect();
        assert_eq!(secs, vec![1, 2, 3, 4, 5]);
        assert_eq!(snap.history[1].finished, 100);
        assert_eq!(snap.history[0].limit, 50);
        assert!(
            (snap.rate_recent - 100.0).abs() < 1.0,
            "{}",
            snap.rate_recent
        );
        assert!(
            (snap.rate_overall - 100.0).abs() < 1.0,
            "{}",
            snap.rate_overall
        );
    }

    #[test]
    fn each_second_has_its_own_latency_and_errors_and_they_add_up() {
        let mut s = Stats::new();
        let mut t = Duration::ZERO;
        // 3.5 seconds of 100 ms ticks; second k answers in (k+1)*10 ms and
        // has k timeouts.
        for step in 0..35u64 {
            let k = step / 10;
            for _ in 0..4 {
                s.record(&record(ItemState::Done, Some(200), (k + 1) * 10), t);
            }
            if step % 10 == 0 {
                for _ in 0..k {
                    s.record(&record(ItemState::Failed, None, 1), t);
                }
            }
            t = Duration::from_millis(100 * (step + 1));
            s.tick(t, 3, 8);
        }
        let mut snap = Snapshot {
            elapsed: t,
            ..Snapshot::default()
        };
        s.fill(&mut snap, true);
        let ends: Vec<u64> = snap.seconds.iter().map(|p| p.t_s).collect();
        assert_eq!(ends, vec![1, 2, 3]);
        for (k, sec) in snap.seconds.iter().enumerate() {
            let want = (k as f64 + 1.0) * 10.0;
            assert!(
                (sec.latency.p50 - want).abs() < 0.2,
                "{k}: {:?}",
                sec.latency
            );
            assert!(
                (sec.latency.max - want).abs() < 0.2,
                "{k}: {:?}",
                sec.latency
            );
            assert_eq!(sec.responses, 40);
            assert_eq!(sec.errors[ErrorKind::Timeout.index()], k as u64);
            assert_eq!(sec.limit, 8);
        }
        let now = snap.second_now;
        assert_eq!((now.t_s, now.responses), (4, 20));
        assert!((now.span_s - 0.5).abs() < 1e-9, "{}", now.span_s);
        assert!((now.latency.p50 - 40.0).abs() < 0.2, "{:?}", now.latency);
        let all = snap.seconds.iter().chain([&now]);
        let completed: u64 = all.clone().map(|p| p.completed).sum();
        let timeouts: u64 = all.map(|p| p.errors[ErrorKind::Timeout.index()]).sum();
        assert_eq!(completed, s.completed());
        assert_eq!(timeouts, s.tally().errors[ErrorKind::Timeout.index()]);
    }

    #[test]
    fn shards_merged_equal_one_stats_that_saw_everything() {
        let mut whole = Stats::new();
        let mut merged = Stats::new();
        let mut shards: Vec<ShardStats> = (0..3).map(|_| ShardStats::default()).collect();
        let t = Duration::from_secs(3);
        for i in 0..3000u64 {
            let state = match i % 17 {
                0 => ItemState::Failed,
                1 => ItemState::Cancelled,
                _ => ItemState::Done,
            };
            let status = match state {
                ItemState::Done => Some(200),
                ItemState::Failed => Some(503),
                ItemState::Cancelled => None,
            };
            let r = record(state, status, 1 + (i * 7919) % 4000);
            whole.record(&r, t);
            shards[(i % 3) as usize].record(&r);
            // Hand latencies over now and then, as the shards' reports do.
            if i % 500 == 0 {
                for s in &mut shards {
                    if let Some(h) = s.take_latency() {
                        merged.add_latency(&h, t);
                    }
                }
            }
        }
        let mut tally = Tally::default();
        for s in &mut shards {
            if let Some(h) = s.take_latency() {
                merged.add_latency(&h, t);
            }
            tally.add(s.tally());
        }
        merged.set_tally(tally);
        assert_eq!(merged.tally(), whole.tally());
        assert_eq!(merged.latency_histogram(), whole.latency_histogram());
        let (mut a, mut b) = (Snapshot::default(), Snapshot::default());
        a.elapsed = t;
        b.elapsed = t;
        merged.fill(&mut a, true);
        whole.fill(&mut b, true);
        assert_eq!(a.latency, b.latency, "percentiles of the merge are exact");
        assert_eq!(a.histogram, b.histogram);
        assert_eq!(a.status, b.status);
        assert_eq!(a.errors, b.errors);
        assert!(shards.iter_mut().all(|s| s.take_latency().is_none()));
    }

    #[test]
    fn memory_is_bounded_by_constants() {
        let mut s = Stats::new();
        for i in 0..200_000u64 {
            s.record(
                &record(ItemState::Done, Some(200), i % 5000),
                Duration::from_millis(i),
            );
            if i % 100 == 0 {
                s.tick(Duration::from_millis(i), 1, 1);
            }
        }
        assert!(s.history.len() <= HISTORY_LEN);
        assert!(s.samples.len() <= 60, "{}", s.samples.len());
        assert_eq!(s.finished(), 200_000);
    }
}
