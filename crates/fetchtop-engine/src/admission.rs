//! The live concurrency limit, shared by every shard: how many more items
//! one shard may start right now.
//!
//! The only state shards share on the hot path lives here, and it is all
//! atomics: the effective limit (written by the control plane), the
//! permits held in all (one compare-and-swap per batch of starts, one
//! subtraction per batch of ends), and per shard the permits it holds and
//! when its heartbeat last ran. No lock, no channel.
//!
//! The split between shards follows two rules:
//! - **never more than the limit**: permits are taken with a CAS on the
//!   global count, so the sum over shards can never pass the limit;
//! - **the whole limit usable**: a shard may take more than its fair share
//!   (limit / active shards) whenever the others do not need theirs. A
//!   shard below its share keeps its missing permits reserved only while
//!   its heartbeat is recent: a shard whose event loop is stuck (a blocking
//!   call, a CPU-bound burst) reserves nothing, and the others take over,
//!   even a shard not yet active.
//!
//! Only the first `active` shards take permits (the control plane moves
//! that number; see `control.rs`): a second event loop costs wake-ups and
//! smaller batches, and pays only when the first is saturated and a core
//! is free for it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A shard whose heartbeat is older than this is busy: its fair share is
/// not kept for it. Several heartbeat periods (10 ms), so a loop that is
/// merely between two beats is never mistaken for a stuck one.
pub const BUSY_AFTER: Duration = Duration::from_millis(30);

/// One shard's corner of the admission state. Each field is written by its
/// shard only and read by the others. Aligned to its own cache lines, so
/// one shard's writes never invalidate another's (false sharing).
#[derive(Debug)]
#[repr(align(128))]
struct ShardSlot {
    /// Permits this shard holds (its items in flight).
    held: AtomicU64,
    /// When its heartbeat last ran, in µs since the admission's epoch.
    beat_us: AtomicU64,
    /// It asked for room below its fair share and got less than it asked.
    hungry: AtomicBool,
    /// Of its permits, those of items already cancelled and recorded whose
    /// connections are still closing: no longer in flight for the reader,
    /// still counted against the limit, so the server never sees more.
    closing: AtomicU64,
    /// Woken when permits are given back while it is hungry.
    wake: Notify,
}

/// The shared limit. See the module documentation.
#[derive(Debug)]
pub struct Admission {
    /// The effective limit: 0 while paused.
    limit: AtomicU64,
    /// Permits held by all shards together.
    in_flight: AtomicU64,
    /// Highest `in_flight` seen.
    max_in_flight: AtomicU64,
    /// Shards that take permits: the first `active` ones.
    active: AtomicUsize,
    shards: Box<[ShardSlot]>,
    epoch: Instant,
}

impl Admission {
    /// An admission for `shards` shards (at least one) under `limit`.
    pub fn new(shards: usize, limit: u64) -> Admission {
        Admission {
            limit: AtomicU64::new(limit),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            active: AtomicUsize::new(shards.max(1)),
            shards: (0..shards.max(1))
                .map(|_| ShardSlot {
                    held: AtomicU64::new(0),
                    beat_us: AtomicU64::new(0),
                    hungry: AtomicBool::new(false),
                    closing: AtomicU64::new(0),
                    wake: Notify::new(),
                })
                .collect(),
            epoch: Instant::now(),
        }
    }

    /// Sets the effective limit (0 while paused) and wakes every shard.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
        for s in &*self.shards {
            s.wake.notify_one();
        }
    }

    /// Lets the first `n` shards (at least one, at most all) take permits,
    /// and wakes every shard.
    pub fn set_active(&self, n: usize) {
        self.active
            .store(n.clamp(1, self.shards.len()), Ordering::Relaxed);
        self.set_limit(self.limit());
    }

    /// Shards that take permits now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// The effective limit.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Permits held by all shards: the run's items in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Highest number of permits held at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::Relaxed)
    }

    /// Items cancelled and recorded whose tasks are still winding down, in all.
    pub fn closing(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.closing.load(Ordering::Relaxed))
            .sum()
    }

    /// Of shard `shard`'s permits, those of items still closing.
    pub fn closing_on(&self, shard: usize) -> u64 {
        self.slot(shard).closing.load(Ordering::Relaxed)
    }

    /// `n` of shard `shard`'s items were cancelled and recorded; their
    /// permits are held until [`Admission::closed`].
    pub fn settled(&self, shard: usize, n: u64) {
        self.slot(shard).closing.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` settled items' tasks have ended: their permits go back.
    pub fn closed(&self, shard: usize, n: u64) {
        let slot = self.slot(shard);
        let n = n.min(slot.closing.load(Ordering::Relaxed));
        slot.closing.fetch_sub(n, Ordering::Relaxed);
        self.release(shard, n);
    }

    /// Items in flight for the reader: permits held, less those closing.
    pub fn live(&self) -> u64 {
        self.in_flight().saturating_sub(self.closing())
    }

    /// Permits shard `shard` holds.
    pub fn held(&self, shard: usize) -> u64 {
        self.slot(shard).held.load(Ordering::Relaxed)
    }

    fn slot(&self, shard: usize) -> &ShardSlot {
        &self.shards[shard.min(self.shards.len() - 1)]
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Notes that `shard`'s event loop has just run its heartbeat.
    pub fn beat(&self, shard: usize) {
        // 0 means "never beat"; a beat at the very epoch still counts.
        let now = self.now_us().max(1);
        self.slot(shard).beat_us.store(now, Ordering::Relaxed);
    }

    /// Whether `shard`'s event loop has run recently enough to be waiting
    /// for its fair share rather than stuck.
    fn responsive(&self, shard: usize, now_us: u64) -> bool {
        let beat = self.slot(shard).beat_us.load(Ordering::Relaxed);
        // A shard that has not beaten yet is starting up: keep its share.
        beat == 0 || now_us.saturating_sub(beat) <= BUSY_AFTER.as_micros() as u64
    }

    /// Shard `shard`'s fair share of `limit`: the limit split as evenly as
    /// whole permits allow, the remainder to the first shards, so the
    /// shares add up to the limit exactly.
    fn fair(&self, shard: usize, limit: u64) -> u64 {
        let n = self.active() as u64;
        if shard as u64 >= n {
            return 0;
        }
        limit / n + u64::from((shard as u64) < limit % n)
    }

    /// Takes up to `want` permits for `shard`, never more than `cap` held
    /// in all (the sequential model's 1; `u64::MAX` otherwise) nor than
    /// the limit allows. Returns how many it took.
    pub fn acquire(&self, shard: usize, want: u64, cap: u64) -> u64 {
        if want == 0 {
            return 0;
        }
        let limit = self.limit().min(cap);
        let now = self.now_us();
        let active = self.active();
        // A shard not active yet steps in only for an active one that is stuck.
        if shard >= active && (0..active).all(|s| self.responsive(s, now)) {
            self.slot(shard).hungry.store(false, Ordering::Relaxed);
            return 0;
        }
        let reserved: u64 = (0..active)
            .filter(|&s| s != shard && self.responsive(s, now))
            .map(|s| self.fair(s, limit).saturating_sub(self.held(s)))
            .sum();
        let fair = self.fair(shard, limit);
        let mut current = self.in_flight.load(Ordering::Relaxed);
        let taken = loop {
            let free = limit.saturating_sub(current);
            let take = want.min(free.saturating_sub(reserved));
            if take == 0 {
                break 0;
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + take,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break take,
                Err(seen) => current = seen,
            }
        };
        let slot = self.slot(shard);
        let held = slot.held.fetch_add(taken, Ordering::Relaxed) + taken;
        // A plain load first: the shared line is written only for a new high.
        if taken > 0 && current + taken > self.max_in_flight.load(Ordering::Relaxed) {
            self.max_in_flight
                .fetch_max(current + taken, Ordering::Relaxed);
        }
        slot.hungry
            .store(taken < want && held < fair, Ordering::Relaxed);
        taken
    }

    /// Gives back `n` permits of `shard`; wakes a hungry shard that may
    /// now take them.
    pub fn release(&self, shard: usize, n: u64) {
        if n == 0 {
            return;
        }
        let slot = self.slot(shard);
        // Never below zero, whatever a caller does.
        let n = n.min(slot.held.load(Ordering::Relaxed));
        slot.held.fetch_sub(n, Ordering::Relaxed);
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
        for (i, other) in self.shards.iter().enumerate() {
            if i != shard && other.hungry.load(Ordering::Relaxed) {
                other.hungry.store(false, Ordering::Relaxed);
                other.wake.notify_one();
            }
        }
    }

    /// Resolves when room may have appeared for `shard`: permits given back
    /// while it was hungry, or the limit changed.
    pub async fn room_changed(&self, shard: usize) {
        self.slot(shard).wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_behaves_as_a_plain_limit() {
        let a = Admission::new(1, 10);
        assert_eq!(a.acquire(0, 4, u64::MAX), 4);
        assert_eq!(a.acquire(0, 100, u64::MAX), 6);
        assert_eq!(a.acquire(0, 1, u64::MAX), 0);
        a.release(0, 3);
        assert_eq!(a.in_flight(), 7);
        a.set_limit(5);
        assert_eq!(a.acquire(0, 5, u64::MAX), 0, "lowering withholds room");
        a.release(0, 3);
        assert_eq!(a.acquire(0, 5, u64::MAX), 1);
        assert_eq!(a.max_in_flight(), 10);
    }

    #[test]
    fn shards_keep_their_fair_share_while_responsive() {
        let a = Admission::new(2, 10);
        a.beat(0);
        a.beat(1);
        // Shard 0 may not take shard 1's share while shard 1 is alive.
        assert_eq!(a.acquire(0, 100, u64::MAX), 5);
        assert_eq!(a.acquire(1, 100, u64::MAX), 5);
        assert_eq!(a.in_flight(), 10);
        // Shard 1 needs only 2: shard 0 can take the rest.
        a.release(1, 3);
        assert_eq!(a.held(1), 2);
        assert_eq!(a.acquire(0, 100, u64::MAX), 0, "shard 1 is below its share");
    }

    #[test]
    fn a_stuck_shard_reserves_nothing() {
        let a = Admission::new(2, 10);
        a.beat(1);
        // Shard 1's heartbeat goes stale: its share is up for grabs.
        std::thread::sleep(BUSY_AFTER + Duration::from_millis(10));
        a.beat(0);
        assert_eq!(a.acquire(0, 100, u64::MAX), 10);
        assert_eq!(a.acquire(1, 100, u64::MAX), 0);
    }

    #[test]
    fn the_cap_bounds_all_shards_together() {
        let a = Admission::new(3, 50);
        assert_eq!(a.acquire(0, 5, 1), 1);
        assert_eq!(a.acquire(1, 5, 1), 0);
        assert_eq!(a.acquire(2, 5, 1), 0);
        a.release(0, 1);
        // The one permit is shard 0's share while shard 0 is alive.
        assert_eq!(a.acquire(2, 5, 1), 0);
        assert_eq!(a.acquire(0, 5, 1), 1);
        assert_eq!(a.in_flight(), 1);
    }

    #[test]
    fn only_active_shards_take_permits_unless_one_is_stuck() {
        let a = Admission::new(2, 10);
        a.set_active(1);
        a.beat(0);
        a.beat(1);
        assert_eq!(a.acquire(1, 10, u64::MAX), 0, "shard 1 is not active");
        assert_eq!(
            a.acquire(0, 100, u64::MAX),
            10,
            "shard 0 has the whole limit"
        );
        a.release(0, 10);
        std::thread::sleep(BUSY_AFTER + Duration::from_millis(10));
        a.beat(1);
        assert_eq!(
            a.acquire(1, 4, u64::MAX),
            4,
            "shard 0 is stuck: shard 1 steps in"
        );
        a.set_active(5);
        assert_eq!(a.active(), 2, "never more than there are");
    }

    #[test]
    fn settled_items_leave_the_count_but_keep_their_permits() {
        let a = Admission::new(1, 4);
        assert_eq!(a.acquire(0, 4, u64::MAX), 4);
        a.settled(0, 3);
        assert_eq!((a.live(), a.in_flight(), a.closing()), (1, 4, 3));
        assert_eq!(a.acquire(0, 1, u64::MAX), 0, "the limit still counts them");
        a.closed(0, 3);
        assert_eq!((a.live(), a.in_flight(), a.closing()), (1, 1, 0));
        a.closed(0, 5);
        assert_eq!(a.in_flight(), 1, "closing never goes below zero");
    }

    #[test]
    fn shares_add_up_to_the_limit() {
        let a = Admission::new(3, 0);
        for active in [1, 2, 3] {
            a.set_active(active);
            for limit in [0, 1, 2, 3, 7, 50, 1001] {
                let sum: u64 = (0..3).map(|s| a.fair(s, limit)).sum();
                assert_eq!(sum, limit);
            }
        }
    }

    #[test]
    fn pause_is_a_zero_limit_and_release_never_underflows() {
        let a = Admission::new(2, 0);
        assert_eq!(a.acquire(0, 5, u64::MAX), 0);
        a.release(0, 7);
        assert_eq!(a.in_flight(), 0);
        a.set_limit(4);
        assert_eq!(a.acquire(1, 1, u64::MAX), 1);
    }

    #[test]
    fn never_more_than_the_limit_under_contention() {
        use std::sync::Arc;
        let a = Arc::new(Admission::new(4, 64));
        let over = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|s| {
                let a = Arc::clone(&a);
                let over = Arc::clone(&over);
                std::thread::spawn(move || {
                    for i in 0..20_000u64 {
                        a.beat(s);
                        let got = a.acquire(s, 1 + i % 7, u64::MAX);
                        if a.in_flight() > 64 {
                            over.store(true, Ordering::Relaxed);
                        }
                        a.release(s, got);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(!over.load(Ordering::Relaxed));
        assert!(a.max_in_flight() <= 64);
        assert_eq!(a.in_flight(), 0);
    }
}
