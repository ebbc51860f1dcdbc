//! The tasks in flight: what the dispatcher needs to cancel them and what
//! the dashboard's table shows of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::record::Phase;
use crate::snapshot::{StateCounts, TaskView};
use crate::table::TableOrder;

/// How many in-flight tasks are in each phase, kept by the tasks themselves
/// so that counting never scans the registry.
#[derive(Debug, Default)]
pub struct PhaseCounters([AtomicU64; Phase::ALL.len()]);

impl PhaseCounters {
    fn add(&self, phase: Phase) {
        self.0[phase as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn sub(&self, phase: Phase) {
        self.0[phase as usize].fetch_sub(1, Ordering::Relaxed);
    }

    /// Current count of one phase.
    pub fn get(&self, phase: Phase) -> u64 {
        self.0[phase as usize].load(Ordering::Relaxed)
    }

    /// Writes the in-flight phase counts into `counts`.
    pub fn fill(&self, counts: &mut StateCounts) {
        counts.queued = self.get(Phase::Queued);
        counts.connecting = self.get(Phase::Connecting);
        counts.waiting = self.get(Phase::Waiting);
        counts.receiving = self.get(Phase::Receiving);
        counts.retrying = self.get(Phase::Retrying);
    }
}

/// A task's live progress, written by the task and read for the table,
/// and for the record of an item cancelled before its task could answer.
#[derive(Debug)]
pub struct Tracker {
    phase: AtomicU8,
    bytes: AtomicU64,
    /// Attempts started.
    attempts: AtomicU32,
    /// The current (or last) attempt's status code; 0 before an answer.
    status: AtomicU16,
    /// Its time to first byte, in µs; `u64::MAX` before an answer.
    ttfb_us: AtomicU64,
    counters: Arc<PhaseCounters>,
}

/// What a [`Tracker`] knows of the attempt in progress (or the last one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Attempts started.
    pub attempts: u32,
    /// Status code of its answer, once headers came.
    pub status: Option<u16>,
    /// Time to first byte of that answer, in µs.
    pub ttfb_us: Option<u64>,
    /// Body bytes of that answer so far.
    pub bytes: u64,
}

impl Tracker {
    /// A tracker in the `Queued` phase, counted in `counters`.
    pub fn new(counters: Arc<PhaseCounters>) -> Tracker {
        counters.add(Phase::Queued);
        Tracker {
            phase: AtomicU8::new(Phase::Queued as u8),
            bytes: AtomicU64::new(0),
            attempts: AtomicU32::new(0),
            status: AtomicU16::new(0),
            ttfb_us: AtomicU64::new(u64::MAX),
            counters,
        }
    }

    /// Moves the task to `phase`, keeping the phase counters in step.
    pub fn set_phase(&self, phase: Phase) {
        let mut current = self.phase.load(Ordering::Relaxed);
        loop {
            if current == RETIRED || current == phase as u8 {
                return;
            }
            match self.phase.compare_exchange_weak(
                current,
                phase as u8,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.counters.sub(Phase::from_u8(current));
                    self.counters.add(phase);
                    return;
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// The item was cancelled and recorded while its task winds down: it
    /// no longer counts in any phase, whatever the task does next.
    pub fn retire(&self) {
        let old = self.phase.swap(RETIRED, Ordering::Relaxed);
        if old != RETIRED {
            self.counters.sub(Phase::from_u8(old));
        }
    }

    /// Moves the task from `from` to `to`, only if it is still in `from`.
    pub fn swap_phase(&self, from: Phase, to: Phase) {
        if self
            .phase
            .compare_exchange(from as u8, to as u8, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            && from != to
        {
            self.counters.sub(from);
            self.counters.add(to);
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    /// Counts body bytes received.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Body bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// A new attempt starts: what the last one got is forgotten.
    pub fn begin_attempt(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        self.status.store(0, Ordering::Relaxed);
        self.ttfb_us.store(u64::MAX, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// The attempt got its answer's headers.
    pub fn answered(&self, status: u16, ttfb_us: u64) {
        self.status.store(status, Ordering::Relaxed);
        self.ttfb_us.store(ttfb_us, Ordering::Relaxed);
    }

    /// What the attempt in progress (or the last one) has got so far.
    pub fn progress(&self) -> Progress {
        let status = self.status.load(Ordering::Relaxed);
        let ttfb = self.ttfb_us.load(Ordering::Relaxed);
        Progress {
            attempts: self.attempts.load(Ordering::Relaxed),
            status: (status != 0).then_some(status),
            ttfb_us: (ttfb != u64::MAX).then_some(ttfb),
            bytes: self.bytes(),
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        // The task has ended: it no longer counts in any in-flight phase.
        let current = self.phase.load(Ordering::Relaxed);
        if current != RETIRED {
            self.counters.sub(Phase::from_u8(current));
        }
    }
}

/// The phase tag of a retired tracker: counted nowhere.
const RETIRED: u8 = u8::MAX;

/// What the dispatcher keeps about one task in flight.
#[derive(Debug)]
pub struct Entry {
    /// The URL being fetched.
    pub url: Arc<str>,
    /// Its line in a list source.
    pub line: Option<u64>,
    /// When the task was dispatched.
    pub dispatched: Instant,
    /// Cancels this task only.
    pub token: CancellationToken,
    /// The task's live progress.
    pub tracker: Arc<Tracker>,
}

/// Tasks in flight, by id. Ids are seqs, which grow with dispatch time, so
/// iterating in key order walks the oldest first.
#[derive(Debug, Default)]
pub struct Registry {
    tasks: BTreeMap<u64, Entry>,
}

impl Registry {
    /// Adds a dispatched task.
    pub fn insert(&mut self, id: u64, entry: Entry) {
        self.tasks.insert(id, entry);
    }

    /// Removes an ended task; None when it was never registered.
    pub fn remove(&mut self, id: u64) -> Option<Entry> {
        self.tasks.remove(&id)
    }

    /// Takes every task out, oldest first (a cancel-all settles them all).
    pub fn drain(&mut self) -> impl Iterator<Item = (u64, Entry)> {
        std::mem::take(&mut self.tasks).into_iter()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The first `max` tasks in `order`, for the table. O(max) for the
    /// orders the registry keeps (age and id: ids grow with dispatch time);
    /// the others read every task once, O(n), picking without a full sort.
    pub fn top(&self, now: Instant, max: usize, order: TableOrder) -> Vec<TaskView> {
        let view = |(&id, e): (&u64, &Entry)| TaskView {
            id,
            phase: e.tracker.phase(),
            url: Arc::clone(&e.url),
            age: now.saturating_duration_since(e.dispatched),
            bytes: e.tracker.bytes(),
        };
        if order.by_dispatch() {
            let mut rows: Vec<TaskView> = if order.reversed {
                self.tasks.iter().rev().take(max).map(view).collect()
            } else {
                self.tasks.iter().take(max).map(view).collect()
            };
            // Equal ages (one clock tick) still go by id, as the merge does.
            rows.sort_by(|a, b| order.compare(a, b));
            return rows;
        }
        let mut rows: Vec<TaskView> = self.tasks.iter().map(view).collect();
        order.top(&mut rows, max);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(counters: &Arc<PhaseCounters>) -> Entry {
        Entry {
            url: Arc::from("http://x/"),
            line: None,
            dispatched: Instant::now(),
            token: CancellationToken::new(),
            tracker: Arc::new(Tracker::new(Arc::clone(counters))),
        }
    }

    #[test]
    fn phase_counters_follow_trackers() {
        let counters = Arc::new(PhaseCounters::default());
        let a = Tracker::new(Arc::clone(&counters));
        let b = Tracker::new(Arc::clone(&counters));
        assert_eq!(counters.get(Phase::Queued), 2);
        a.set_phase(Phase::Waiting);
        b.set_phase(Phase::Waiting);
        b.set_phase(Phase::Receiving);
        b.set_phase(Phase::Receiving);
        assert_eq!(counters.get(Phase::Queued), 0);
        assert_eq!(counters.get(Phase::Waiting), 1);
        assert_eq!(counters.get(Phase::Receiving), 1);
        drop(b);
        assert_eq!(counters.get(Phase::Receiving), 0);
        let c = Tracker::new(Arc::clone(&counters));
        c.set_phase(Phase::Waiting);
        c.retire();
        c.set_phase(Phase::Receiving);
        c.retire();
        assert_eq!(counters.get(Phase::Waiting), 1, "only a's");
        assert_eq!(counters.get(Phase::Receiving), 0);
        drop(c);
        assert_eq!(counters.get(Phase::Waiting), 1);
        drop(a);
        assert_eq!(counters.get(Phase::Waiting), 0);
    }

    #[test]
    fn progress_follows_the_attempt_in_progress() {
        let t = Tracker::new(Arc::new(PhaseCounters::default()));
        assert_eq!(t.progress(), Progress::default());
        t.begin_attempt();
        t.answered(429, 1200);
        t.add_bytes(10);
        assert_eq!(
            t.progress(),
            Progress {
                attempts: 1,
                status: Some(429),
                ttfb_us: Some(1200),
                bytes: 10
            }
        );
        t.begin_attempt();
        assert_eq!(
            t.progress(),
            Progress {
                attempts: 2,
                ..Progress::default()
            }
        );
    }

    #[test]
    fn oldest_first_bounded_and_drained_in_order() {
        let counters = Arc::new(PhaseCounters::default());
        let mut r = Registry::default();
        let start = Instant::now();
        // Dispatched in id order, as a shard does; inserted out of order.
        for id in [5, 1, 9, 3] {
            let mut e = entry(&counters);
            e.dispatched = start + std::time::Duration::from_millis(id);
            r.insert(id, e);
        }
        let now = start + std::time::Duration::from_secs(1);
        let ids = |rows: Vec<TaskView>| rows.iter().map(|t| t.id).collect::<Vec<u64>>();
        assert_eq!(ids(r.top(now, 3, TableOrder::default())), vec![1, 3, 5]);
        let newest = TableOrder {
            by: crate::table::SortBy::Age,
            reversed: true,
        };
        assert_eq!(ids(r.top(now, 2, newest)), vec![9, 5]);
        assert!(r.remove(9).is_some());
        assert!(r.remove(7).is_none());
        let drained: Vec<u64> = r.drain().map(|(id, _)| id).collect();
        assert_eq!(drained, vec![1, 3, 5]);
        assert!(r.is_empty());
    }

    #[test]
    fn a_sort_by_bytes_finds_the_top_rows_among_all_in_flight() {
        let counters = Arc::new(PhaseCounters::default());
        let mut r = Registry::default();
        for id in 1..=1000 {
            let e = entry(&counters);
            e.tracker
                .add_bytes(if id > 990 { 1_000_000 + id } else { id });
            r.insert(id, e);
        }
        let by_bytes = TableOrder {
            by: crate::table::SortBy::Bytes,
            reversed: false,
        };
        let rows = r.top(Instant::now(), 5, by_bytes);
        let ids: Vec<u64> = rows.iter().map(|t| t.id).collect();
        // The newest tasks hold the most bytes: an "oldest 256, re-sorted"
        // table would never show them.
        assert_eq!(ids, vec![1000, 999, 998, 997, 996]);
    }
}
