//! `--rate`: when items may start, and when each was meant to start.
//!
//! A token bucket (governor's GCRA) hands out send slots at the rate. Slots
//! are taken as they fall due, whether or not the concurrency limit has room,
//! and queued with the instant they fell due. An item then starts with the
//! oldest slot, and its latency counts from that instant: when the target
//! slows down and requests queue behind the limit, the queueing shows in the
//! latency instead of being hidden by a client that quietly sends later
//! ("coordinated omission").

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Lowest rate: one request every 100 seconds.
pub const MIN_RATE: f64 = 0.01;
/// Highest rate, a guard against typos.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Slots kept waiting for room (at most 1 MiB of instants). Beyond this
/// backlog, late requests are no longer counted from their slot: the run is
/// then so far behind its rate that the latency already says so.
pub const MAX_BACKLOG: usize = 65_536;
/// The bucket holds this much time's worth of slots, so high rates are not
/// capped by the timer's millisecond resolution.
const BURST_WINDOW: f64 = 0.01;

/// Parses `--rate`: requests per second, more than 0 and at most [`MAX_RATE`].
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate {s:?}: give requests per second, such as 50 or 0.5"))?;
    if !r.is_finite() || r <= 0.0 {
        return Err(format!(
            "invalid rate {s:?}: it must be more than 0 requests per second (leave --rate out for no limit)"
        ));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&r) {
        return Err(format!(
            "invalid rate {s:?}: it must be from {MIN_RATE} to {MAX_RATE} requests per second"
        ));
    }
    Ok(r)
}

/// Keeps a rate in the accepted range.
pub fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        MIN_RATE
    } else {
        rate.clamp(MIN_RATE, MAX_RATE)
    }
}

/// The send schedule of a run under `--rate`. Owned by the dispatcher.
pub struct Pacer {
    rate: f64,
    bucket: DefaultDirectRateLimiter,
    clock: DefaultClock,
    due: VecDeque<Instant>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("rate", &self.rate)
            .field("backlog", &self.due.len())
            .finish_non_exhaustive()
    }
}

fn bucket(rate: f64) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / rate);
    let burst = (rate * BURST_WINDOW).ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    RateLimiter::direct(quota)
}

impl Pacer {
    /// A schedule at `rate` requests per second (clamped to the accepted range).
    pub fn new(rate: f64) -> Pacer {
        let rate = clamp_rate(rate);
        Pacer {
            rate,
            bucket: bucket(rate),
            clock: DefaultClock::default(),
            due: VecDeque::new(),
        }
    }

    /// The rate in requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Changes the rate; the schedule starts again from now.
    pub fn set_rate(&mut self, rate: f64) {
        *self = Pacer::new(rate);
    }

    /// Forgets slots not yet used (after a pause nothing was meant to be
    /// sent while paused) and starts the schedule again from now.
    pub fn reset(&mut self) {
        *self = Pacer::new(self.rate);
    }

    /// Whether another slot may be taken (the backlog is not full).
    pub fn wants_slots(&self) -> bool {
        self.due.len() < MAX_BACKLOG
    }

    /// Waits for the next slot and returns when it fell due: the scheduled
    /// instant, not the (possibly later) moment this task woke up, so a busy
    /// runtime does not shift the schedule. Cancel-safe: nothing is taken
    /// until the future completes.
    pub async fn next_slot(&self) -> Instant {
        let mut due = None;
        loop {
            match self.bucket.check() {
                Ok(()) => return due.unwrap_or_else(Instant::now),
                Err(not_until) => {
                    due = Some(not_until.earliest_possible());
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Queues a slot that fell due at `at`.
    pub fn push(&mut self, at: Instant) {
        self.due.push_back(at);
    }

    /// Slots due and not yet used.
    pub fn available(&self) -> usize {
        self.due.len()
    }

    /// The oldest unused slot: when the next item was meant to start.
    pub fn take(&mut self) -> Option<Instant> {
        self.due.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_checked() {
        assert_eq!(parse_rate("50"), Ok(50.0));
        assert_eq!(parse_rate(" 0.5 "), Ok(0.5));
        for bad in [
            "0", "-1", "-0.5", "nan", "inf", "fast", "", "0.001", "2000000",
        ] {
            let e = parse_rate(bad).unwrap_err();
            assert!(e.starts_with("invalid rate"), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
        assert_eq!(clamp_rate(1e12), MAX_RATE);
        assert_eq!(clamp_rate(0.0), MIN_RATE);
        assert_eq!(clamp_rate(f64::NAN), MIN_RATE);
    }

    #[test]
    fn slots_queue_in_order_and_reset_clears_them() {
        let mut p = Pacer::new(10.0);
        let t0 = Instant::now();
        p.push(t0);
        p.push(t0 + Duration::from_millis(100));
        assert_eq!(p.available(), 2);
        assert_eq!(p.take(), Some(t0));
        p.set_rate(20.0);
        assert_eq!(p.rate(), 20.0);
        assert_eq!(p.available(), 0);
        p.push(t0);
        p.reset();
        assert_eq!(p.take(), None);
        assert!(p.wants_slots());
    }

    #[tokio::test]
    async fn slots_come_at_the_rate() {
        // 200/s with a burst of 2: 20 slots need at least ~90 ms. A lower
        // bound only, so a slow machine cannot make it fail.
        let p = Pacer::new(200.0);
        let start = Instant::now();
        let mut last = start;
        for _ in 0..20 {
            let t = p.next_slot().await;
            assert!(t >= last);
            last = t;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "{:?}",
            start.elapsed()
        );
    }
}
