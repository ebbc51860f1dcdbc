//! `--sweep MIN..MAX`: the knee finder, pure (the control plane feeds it
//! windows and applies its answers).
//!
//! It steps the limit up geometrically (×[`FACTOR`]) from MIN, holds each
//! step until throughput and p99 are steady over two windows in a row (or
//! [`Plan::hold_max`] has passed), and stops when a step's throughput is
//! not [`GROWTH`] above the best before it, when errors appear, or at MAX.
//! By Little's law (throughput = in flight / latency), below the server's
//! capacity each step adds throughput; past it only latency grows. The
//! knee is the smallest limit within [`KNEE_WITHIN`] of the best
//! throughput (among the steps without errors): the most the server
//! gives, at the least waiting.

use std::time::Duration;

use crate::snapshot::SweepStep;
use crate::window::Sample;

/// Each step's limit is this many times the last one.
pub const FACTOR: f64 = 2.0;
/// A step must beat the best throughput so far by this much to go on.
pub const GROWTH: f64 = 0.05;
/// The knee is the smallest limit whose throughput is within this of the best.
pub const KNEE_WITHIN: f64 = 0.05;
/// Two windows in a row whose throughput differs by at most this (or by
/// the counting noise of their responses, 2/√n, when that is more) are
/// steady...
const STEADY_RATE: f64 = 0.05;
/// ...and whose p99 differs by at most this...
const STEADY_P99: f64 = 0.15;
/// ...when each has this many responses; with fewer, p99 is little more
/// than the slowest one, and their medians are compared instead.
const P99_SAMPLES: u64 = 200;
/// Default longest hold of one step.
pub const HOLD_MAX: Duration = Duration::from_secs(10);

/// What to sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// First limit.
    pub min: u64,
    /// Highest limit tried.
    pub max: u64,
    /// Longest time one step is held when it does not settle.
    pub hold_max: Duration,
}

/// Parses `MIN..MAX` (both at least 1, MIN at most MAX).
pub fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid sweep {s:?}: give MIN..MAX limits, such as 1..512");
    let (a, b) = s.trim().split_once("..").ok_or_else(bad)?;
    let min: u64 = a.trim().parse().map_err(|_| bad())?;
    let max: u64 = b.trim().parse().map_err(|_| bad())?;
    if min == 0 || min > max || max > crate::MAX_CONCURRENCY {
        return Err(format!(
            "invalid sweep {s:?}: MIN must be from 1 to MAX, and MAX at most {}",
            crate::MAX_CONCURRENCY
        ));
    }
    Ok((min, max))
}

/// The limits a plan steps through: MIN, ×2 each step, MAX last.
pub fn limits(min: u64, max: u64) -> Vec<u64> {
    let mut out = vec![min.max(1)];
    loop {
        let last = *out.last().unwrap_or(&1);
        if last >= max {
            break;
        }
        let next = ((last as f64 * FACTOR).round() as u64)
            .max(last + 1)
            .min(max);
        out.push(next);
    }
    out
}

/// What the sweep asks for after a window.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Keep the limit: the step is not steady yet.
    Hold,
    /// Go on to this limit.
    Step(u64),
    /// The sweep is over.
    Done {
        /// The knee, when any step was measured.
        knee: Option<u64>,
        /// Why it ended.
        why: String,
    },
}

/// The sweep's memory.
#[derive(Clone, Debug)]
pub struct Sweeper {
    plan: Plan,
    limits: Vec<u64>,
    index: usize,
    steps: Vec<SweepStep>,
    /// Throughput, latency (p99, or p50 in a small window) and responses
    /// of the current step's last window.
    last: Option<(f64, f64, u64)>,
}

fn ok_rate(s: &Sample) -> f64 {
    let secs = s.span.as_secs_f64();
    if secs > 0.0 {
        s.completed.saturating_sub(s.failed) as f64 / secs
    } else {
        0.0
    }
}

fn close(a: f64, b: f64, within: f64) -> bool {
    let top = a.abs().max(b.abs());
    top == 0.0 || (a - b).abs() <= within * top
}

impl Sweeper {
    /// A sweep about to start at the plan's first limit.
    pub fn new(plan: Plan) -> Sweeper {
        Sweeper {
            limits: limits(plan.min, plan.max),
            plan,
            index: 0,
            steps: Vec::new(),
            last: None,
        }
    }

    /// The limit to hold now.
    pub fn current(&self) -> u64 {
        self.limits[self.index.min(self.limits.len() - 1)]
    }

    /// The steps measured so far.
    pub fn steps(&self) -> &[SweepStep] {
        &self.steps
    }

    /// The plan.
    pub fn plan(&self) -> Plan {
        self.plan
    }

    /// The smallest limit within [`KNEE_WITHIN`] of the best throughput,
    /// among the steps without errors (when there are any).
    pub fn knee(&self) -> Option<u64> {
        let clean = self.steps.iter().any(|s| s.errors == 0);
        let candidates = || self.steps.iter().filter(move |s| !clean || s.errors == 0);
        let best = candidates().map(|s| s.rps).fold(0.0, f64::max);
        candidates()
            .filter(|s| s.rps >= best * (1.0 - KNEE_WITHIN))
            .map(|s| s.limit)
            .min()
    }

    /// Takes one settled window of the current step (`window`) and the
    /// step so far since it settled (`step`).
    pub fn window(&mut self, window: &Sample, step: &Sample) -> Next {
        let latency = if window.completed >= P99_SAMPLES {
            window.p99_ms
        } else {
            window.p50_ms
        };
        let now = (ok_rate(window), latency, window.completed);
        let steady = self.last.is_some_and(|(r, p, n)| {
            let noise = 2.0 / (n.min(now.2).max(1) as f64).sqrt();
            close(r, now.0, STEADY_RATE.max(noise)) && close(p, now.1, STEADY_P99)
        });
        self.last = Some(now);
        // Errors end the step at once: past them there is nothing to learn.
        if !(steady || step.failed > 0 || step.span >= self.plan.hold_max) {
            return Next::Hold;
        }
        self.last = None;
        let best_before = self.steps.iter().map(|s| s.rps).fold(0.0, f64::max);
        let result = SweepStep {
            limit: self.current(),
            rps: (ok_rate(step) * 10.0).round() / 10.0,
            p50_ms: (step.p50_ms * 1000.0).round() / 1000.0,
            p99_ms: (step.p99_ms * 1000.0).round() / 1000.0,
            errors: step.failed,
            completed: step.completed,
            secs: (step.span.as_secs_f64() * 10.0).round() / 10.0,
            steady,
        };
        self.steps.push(result);
        let done = |why: String, s: &Sweeper| Next::Done {
            knee: s.knee(),
            why,
        };
        if result.errors > 0 {
            return done(format!("errors appeared at limit {}", result.limit), self);
        }
        if self.steps.len() >= 2 && result.rps < best_before * (1.0 + GROWTH) {
            return done(
                format!(
                    "throughput stopped growing at limit {} ({:.0}/s, best {:.0}/s)",
                    result.limit, result.rps, best_before
                ),
                self,
            );
        }
        self.index += 1;
        if self.index >= self.limits.len() {
            return done(format!("reached the top, limit {}", self.plan.max), self);
        }
        Next::Step(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a window at `limit` measures against `slots` slots of 50 ms.
    fn server(slots: u64, limit: u64, secs: f64) -> Sample {
        let latency = 50.0 * (limit as f64 / slots as f64).max(1.0);
        let rate = limit as f64 / latency * 1000.0;
        Sample {
            span: Duration::from_secs_f64(secs),
            limit,
            peak_in_flight: limit,
            completed: (rate * secs) as u64,
            p50_ms: latency,
            mean_ms: latency,
            p99_ms: latency * 1.2,
            ..Sample::default()
        }
    }

    fn sweep(slots: u64, min: u64, max: u64) -> (Sweeper, Next) {
        let mut s = Sweeper::new(Plan {
            min,
            max,
            hold_max: HOLD_MAX,
        });
        for _ in 0..1000 {
            let l = s.current();
            let next = s.window(&server(slots, l, 0.5), &server(slots, l, 1.0));
            if let Next::Done { .. } = next {
                return (s, next);
            }
        }
        panic!("the sweep never ended");
    }

    #[test]
    fn limits_step_geometrically_to_the_top() {
        assert_eq!(limits(1, 64), [1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(limits(10, 100), [10, 20, 40, 80, 100]);
        assert_eq!(limits(5, 5), [5]);
        assert_eq!(parse_range("1..512"), Ok((1, 512)));
        for bad in ["0..10", "10..5", "x..5", "5", "1..99999999"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finds_the_knee_at_the_servers_capacity() {
        for slots in [16, 32, 100] {
            let (s, next) = sweep(slots, 1, 1024);
            let Next::Done {
                knee: Some(knee),
                why,
            } = next
            else {
                panic!("{next:?}");
            };
            // Within one step of the true knee.
            assert!(
                knee >= slots && (knee as f64) < slots as f64 * FACTOR,
                "{slots} slots: knee {knee} ({why}) {:?}",
                s.steps()
            );
            assert!(why.contains("stopped growing"), "{why}");
            // Every step was held until steady, and stepped by ×2.
            assert!(s.steps().iter().all(|st| st.steady));
        }
    }

    #[test]
    fn errors_end_the_sweep() {
        let mut s = Sweeper::new(Plan {
            min: 4,
            max: 64,
            hold_max: HOLD_MAX,
        });
        assert_eq!(
            s.window(&server(32, 4, 0.5), &server(32, 4, 0.5)),
            Next::Hold
        );
        assert_eq!(
            s.window(&server(32, 4, 0.5), &server(32, 4, 1.0)),
            Next::Step(8)
        );
        let mut bad = server(32, 8, 0.5);
        bad.failed = 3;
        match s.window(&bad, &bad) {
            Next::Done { knee, why } => {
                assert!(why.contains("errors"), "{why}");
                assert_eq!(knee, Some(4), "a limit with errors is no knee");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.steps()[1].errors, 3);
    }

    #[test]
    fn an_unsteady_step_ends_at_its_longest_hold() {
        let mut s = Sweeper::new(Plan {
            min: 1,
            max: 8,
            hold_max: Duration::from_secs(3),
        });
        let mut wobbly = server(32, 1, 0.5);
        // Enough responses that their p99 is judged.
        wobbly.completed = 400;
        for i in 0..5 {
            wobbly.p99_ms = if i % 2 == 0 { 50.0 } else { 150.0 };
            assert_eq!(
                s.window(&wobbly, &server(32, 1, 0.5 * (i + 1) as f64)),
                Next::Hold
            );
        }
        wobbly.p99_ms = 150.0;
        assert_eq!(s.window(&wobbly, &server(32, 1, 3.0)), Next::Step(2));
        assert!(!s.steps()[0].steady);
        // In a small window the p99 is the slowest answer: medians decide.
        let mut small = server(32, 2, 0.5);
        small.p99_ms = 500.0;
        assert_eq!(s.window(&small, &server(32, 2, 0.5)), Next::Hold);
        small.p99_ms = 60.0;
        assert_eq!(s.window(&small, &server(32, 2, 1.0)), Next::Step(4));
    }
}
