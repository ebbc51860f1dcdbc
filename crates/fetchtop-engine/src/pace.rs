//! `--rate`: when items may start, and when each was meant to start.
//!
//! The schedule is fixed in advance: slot k falls due at `start + k / rate`,
//! or, for a ramp (`--rate A..B --ramp D`, `--rate-stages`), when the
//! integral of the rate reaches k ([`Schedule`], a pure function of k).
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

/// One linear piece of a [`Schedule`]: the rate goes from `from` to `to`
/// over `secs`, starting `start` seconds into the run, when `n0` slots
/// have fallen due.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Piece {
    start: f64,
    secs: f64,
    from: f64,
    to: f64,
    n0: f64,
}

impl Piece {
    /// Slots falling due within the piece.
    fn area(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.secs
    }

    /// Slots due `tau` seconds into the piece, counted from its start.
    fn count(&self, tau: f64) -> f64 {
        if self.secs <= 0.0 {
            return 0.0;
        }
        let tau = tau.clamp(0.0, self.secs);
        self.from * tau + (self.to - self.from) * tau * tau / (2.0 * self.secs)
    }

    /// Seconds into the piece when `delta` more slots have fallen due: the
    /// root of `from·τ + (to − from)·τ² / 2·secs = delta`, in the form that
    /// stays exact when the rate is flat or starts at 0.
    fn time_for(&self, delta: f64) -> f64 {
        if delta <= 0.0 {
            return 0.0;
        }
        let a = (self.to - self.from) / (2.0 * self.secs);
        let b = self.from;
        let root = (b * b + 4.0 * a * delta).max(0.0).sqrt();
        (2.0 * delta / (b + root)).min(self.secs)
    }
}

/// How the rate goes over a run, as a pure function of time: a constant
/// `--rate R`, a linear `--rate A..B --ramp D` (then B on), or
/// `--rate-stages R:D,...` (each stage ramps linearly from the last rate
/// to its own over its duration, from 0 as k6 does; the schedule, and so
/// the run, ends with the last stage).
///
/// Slot k falls due when `k` slots' worth of rate has passed: at the `t`
/// where `N(t) = ∫ rate = k`. So the k-th start's instant is fixed in
/// advance, whatever the clock or the shards do.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pieces: Vec<Piece>,
    /// The rate after the last piece; None: the schedule ends there.
    after: Option<f64>,
}

/// Rates inside a ramp: 0 allowed (a pause in the schedule), at most [`MAX_RATE`].
fn clamp_ramp(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, MAX_RATE)
    }
}

impl Schedule {
    /// Always `rate` (clamped to the accepted range).
    pub fn constant(rate: f64) -> Schedule {
        Schedule {
            pieces: Vec::new(),
            after: Some(clamp_rate(rate)),
        }
    }

    /// From `from` to `to` linearly over `over`, then `to` on.
    pub fn ramp(from: f64, to: f64, over: Duration) -> Schedule {
        let mut s = Schedule::stages(&[(from, Duration::ZERO), (to, over)]);
        s.after = Some(clamp_rate(to));
        s
    }

    /// Each stage ramps from the last rate (0 at first) to its own over its
    /// duration (0: a step); the schedule ends after the last.
    pub fn stages(stages: &[(f64, Duration)]) -> Schedule {
        let mut pieces = Vec::with_capacity(stages.len());
        let (mut start, mut n0, mut from) = (0.0, 0.0, 0.0);
        for &(to, d) in stages {
            let to = clamp_ramp(to);
            let p = Piece {
                start,
                secs: d.as_secs_f64(),
                from,
                to,
                n0,
            };
            n0 += p.area();
            start += p.secs;
            from = to;
            pieces.push(p);
        }
        Schedule {
            pieces,
            after: None,
        }
    }

    fn end(&self) -> (f64, f64, f64) {
        self.pieces.last().map_or((0.0, 0.0, 0.0), |p| {
            (p.start + p.secs, p.n0 + p.area(), p.to)
        })
    }

    /// When the schedule ends, in seconds from the start (None: never).
    pub fn ends_at(&self) -> Option<f64> {
        self.after.is_none().then(|| self.end().0)
    }

    /// The rate `t` seconds into the run.
    pub fn rate_at(&self, t: f64) -> f64 {
        let (end, _, last) = self.end();
        if t >= end || self.pieces.is_empty() {
            return match self.after {
                Some(r) => r,
                None if self.pieces.is_empty() => 0.0,
                None => last,
            };
        }
        // Zero-length pieces are steps: the later one wins.
        let p = self
            .pieces
            .iter()
            .rev()
            .find(|p| p.start <= t)
            .unwrap_or(&self.pieces[0]);
        if p.secs <= 0.0 {
            return p.to;
        }
        p.from + (p.to - p.from) * ((t - p.start) / p.secs)
    }

    /// Slots due by `t` seconds (a real number; slot k is due once it
    /// reaches k).
    pub fn count_by(&self, t: f64) -> f64 {
        let t = t.max(0.0);
        let (end, total, _) = self.end();
        if t >= end {
            return total + self.after.map_or(0.0, |r| r * (t - end));
        }
        self.pieces
            .iter()
            .rev()
            .find(|p| p.start <= t)
            .map_or(0.0, |p| p.n0 + p.count(t - p.start))
    }

    /// When slot `k` falls due, in seconds from the start; None when the
    /// schedule ends first.
    pub fn time_of(&self, k: u64) -> Option<f64> {
        let k = k as f64;
        if k == 0.0 {
            return Some(0.0);
        }
        for p in &self.pieces {
            if k <= p.n0 + p.area() && p.area() > 0.0 {
                return Some(p.start + p.time_for(k - p.n0));
            }
        }
        let (end, total, _) = self.end();
        match self.after {
            Some(r) if r > 0.0 => Some(end + (k - total) / r),
            _ => None,
        }
    }

    /// Slots there will ever be, when the schedule ends.
    pub fn total(&self) -> Option<u64> {
        self.after
            .is_none()
            .then(|| (self.end().1 + 1e-9).floor() as u64 + 1)
    }
}

/// Parses `--rate-stages 100:30s,500:60s,0:10s`: rate:duration pairs
/// (a duration of 0s is a step to that rate).
pub fn parse_stages(s: &str) -> Result<Vec<(f64, Duration)>, String> {
    let bad = |part: &str, why: String| {
        format!("invalid rate stage {part:?} in {s:?}: {why} (e.g. 100:30s,500:60s,0:10s)")
    };
    let stages = s
        .split(',')
        .map(|part| {
            let (r, d) = part
                .trim()
                .split_once(':')
                .ok_or_else(|| bad(part, "give RATE:DURATION".into()))?;
            let rate: f64 = r
                .trim()
                .parse()
                .map_err(|_| bad(part, format!("{r:?} is not a rate")))?;
            if !rate.is_finite() || !(0.0..=MAX_RATE).contains(&rate) {
                return Err(bad(part, format!("the rate must be from 0 to {MAX_RATE}")));
            }
            let d = d.trim();
            let dur = if d == "0" {
                Duration::ZERO
            } else {
                humantime::parse_duration(d).map_err(|e| bad(part, e.to_string()))?
            };
            Ok((rate, dur))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if stages.iter().all(|(r, _)| *r == 0.0) {
        return Err(format!("invalid rate stages {s:?}: every rate is 0"));
    }
    Ok(stages)
}

/// The send schedule of a run under `--rate`, shared by every shard.
#[derive(Debug)]
pub struct Pacer {
    schedule: Schedule,
    start: Instant,
    /// Slots claimed so far (the next slot's number).
    claimed: AtomicU64,
}

/// How far away "never" is, for a schedule that has ended.
const NEVER: Duration = Duration::from_secs(3600);

impl Pacer {
    /// A schedule at `rate` requests per second (clamped to the accepted
    /// range), its first slot due now.
    pub fn new(rate: f64) -> Pacer {
        Pacer::with_schedule(Schedule::constant(rate))
    }

    /// A schedule of any shape, its first slot due now.
    pub fn with_schedule(schedule: Schedule) -> Pacer {
        Pacer {
            schedule,
            start: Instant::now(),
            claimed: AtomicU64::new(0),
        }
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The rate in requests per second now.
    pub fn rate(&self) -> f64 {
        self.schedule.rate_at(self.start.elapsed().as_secs_f64())
    }

    /// When slot `k` falls due (far off when the schedule ends first).
    pub fn slot(&self, k: u64) -> Instant {
        match self.schedule.time_of(k) {
            Some(t) => self.start + Duration::from_secs_f64(t),
            None => Instant::now() + NEVER,
        }
    }

    /// Slots due by `now`, claimed or not.
    fn due_by(&self, now: Instant) -> u64 {
        let t = now.saturating_duration_since(self.start).as_secs_f64();
        // A hair over, so a slot is due at the instant `slot` gives for it.
        let due = (self.schedule.count_by(t) + 1e-9).floor() as u64 + 1;
        self.schedule.total().map_or(due, |n| due.min(n))
    }

    /// The schedule has ended and every slot in it has been claimed.
    pub fn finished(&self, now: Instant) -> bool {
        self.schedule.total().is_some_and(|n| {
            self.claimed.load(Ordering::Relaxed) >= n
                || self.schedule.ends_at().is_some_and(|end| {
                    now.saturating_duration_since(self.start).as_secs_f64() > end + 1.0
                })
        })
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

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn a_linear_ramp_starts_at_its_first_rate_and_ends_at_its_last() {
        let s = Schedule::ramp(100.0, 2000.0, Duration::from_secs(60));
        assert_eq!(s.rate_at(0.0), 100.0);
        assert!(near(s.rate_at(30.0), 1050.0));
        assert_eq!(s.rate_at(60.0), 2000.0);
        assert_eq!(s.rate_at(600.0), 2000.0, "then it holds");
        assert_eq!(s.ends_at(), None);
        // The first slots are 10 ms apart (100/s; a hair less as it climbs).
        let about = |a: f64, b: f64| (a - b).abs() < 0.005 * b;
        assert!(about(s.time_of(1).unwrap(), 0.01));
        assert!(about(s.time_of(2).unwrap() - s.time_of(1).unwrap(), 0.01));
        // The area under the ramp: (100 + 2000) / 2 × 60.
        assert!(near(s.count_by(60.0), 63_000.0));
        assert!(near(s.time_of(63_000).unwrap(), 60.0));
        assert!(near(s.time_of(65_000).unwrap(), 61.0));
        // Halfway through, slots are 1/1050 s apart.
        let k = s.count_by(30.0).round() as u64;
        let gap = s.time_of(k + 1).unwrap() - s.time_of(k).unwrap();
        assert!((gap - 1.0 / 1050.0).abs() < 1e-6, "{gap}");
    }

    #[test]
    fn stages_ramp_from_rate_to_rate_and_end() {
        let st = parse_stages("100:30s,500:60s,0:10s").unwrap();
        let s = Schedule::stages(&st);
        assert_eq!(s.rate_at(0.0), 0.0, "from 0, as k6 does");
        assert!(near(s.rate_at(15.0), 50.0));
        assert!(near(s.rate_at(60.0), 300.0));
        assert!(near(s.rate_at(95.0), 250.0));
        assert!(near(s.count_by(30.0), 1_500.0));
        assert!(near(s.count_by(90.0), 19_500.0));
        assert!(near(s.count_by(100.0), 22_000.0));
        assert_eq!(s.ends_at(), Some(100.0));
        assert_eq!(s.total(), Some(22_001));
        assert!(s.time_of(22_000).is_some());
        assert_eq!(s.time_of(22_001), None, "the schedule has ended");
        // A 0s stage is a step: start at 100/s at once.
        let s = Schedule::stages(&parse_stages("100:0s,100:30s").unwrap());
        assert_eq!(s.rate_at(0.0), 100.0);
        assert!(near(s.time_of(1).unwrap(), 0.01));
        for bad in ["", "100", "x:1s", "100:soon", "-5:1s", "0:10s,0:5s"] {
            assert!(parse_stages(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slot_times_and_counts_agree_everywhere() {
        let schedules = [
            Schedule::constant(250.0),
            Schedule::ramp(10.0, 5000.0, Duration::from_secs(20)),
            Schedule::ramp(3000.0, 5.0, Duration::from_secs(7)),
            Schedule::stages(&parse_stages("100:3s,0:2s,400:0s,400:4s,1:5s").unwrap()),
        ];
        for s in &schedules {
            let mut last = 0.0;
            for k in (0..20_000).step_by(7) {
                let Some(t) = s.time_of(k) else { break };
                assert!(t >= last, "slot times never go back: {k} {t} {last}");
                last = t;
                let n = s.count_by(t);
                assert!(
                    (n - k as f64).abs() < 1e-6 * (k as f64).max(1.0),
                    "{k}: {n} at {t}"
                );
            }
        }
    }

    #[test]
    fn a_ramped_pacer_lets_slots_fall_due_on_its_schedule() {
        let p = Pacer::with_schedule(Schedule::ramp(100.0, 1000.0, Duration::from_secs(10)));
        let t0 = p.start;
        assert_eq!(p.available(t0), 1);
        // By 1 s: 100 + 900·1²/20 = 145 slots, and slot 0.
        assert_eq!(p.available(t0 + Duration::from_secs(1)), 146);
        let (first, n) = p.claim(1000, t0 + Duration::from_secs(1));
        assert_eq!((first, n), (0, 146));
        assert!(near(
            p.next_due().duration_since(t0).as_secs_f64(),
            p.schedule().time_of(146).unwrap()
        ));
        let ended = Pacer::with_schedule(Schedule::stages(&[(10.0, Duration::from_secs(1))]));
        let end = ended.start + Duration::from_secs(5);
        assert_eq!(ended.available(end), 6, "5 slots in the ramp, and slot 0");
        assert!(!ended.finished(ended.start));
        ended.claim(100, end);
        assert!(ended.finished(end));
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
