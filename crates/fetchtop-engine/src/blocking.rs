//! Blocking work on purpose, for demos: some items do work that never
//! `.await`s (a `std::thread::sleep` or a CPU loop), so a user can watch what
//! one uncooperative task does to an event loop, and watch
//! `spawn_blocking` take it off the runtime's workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the blocking work does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// `std::thread::sleep`: the thread is stuck but the CPU is free.
    Sleep,
    /// A busy loop: the thread and one CPU are both taken.
    Spin,
}

/// Which items block, for how long, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockingWork {
    /// One item in `every` blocks (by seq); 1 makes every item block.
    pub every: u64,
    /// How long each blocking item blocks.
    pub duration: Duration,
    /// Sleep or spin.
    pub kind: BlockKind,
}

impl Default for BlockingWork {
    fn default() -> Self {
        BlockingWork {
            every: 10,
            duration: Duration::from_millis(50),
            kind: BlockKind::Sleep,
        }
    }
}

impl BlockingWork {
    /// Whether item `seq` does the work.
    pub fn applies_to(&self, seq: u64) -> bool {
        self.every > 0 && seq.is_multiple_of(self.every)
    }

    /// Does the work on the calling thread, without yielding.
    pub fn run(&self) {
        match self.kind {
            BlockKind::Sleep => std::thread::sleep(self.duration),
            BlockKind::Spin => {
                let end = Instant::now() + self.duration;
                let mut x: u64 = 1;
                while Instant::now() < end {
                    for _ in 0..1000 {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                }
            }
        }
    }

    /// In words, for the screen: "every 10th item sleeps 50ms".
    pub fn describe(&self) -> String {
        let verb = match self.kind {
            BlockKind::Sleep => "sleeps",
            BlockKind::Spin => "spins the CPU for",
        };
        let who = if self.every == 1 {
            "every item".to_string()
        } else {
            format!("every {}th item", self.every)
        };
        format!("{who} {verb} {}", humantime::format_duration(self.duration))
    }
}

/// The demo switch: the work's shape, whether it is on, and whether it goes
/// through `spawn_blocking`. Only demo runs have one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocking {
    /// The work.
    pub work: BlockingWork,
    /// Items do the work.
    pub on: bool,
    /// The work runs on tokio's blocking pool instead of inside the task.
    pub offload: bool,
}

/// The work one item does, decided when it is dispatched.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    work: BlockingWork,
    offload: bool,
}

impl Blocking {
    /// The plan for item `seq`, if it blocks.
    pub fn plan(&self, seq: u64) -> Option<Plan> {
        (self.on && self.work.applies_to(seq)).then_some(Plan {
            work: self.work,
            offload: self.offload,
        })
    }
}

impl Plan {
    /// Does the work from a tokio task: inline (the worker thread is stuck
    /// for its whole length) or on the blocking pool (the task waits, the
    /// worker runs other tasks). Counts it in `done` either way.
    pub async fn perform_async(self, done: &AtomicU64) {
        if self.offload {
            let work = self.work;
            // A panic in the work is not the item's failure: the work is a demo prop.
            let _ = tokio::task::spawn_blocking(move || work.run()).await;
        } else {
            self.work.run();
        }
        done.fetch_add(1, Ordering::Relaxed);
    }

    /// Does the work on the calling OS thread (the threads model).
    pub fn perform_here(self, done: &AtomicU64) {
        self.work.run();
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts blocking work done, shared by the tasks and the dispatcher.
pub type WorkCounter = Arc<AtomicU64>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_every_nth_item_blocks_and_only_when_on() {
        let mut b = Blocking::default();
        assert!(b.plan(10).is_none(), "off by default");
        b.on = true;
        assert!(b.plan(10).is_some() && b.plan(20).is_some());
        assert!(b.plan(11).is_none());
        b.work.every = 1;
        assert!(b.plan(7).is_some());
        assert_eq!(b.work.describe(), "every item sleeps 50ms");
    }

    #[test]
    fn the_work_takes_its_time() {
        for kind in [BlockKind::Sleep, BlockKind::Spin] {
            let w = BlockingWork {
                every: 1,
                duration: Duration::from_millis(5),
                kind,
            };
            let t = Instant::now();
            w.run();
            assert!(t.elapsed() >= Duration::from_millis(5));
        }
    }
}
