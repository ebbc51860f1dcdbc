//! A server of known capacity (`--scenario capacity`): a fixed number of
//! slots, each serving one request at a time; requests beyond them wait in
//! a bounded queue (first come, first served), and beyond the queue they
//! are answered 429 at once.
//!
//! So the best concurrency limit is known: the number of slots. Below it,
//! throughput grows with the limit; above it, by Little's law
//! (throughput = in flight / latency), only the latency grows, until the
//! queue is full and 429s begin.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

/// How a server of known capacity is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Requests served at once.
    pub slots: usize,
    /// Requests that may wait for a slot; more are refused with 429.
    pub queue: usize,
}

impl Capacity {
    /// `slots` slots and a queue twice as long.
    pub fn with_slots(slots: usize) -> Capacity {
        Capacity {
            slots: slots.max(1),
            queue: slots.max(1) * 2,
        }
    }
}

/// The slots and the queue, shared by the handlers.
#[derive(Debug)]
pub struct Slots {
    slots: Semaphore,
    waiting: AtomicUsize,
    queue: usize,
}

/// Whether a request got a slot.
pub enum Admitted<'a> {
    /// It holds a slot for as long as this lives.
    Slot(SemaphorePermit<'a>),
    /// The queue was full: answer 429.
    Refused,
}

impl Slots {
    /// Slots and a queue as `cap` says.
    pub fn new(cap: Capacity) -> Slots {
        Slots {
            slots: Semaphore::new(cap.slots.max(1)),
            waiting: AtomicUsize::new(0),
            queue: cap.queue,
        }
    }

    /// Takes a slot, waiting in line for one when the queue has room.
    pub async fn enter(&self) -> Admitted<'_> {
        if let Ok(p) = self.slots.try_acquire() {
            return Admitted::Slot(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Admitted::Refused;
        }
        // Tokio's semaphore is fair: waiters get slots in arrival order.
        let permit = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(p) => Admitted::Slot(p),
            // Never closed; refusing is the safe answer if it were.
            Err(_) => Admitted::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_then_a_queue_then_refusals() {
        let slots = Slots::new(Capacity { slots: 2, queue: 1 });
        let a = slots.enter().await;
        let b = slots.enter().await;
        assert!(matches!(a, Admitted::Slot(_)) && matches!(b, Admitted::Slot(_)));
        // The third waits in the queue; the fourth finds it full.
        let third = slots.enter();
        tokio::pin!(third);
        assert!(futures_poll_once(third.as_mut()).await.is_none());
        assert!(matches!(slots.enter().await, Admitted::Refused));
        drop(a);
        let c = third.await;
        assert!(matches!(c, Admitted::Slot(_)));
        // b and the third hold both slots, the queue is empty again.
        let fifth = slots.enter();
        tokio::pin!(fifth);
        assert!(futures_poll_once(fifth.as_mut()).await.is_none());
        assert!(matches!(slots.enter().await, Admitted::Refused));
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::time::timeout(std::time::Duration::from_millis(0), f)
            .await
            .ok()
    }
}
