//! Executor health: a heartbeat task that measures how late the runtime
//! wakes a 10 ms timer (the "lag"), what tokio's stable runtime metrics say
//! about its workers, and what the OS says about the process (threads, RSS).
//!
//! A runtime that is never blocked wakes the heartbeat within a millisecond
//! or so; a task that runs without reaching an `.await` keeps its worker from
//! everything else, and the heartbeat on that worker fires late by as long
//! as the task held on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

use crate::snapshot::ExecutorView;
use crate::sys;

/// How often the heartbeat asks to be woken.
pub const HEARTBEAT: Duration = Duration::from_millis(10);
/// Window of the "recent" lag percentiles.
const RECENT: Duration = Duration::from_secs(5);
/// Width of one sparkline point.
const SLOT: Duration = Duration::from_millis(100);
/// Sparkline points kept (12 s).
pub const SPARK_LEN: usize = 120;
/// Longest lag tracked exactly (larger values are clamped), in µs.
const MAX_LAG_US: u64 = 600_000_000;
/// How often the workers' busy ratio is renewed.
const BUSY_WINDOW: Duration = Duration::from_millis(500);

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Every lag the heartbeat measured, in constant memory.
struct Lags {
    run: Histogram<u64>,
    recent: VecDeque<(Instant, u64)>,
    last_at: Option<Instant>,
    last_us: u64,
    spark: VecDeque<u64>,
    slot_start: Instant,
    slot_max: u64,
}

impl Lags {
    fn new(now: Instant) -> Lags {
        Lags {
            // Constant bounds that hdrhistogram accepts: this cannot fail.
            run: Histogram::new_with_bounds(1, MAX_LAG_US, 2)
                .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid")),
            recent: VecDeque::new(),
            last_at: None,
            last_us: 0,
            spark: VecDeque::with_capacity(SPARK_LEN),
            slot_start: now,
            slot_max: 0,
        }
    }

    fn record(&mut self, now: Instant, lag: Duration) {
        let us = micros(lag);
        self.run.saturating_record(us.max(1));
        self.recent.push_back((now, us));
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > RECENT)
        {
            self.recent.pop_front();
        }
        self.last_at = Some(now);
        self.last_us = us;
        // Slots that passed with no beat were covered by this stall.
        let mut closed = 0;
        while now.saturating_duration_since(self.slot_start) >= SLOT && closed < SPARK_LEN {
            let value = if closed == 0 {
                self.slot_max.max(us)
            } else {
                us
            };
            self.push_slot(value);
            self.slot_start += SLOT;
            self.slot_max = 0;
            closed += 1;
        }
        if closed == SPARK_LEN {
            self.slot_start = now;
        }
        self.slot_max = self.slot_max.max(us);
    }

    fn push_slot(&mut self, us: u64) {
        if self.spark.len() == SPARK_LEN {
            self.spark.pop_front();
        }
        self.spark.push_back(us);
    }

    /// The current lag: the last beat's, or longer when the next beat is
    /// overdue (a stall in progress).
    fn current_us(&self, now: Instant) -> u64 {
        let overdue = self
            .last_at
            .map(|at| micros(now.saturating_duration_since(at + HEARTBEAT)))
            .unwrap_or(0);
        self.last_us.max(overdue)
    }

    fn recent_quantile(&self, q: f64) -> (u64, u64) {
        let mut v: Vec<u64> = self.recent.iter().map(|(_, us)| *us).collect();
        if v.is_empty() {
            return (0, 0);
        }
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        let (_, p, _) = v.select_nth_unstable(i);
        let p = *p;
        let max = v.iter().copied().max().unwrap_or(0);
        (p, max)
    }
}

/// Busy time of all workers at one moment, to turn into a ratio.
struct BusyMark {
    at: Instant,
    busy: Duration,
    parks: u64,
}

/// One event loop's heartbeat and the sampling of its runtime's metrics.
/// Owned by its shard; the heartbeat task stops when this is dropped.
pub struct Executor {
    lags: Arc<Mutex<Lags>>,
    beat: JoinHandle<()>,
    runtime: Handle,
    busy: Option<BusyMark>,
    busy_ratio: Option<f64>,
    parks_rate: Option<f64>,
}

impl Executor {
    /// Starts the heartbeat on the current runtime; `on_beat` runs at every
    /// beat (a shard tells the admission its loop is alive).
    pub fn start_with(on_beat: impl Fn() + Send + 'static) -> Executor {
        let lags = Arc::new(Mutex::new(Lags::new(Instant::now())));
        let beat = tokio::spawn(heartbeat(Arc::clone(&lags), on_beat));
        Executor {
            lags,
            beat,
            runtime: Handle::current(),
            busy: None,
            busy_ratio: None,
            parks_rate: None,
        }
    }

    /// Fills what this runtime alone tells: the heartbeat's lags and the
    /// runtime's own metrics.
    pub fn fill_loop(&mut self, view: &mut ExecutorView) {
        let now = Instant::now();
        {
            let lags = self.lags.lock().unwrap_or_else(PoisonError::into_inner);
            view.lag_now_ms = ms(lags.current_us(now));
            let (p99, max) = lags.recent_quantile(0.99);
            view.lag_p99_ms = ms(p99);
            view.lag_max_ms = ms(max);
            if !lags.run.is_empty() {
                view.lag_run_p99_ms = ms(lags.run.value_at_quantile(0.99));
                view.lag_run_max_ms = ms(lags.run.max());
            }
            view.lag_history_us = lags.spark.iter().copied().collect();
            view.beats = lags.run.len();
        }
        let metrics = self.runtime.metrics();
        view.workers = metrics.num_workers();
        view.current_thread = self.runtime.runtime_flavor() == RuntimeFlavor::CurrentThread;
        view.alive_tasks = metrics.num_alive_tasks();
        view.global_queue = metrics.global_queue_depth();
        let busy: Duration = (0..view.workers)
            .map(|w| metrics.worker_total_busy_duration(w))
            .sum();
        let parks: u64 = (0..view.workers)
            .map(|w| metrics.worker_park_count(w))
            .sum();
        // A ratio over a few milliseconds is noise: it is renewed every half second.
        match &self.busy {
            Some(mark) if now.saturating_duration_since(mark.at) < BUSY_WINDOW => {}
            Some(mark) => {
                let secs = now.saturating_duration_since(mark.at).as_secs_f64();
                let wall = secs * view.workers.max(1) as f64;
                self.busy_ratio =
                    Some((busy.saturating_sub(mark.busy).as_secs_f64() / wall).min(1.0));
                self.parks_rate = Some(parks.saturating_sub(mark.parks) as f64 / secs);
                self.busy = Some(BusyMark {
                    at: now,
                    busy,
                    parks,
                });
            }
            None => {
                self.busy = Some(BusyMark {
                    at: now,
                    busy,
                    parks,
                })
            }
        }
        view.busy = self.busy_ratio;
        view.parks_per_s = self.parks_rate;
    }
}

/// Fills what the OS says of the whole process: OS threads (and the most
/// seen, kept in `peak`) and resident memory.
pub fn fill_process(view: &mut ExecutorView, peak: &mut u64) {
    if let Some(status) = sys::proc_status() {
        *peak = (*peak).max(status.threads);
        view.os_threads = Some(status.threads);
        view.os_threads_peak = Some(*peak);
        view.rss_bytes = Some(status.rss_bytes);
    }
}

/// One view of several event loops: the worst lag of any (a stuck loop is
/// what matters), their tasks and parks added up, their busy time averaged.
pub fn merge_loops(views: &[ExecutorView]) -> ExecutorView {
    let mut out = ExecutorView::default();
    let fmax = |f: fn(&ExecutorView) -> f64| views.iter().map(f).fold(0.0, f64::max);
    out.lag_now_ms = fmax(|v| v.lag_now_ms);
    out.lag_p99_ms = fmax(|v| v.lag_p99_ms);
    out.lag_max_ms = fmax(|v| v.lag_max_ms);
    out.lag_run_p99_ms = fmax(|v| v.lag_run_p99_ms);
    out.lag_run_max_ms = fmax(|v| v.lag_run_max_ms);
    let len = views
        .iter()
        .map(|v| v.lag_history_us.len())
        .max()
        .unwrap_or(0);
    out.lag_history_us = (0..len)
        .map(|i| {
            views
                .iter()
                .filter_map(|v| {
                    // Align the newest points: histories may differ in length.
                    let skip = len - v.lag_history_us.len();
                    i.checked_sub(skip).map(|j| v.lag_history_us[j])
                })
                .max()
                .unwrap_or(0)
        })
        .collect();
    out.beats = views.iter().map(|v| v.beats).sum();
    out.workers = views.iter().map(|v| v.workers).sum();
    out.current_thread = views.len() == 1 && views.iter().all(|v| v.current_thread);
    out.alive_tasks = views.iter().map(|v| v.alive_tasks).sum();
    out.global_queue = views.iter().map(|v| v.global_queue).sum();
    let busy: Vec<f64> = views.iter().filter_map(|v| v.busy).collect();
    out.busy = (!busy.is_empty()).then(|| busy.iter().sum::<f64>() / busy.len() as f64);
    let parks: Vec<f64> = views.iter().filter_map(|v| v.parks_per_s).collect();
    out.parks_per_s = (!parks.is_empty()).then(|| parks.iter().sum());
    out
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.beat.abort();
    }
}

async fn heartbeat(lags: Arc<Mutex<Lags>>, on_beat: impl Fn()) {
    loop {
        on_beat();
        let due = Instant::now() + HEARTBEAT;
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        let now = Instant::now();
        let lag = now.saturating_duration_since(due);
        lags.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(now, lag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_give_percentiles_and_a_sparkline() {
        let t0 = Instant::now();
        let mut lags = Lags::new(t0);
        for i in 1..=99u64 {
            lags.record(t0 + HEARTBEAT * i as u32, Duration::from_micros(500));
        }
        // One long stall: 300 ms without a beat.
        let late = t0 + HEARTBEAT * 99 + Duration::from_millis(310);
        lags.record(late, Duration::from_millis(300));
        let (p99, max) = lags.recent_quantile(0.99);
        assert_eq!(p99, 500);
        assert_eq!(max, 300_000);
        let (p100, _) = lags.recent_quantile(1.0);
        assert_eq!(p100, 300_000);
        assert!(lags.spark.len() >= 10, "{:?}", lags.spark);
        assert!(
            lags.spark.iter().filter(|&&us| us == 300_000).count() >= 2,
            "the stall covers the slots it spans: {:?}",
            lags.spark
        );
        assert_eq!(lags.current_us(late), 300_000);
        assert!(lags.current_us(late + Duration::from_secs(1)) >= 900_000);
    }

    #[test]
    fn merged_loops_show_the_worst_lag_and_the_sums() {
        let a = ExecutorView {
            lag_now_ms: 1.0,
            lag_p99_ms: 40.0,
            lag_history_us: vec![5, 6, 7],
            alive_tasks: 10,
            workers: 1,
            busy: Some(0.5),
            ..ExecutorView::default()
        };
        let b = ExecutorView {
            lag_now_ms: 3.0,
            lag_p99_ms: 2.0,
            lag_history_us: vec![9, 1],
            alive_tasks: 5,
            workers: 1,
            busy: Some(1.0),
            ..ExecutorView::default()
        };
        let m = merge_loops(&[a, b]);
        assert_eq!(m.lag_now_ms, 3.0);
        assert_eq!(m.lag_p99_ms, 40.0);
        assert_eq!(m.lag_history_us, vec![5, 9, 7]);
        assert_eq!(m.alive_tasks, 15);
        assert_eq!(m.workers, 2);
        assert_eq!(m.busy, Some(0.75));
    }

    #[test]
    fn the_spark_line_is_bounded() {
        let t0 = Instant::now();
        let mut lags = Lags::new(t0);
        lags.record(t0 + Duration::from_secs(3600), Duration::from_secs(1));
        for i in 0..1000u32 {
            lags.record(t0 + Duration::from_secs(3601) + SLOT * i, Duration::ZERO);
        }
        assert!(lags.spark.len() <= SPARK_LEN);
    }
}
