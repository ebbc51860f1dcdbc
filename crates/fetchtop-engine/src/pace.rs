//! `--rate`: when items may start, and when each was meant to start.
//!
//! The schedule is fixed in advance: slot k falls due at `start + k / rate`.
//! Every shard claims slots from the one schedule with a compare-and-swap
//! on a shared cursor, so the rate holds for the whole run however many
//! shards share it, and the k-th item started gets the k-th slot. Slots are
//! claimed only together with room to start an item, and an item's latency
//! counts from its slot's instant: when the target slows down and requests
//! queue behind the limit, the queueing shows in the latency instead of
//! being hidden by a client that quietly sends later ("coordinated
//! omission").

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Lowest rate: one request every 100 seconds.
pub const MIN_RATE: f64 = 0.01;
/// Highest rate, a guard against typos.
pub const MAX_RATE: f64 = 1_000_000.0;
/// Slots that may fall behind before they are given up. Beyond this
/// backlog, late requests are no longer counted from their slot: the run is
/// then so far behind its rate that the latency already says so.
pub const MAX_BACKLOG: u64 = 65_536;

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

/// The send schedule of a run under `--rate`, shared by every shard.
#[derive(Debug)]
pub struct Pacer {
    rate: f64,
    start: Instant,
    /// Slots claimed so far (the next slot's number).
    claimed: AtomicU64,
}

impl Pacer {
    /// A schedule at `rate` requests per second (clamped to the accepted
    /// range), its first slot due now.
    pub fn new(rate: f64) -> Pacer {
        Pacer {
            rate: clamp_rate(rate),
            start: Instant::now(),
            claimed: AtomicU64::new(0),
        }
    }

    /// The rate in requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// When slot `k` falls due.
    pub fn slot(&self, k: u64) -> Instant {
        self.start + Duration::from_secs_f64(k as f64 / self.rate)
    }

    /// Slots due by `now`, claimed or not.
    fn due_by(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_secs_f64() * self.rate).floor() as u64 + 1
    }

    /// Slots due by `now` and not yet claimed.
    pub fn available(&self, now: Instant) -> u64 {
        self.due_by(now)
            .saturating_sub(self.claimed.load(Ordering::Relaxed))
            .min(MAX_BACKLOG)
    }

    /// When the next unclaimed slot falls due.
    pub fn next_due(&self) -> Instant {
        self.slot(self.claimed.load(Ordering::Relaxed))
    }

    /// Claims up to `n` slots due by `now`, oldest first; returns the first
    /// slot's number and how many were claimed. Slots more than
    /// [`MAX_BACKLOG`] behind are given up on the way.
    pub fn claim(&self, n: u64, now: Instant) -> (u64, u64) {
        let due = self.due_by(now);
        let mut current = self.claimed.load(Ordering::Relaxed);
        loop {
            let first = current.max(due.saturating_sub(MAX_BACKLOG));
            let take = n.min(due.saturating_sub(first));
            if take == 0 {
                return (first, 0);
            }
            match self.claimed.compare_exchange_weak(
                current,
                first + take,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return (first, take),
                Err(seen) => current = seen,
            }
        }
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
    fn slots_fall_due_at_the_rate_and_are_claimed_once() {
        let p = Pacer::new(10.0);
        let t0 = p.start;
        assert_eq!(p.available(t0), 1, "the first slot is due at once");
        assert_eq!(p.claim(5, t0), (0, 1));
        assert_eq!(p.claim(5, t0), (1, 0));
        assert_eq!(p.next_due(), t0 + Duration::from_millis(100));
        let later = t0 + Duration::from_millis(350);
        assert_eq!(p.available(later), 3);
        assert_eq!(p.claim(2, later), (1, 2));
        assert_eq!(p.claim(9, later), (3, 1));
        assert_eq!(p.slot(3), t0 + Duration::from_millis(300));
    }

    #[test]
    fn a_long_backlog_is_given_up() {
        let p = Pacer::new(MAX_RATE);
        let later = p.start + Duration::from_secs(1);
        assert_eq!(p.available(later), MAX_BACKLOG);
        let (first, n) = p.claim(10, later);
        assert_eq!(n, 10);
        assert!(first >= 1_000_000 - MAX_BACKLOG, "{first}");
    }

    #[test]
    fn shards_claiming_together_share_one_schedule() {
        use std::sync::Arc;
        let p = Arc::new(Pacer::new(1000.0));
        let at = p.start + Duration::from_secs(2);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let (first, n) = p.claim(3, at);
                        if n == 0 {
                            return mine;
                        }
                        mine.extend(first..first + n);
                    }
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..=2000).collect::<Vec<_>>());
    }
}
