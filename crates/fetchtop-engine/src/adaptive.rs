//! `--adaptive`: the engine moves the concurrency limit itself.
//!
//! Two controllers from the literature, decided once per window
//! ([`crate::window::Sample`]), pure (no clock here: the control plane
//! hands in each window's numbers and applies the answer):
//!
//! - **AIMD on overload** (TCP's congestion avoidance; Envoy's and Netflix's
//!   limiters back off the same way): a window with 429/503 answers or
//!   timeouts cuts the limit to [`BACKOFF`] of itself, or to half (TCP
//!   Reno's decrease) when a quarter or more of the window was refused,
//!   and the next window is judged at once: refusals are quick to drain.
//! - **Vegas** (Brakmo & Peterson 1994, as in Netflix concurrency-limits'
//!   `VegasLimit`): with `rtt0` the latency without load (the lowest window
//!   mean seen) and `rtt` the window's mean, the requests queued at
//!   the server are `queue = limit × (1 − rtt0 / rtt)` (Little's law). The
//!   limit grows while `queue < α` and shrinks when `queue > β`, with
//!   `α = 3·log10(limit)` and `β = 6·log10(limit)`, so it settles a few
//!   requests above the server's real concurrency: enough to keep it busy,
//!   too few to make anyone wait long. Like TCP Vegas it starts by
//!   doubling (slow start) until the first sign of queueing; past `β` it
//!   jumps to the pipe estimate `limit × rtt0 / rtt` plus `α` rather than
//!   stepping down by `log10(limit)` as Netflix does, so an overshoot is
//!   undone in one window.
//!
//! Vegas needs `rtt0`, and a run that starts (or is pushed) past the
//! server's capacity never sees it. So, as BBR's ProbeRTT does, the
//! controller measures it on purpose: before its first decision and then
//! every [`PROBE_EVERY`] windows, it drops the limit to a quarter for one
//! window, takes that window's mean as `rtt0`, and goes back. A server
//! that has become slower for good is learnt again at the next probe.
//!
//! `--target-p99` adds a bound: a window whose p99 is over the target cuts
//! the limit by 10%, and the limit does not grow while p99 is above 90% of it.

use crate::window::Sample;

/// Fewest responses a window needs before it is judged.
pub const MIN_SAMPLES: u64 = 10;
/// The multiplicative decrease on 429/503 and timeouts.
pub const BACKOFF: f64 = 0.75;
/// The decrease when at least [`REFUSED_MANY`] of a window was refused.
pub const BACKOFF_HARD: f64 = 0.5;
/// The share of refusals that calls for the harder decrease.
const REFUSED_MANY: f64 = 0.25;
/// The decrease when p99 is over `--target-p99`.
const OVER_TARGET: f64 = 0.9;
/// Windows between two probes of the unloaded latency (at the control
/// plane's half-second windows, about 20 s: a probe costs one window at a
/// quarter of the limit, under 2% of the throughput).
pub const PROBE_EVERY: u32 = 40;

/// How the controller is bounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds {
    /// Lowest limit it sets.
    pub min: u64,
    /// Highest limit it sets (`--adaptive-max`).
    pub max: u64,
    /// Keep the window's p99 under this, in ms (`--target-p99`).
    pub target_p99_ms: Option<f64>,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            min: 1,
            max: DEFAULT_MAX,
            target_p99_ms: None,
        }
    }
}

/// Default `--adaptive-max`.
pub const DEFAULT_MAX: u64 = 1000;

/// A new limit and the reason for it, in words.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The limit to set.
    pub to: u64,
    /// Why, for the log, the chart and the summary.
    pub why: String,
    /// Let the next window go unjudged while requests sent under the old
    /// limit drain (not needed after a back-off: refusals drain at once).
    pub settle: bool,
}

/// The controller's memory between windows.
#[derive(Clone, Debug)]
pub struct Controller {
    bounds: Bounds,
    /// Lowest window median seen in a clean window, in ms.
    rtt0: Option<f64>,
    /// Still doubling: no queueing or overload seen yet.
    slow_start: bool,
    /// Measuring the unloaded latency; the limit to go back to after.
    probe: Option<u64>,
    /// Windows judged since the last probe.
    since_probe: u32,
}

fn log10(limit: f64) -> f64 {
    limit.max(10.0).log10()
}

impl Controller {
    /// A controller that knows nothing of the server yet.
    pub fn new(bounds: Bounds) -> Controller {
        Controller {
            bounds,
            rtt0: None,
            slow_start: true,
            probe: None,
            since_probe: 0,
        }
    }

    /// Whether the window now running is a probe of the unloaded latency.
    pub fn probing(&self) -> bool {
        self.probe.is_some()
    }

    /// The bounds it keeps to.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The latency without load it has learnt, in ms.
    pub fn rtt0(&self) -> Option<f64> {
        self.rtt0
    }

    fn clamp(&self, v: f64) -> u64 {
        let max = self.bounds.max.max(self.bounds.min);
        (v.round().max(0.0) as u64).clamp(self.bounds.min, max)
    }

    fn to(&self, limit: u64, v: f64, why: String) -> Option<Decision> {
        let to = self.clamp(v);
        (to != limit).then_some(Decision {
            to,
            why,
            settle: true,
        })
    }

    /// What to do after a window; `None` keeps the limit.
    pub fn decide(&mut self, s: &Sample) -> Option<Decision> {
        if s.limit == 0 || s.completed < MIN_SAMPLES {
            return None;
        }
        let limit = s.limit as f64;
        // AIMD: the server says it is overloaded.
        if s.throttled + s.timeouts > 0 {
            self.slow_start = false;
            // Back off from where the run really was, probe or not.
            let limit = self.probe.take().map_or(limit, |l| l as f64);
            let mut what = Vec::new();
            if s.throttled > 0 {
                what.push(format!("{} × 429/503", s.throttled));
            }
            if s.timeouts > 0 {
                what.push(format!("{} timeouts", s.timeouts));
            }
            let refused = (s.throttled + s.timeouts) as f64 / s.completed as f64;
            let factor = if refused >= REFUSED_MANY {
                BACKOFF_HARD
            } else {
                BACKOFF
            };
            return self
                .to(
                    s.limit,
                    (limit * factor).floor(),
                    format!("{}: back off ×{factor}", what.join(", ")),
                )
                .map(|d| Decision { settle: false, ..d });
        }
        if s.mean_ms <= 0.0 {
            return None;
        }
        if let Some(back) = self.probe.take() {
            self.rtt0 = Some(s.mean_ms);
            self.since_probe = 0;
            return self.to(
                s.limit,
                back as f64,
                format!("probe done: {:.1}ms unloaded, back to {back}", s.mean_ms),
            );
        }
        if self.rtt0.is_none() || self.since_probe >= PROBE_EVERY {
            let low = self.clamp((limit / 4.0).floor());
            if low < s.limit {
                self.probe = Some(s.limit);
                return Some(Decision {
                    to: low,
                    why: format!("probe: the unloaded latency, at a quarter of {}", s.limit),
                    settle: true,
                });
            }
            // Already as low as it goes: this window is unloaded enough.
            self.rtt0 = Some(s.mean_ms);
            self.since_probe = 0;
        }
        self.since_probe += 1;
        let rtt0 = self.rtt0.map_or(s.mean_ms, |r| r.min(s.mean_ms));
        self.rtt0 = Some(rtt0);
        if let Some(target) = self.bounds.target_p99_ms
            && s.p99_ms > target
        {
            self.slow_start = false;
            return self.to(
                s.limit,
                (limit * OVER_TARGET).floor(),
                format!("p99 {:.1}ms over the target {target:.1}ms", s.p99_ms),
            );
        }
        let queue = limit * (1.0 - rtt0 / s.mean_ms);
        let (alpha, beta) = (3.0 * log10(limit), 6.0 * log10(limit));
        if queue > beta {
            self.slow_start = false;
            let pipe = limit * rtt0 / s.mean_ms;
            return self.to(
                s.limit,
                pipe + alpha,
                format!(
                    "vegas: {queue:.1} queued > β {beta:.1} (latency {:.1}ms, {rtt0:.1}ms unloaded)",
                    s.mean_ms
                ),
            );
        }
        // Room to grow, unless the limit is not what holds the run back
        // (too few items, a --rate) or p99 is near its target.
        let app_limited = (s.peak_in_flight as f64) < limit / 2.0;
        let near_target = self
            .bounds
            .target_p99_ms
            .is_some_and(|t| s.p99_ms > 0.9 * t);
        if queue >= alpha || app_limited || near_target {
            return None;
        }
        if self.slow_start {
            self.to(
                s.limit,
                limit * 2.0,
                format!("slow start: {queue:.1} queued < α {alpha:.1}, ×2"),
            )
        } else {
            self.to(
                s.limit,
                limit + log10(limit),
                format!("vegas: {queue:.1} queued < α {alpha:.1}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A server of `slots` slots, `service` ms each, FIFO queue of
    /// `queue`, 429 beyond: what a window at `limit` would measure.
    fn server(slots: u64, queue: u64, service: f64, limit: u64) -> Sample {
        let served = limit.min(slots + queue);
        let latency = service * (served as f64 / slots as f64).max(1.0);
        let completed = (served as f64 / latency * 500.0) as u64;
        let refused = limit.saturating_sub(slots + queue) * 10;
        Sample {
            span: Duration::from_millis(500),
            limit,
            peak_in_flight: limit,
            completed: completed + refused,
            failed: refused,
            throttled: refused,
            timeouts: 0,
            p50_ms: latency,
            mean_ms: latency,
            p99_ms: latency * 1.1,
        }
    }

    /// Runs 60 windows (and any probe left open) against the server.
    fn settle(c: &mut Controller, mut limit: u64, slots: u64, queue: u64) -> (u64, Vec<String>) {
        let mut why = Vec::new();
        let mut n = 0;
        while n < 60 || c.probing() {
            if let Some(d) = c.decide(&server(slots, queue, 50.0, limit)) {
                limit = d.to;
                why.push(d.why);
            }
            n += 1;
        }
        (limit, why)
    }

    #[test]
    fn settles_a_few_requests_above_the_servers_slots() {
        for (start, slots) in [(4, 32), (50, 32), (200, 32), (1, 8), (20, 100)] {
            let mut c = Controller::new(Bounds::default());
            let (limit, why) = settle(&mut c, start, slots, 2 * slots);
            // Vegas keeps α..β requests queued: slots + 3·log10 .. slots + 6·log10.
            let lo = slots as f64;
            let hi = slots as f64 + 6.0 * log10(limit as f64) + 1.0;
            assert!(
                (lo..=hi).contains(&(limit as f64)),
                "from {start} with {slots} slots: {limit} ({why:?})"
            );
            // Settled: the last windows changed nothing.
            let before = limit;
            assert_eq!(settle(&mut c, limit, slots, 2 * slots).0, before);
        }
    }

    #[test]
    fn backs_off_on_429s_and_timeouts() {
        let mut c = Controller::new(Bounds::default());
        // 300 in flight against 32 slots and a queue of 64: 429s.
        let d = c.decide(&server(32, 64, 50.0, 300)).unwrap();
        assert_eq!(d.to, 150, "most were refused: halved");
        assert!(!d.settle);
        assert!(
            d.why.contains("429/503") && d.why.contains("back off"),
            "{}",
            d.why
        );
        let mut s = server(32, 64, 50.0, 40);
        s.timeouts = 3;
        s.completed = 300;
        let d = c.decide(&s).unwrap();
        assert_eq!(d.to, 30);
        assert!(d.why.contains("3 timeouts"), "{}", d.why);
        // From far above, it comes down below the 429 line and settles.
        let (limit, _) = settle(&mut c, 300, 32, 64);
        assert!((32..=42).contains(&limit), "{limit}");
    }

    #[test]
    fn keeps_to_its_bounds_and_the_target() {
        let mut c = Controller::new(Bounds {
            min: 2,
            max: 20,
            target_p99_ms: None,
        });
        assert_eq!(settle(&mut c, 4, 32, 64).0, 20, "capped by --adaptive-max");
        let mut c = Controller::new(Bounds {
            target_p99_ms: Some(60.0),
            ..Bounds::default()
        });
        // p99 is 1.1 × the median: 60 ms allows a median of 54.5 ms, a
        // limit of at most 34 for 32 slots of 50 ms.
        let (limit, why) = settle(&mut c, 100, 32, 200);
        assert!((30..=34).contains(&limit), "{limit} {why:?}");
        assert!(why.iter().any(|w| w.contains("over the target")), "{why:?}");
    }

    #[test]
    fn probes_the_unloaded_latency_first_and_then_now_and_again() {
        let mut c = Controller::new(Bounds::default());
        // Started past the knee: the first window's latency is queueing.
        let d = c.decide(&server(32, 64, 50.0, 64)).unwrap();
        assert_eq!(d.to, 16);
        assert!(c.probing() && d.why.starts_with("probe"), "{}", d.why);
        let d = c.decide(&server(32, 64, 50.0, 16)).unwrap();
        assert_eq!(d.to, 64);
        assert_eq!(c.rtt0(), Some(50.0));
        let (limit, why) = settle(&mut c, 64, 32, 64);
        assert!(
            why.iter().filter(|w| w.starts_with("probe:")).count() >= 1,
            "{why:?}"
        );
        assert!((32..=42).contains(&limit), "{limit}");
    }

    #[test]
    fn does_not_grow_when_the_limit_is_not_what_binds() {
        let mut c = Controller::new(Bounds::default());
        // The first probe, done.
        assert!(c.decide(&server(32, 64, 50.0, 16)).is_some());
        assert!(c.decide(&server(32, 64, 50.0, 4)).is_some());
        let mut s = server(32, 64, 50.0, 16);
        s.peak_in_flight = 3;
        assert_eq!(c.decide(&s), None);
        s.completed = 5;
        s.peak_in_flight = 16;
        assert_eq!(c.decide(&s), None, "too few samples to judge");
    }
}
