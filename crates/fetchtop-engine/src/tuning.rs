//! The control plane's side of `--adaptive` and `--sweep`: cuts the run
//! into windows, hands each to the pure [`Controller`] or [`Sweeper`], and
//! keeps what they did for the snapshot.
//!
//! A window lasts at least [`WINDOW`] and at least a few latencies, so it
//! holds requests sent under the limit being judged; the window after a
//! change is let go unjudged, while the requests sent under the old limit
//! drain.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::adaptive::{Bounds, Controller, Decision, MIN_SAMPLES};
use crate::snapshot::{AdaptiveView, LimitChange, RunState, Snapshot, SweepView};
use crate::sweep::{Next, Plan, Sweeper};
use crate::window::Window;

/// Shortest window judged.
pub const WINDOW: Duration = Duration::from_millis(500);
/// A window lasts at least this many of the last window's median latencies.
const LATENCIES_PER_WINDOW: f64 = 4.0;
/// Changes kept for readers; older ones are counted and let go.
pub const MAX_CHANGES: usize = 4096;

/// `--adaptive` in a running engine.
pub(crate) struct AdaptiveRun {
    on: bool,
    bounds: Bounds,
    controller: Controller,
    window: Option<Window>,
    /// Let the next window go unjudged (a change was just made).
    settle: bool,
    last_p50_ms: f64,
    changes: Arc<VecDeque<LimitChange>>,
    dropped: u64,
}

impl AdaptiveRun {
    pub fn new(on: bool, bounds: Bounds) -> AdaptiveRun {
        AdaptiveRun {
            on,
            bounds,
            controller: Controller::new(bounds),
            window: None,
            settle: false,
            last_p50_ms: 0.0,
            changes: Arc::new(VecDeque::new()),
            dropped: 0,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Switches the controller; switched on again, it starts afresh
    /// (learning the server anew).
    pub fn set_on(&mut self, on: bool) {
        if on && !self.on {
            self.controller = Controller::new(self.bounds);
            self.window = None;
            self.settle = false;
        }
        tracing::info!(on, "adaptive concurrency");
        self.on = on;
    }

    /// Judges the window when it is due; the new limit, if any.
    pub fn tick(&mut self, snap: &Snapshot, latency: &Histogram<u64>) -> Option<Decision> {
        if !self.on || snap.state != RunState::Running {
            self.window = None;
            return None;
        }
        let Some(w) = &mut self.window else {
            self.window = Some(Window::open(snap, latency));
            return None;
        };
        w.observe(snap);
        let due = WINDOW.max(Duration::from_secs_f64(
            (self.last_p50_ms * LATENCIES_PER_WINDOW / 1000.0).min(60.0),
        ));
        // Too few answers yet: the window stays open (checked without
        // touching the histogram, since this runs at every snapshot).
        if w.age(snap) < due || w.completed_since(snap) < MIN_SAMPLES {
            return None;
        }
        let sample = w.close(snap, latency);
        self.window = Some(Window::open(snap, latency));
        if std::mem::take(&mut self.settle) {
            return None;
        }
        self.last_p50_ms = sample.mean_ms;
        let d = self.controller.decide(&sample)?;
        self.settle = d.settle;
        Some(d)
    }

    /// Notes a change of the limit.
    pub fn record(&mut self, at: Duration, from: u64, to: u64, why: String) {
        let changes = Arc::make_mut(&mut self.changes);
        if changes.len() == MAX_CHANGES {
            changes.pop_front();
            self.dropped += 1;
        }
        changes.push_back(LimitChange {
            t_s: (at.as_secs_f64() * 1000.0).round() / 1000.0,
            from,
            to,
            why,
        });
    }

    pub fn view(&self) -> AdaptiveView {
        AdaptiveView {
            on: self.on,
            max: self.bounds.max,
            target_p99_ms: self.bounds.target_p99_ms,
            changes: Arc::clone(&self.changes),
            dropped: self.dropped,
        }
    }
}

/// What the control plane is to do for a `--sweep`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SweepAction {
    /// Set the limit to this.
    pub limit: u64,
    /// The sweep is over: stop admitting.
    pub stop: bool,
}

/// Where a step is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum StepPhase {
    /// The first window after a change, let go while the old limit drains.
    Settling,
    /// Measured.
    Measuring,
}

/// `--sweep` in a running engine: windows for the pure [`Sweeper`].
pub(crate) struct SweepRun {
    sweeper: Sweeper,
    started: bool,
    phase: StepPhase,
    window: Option<Window>,
    step: Option<Window>,
    last_mean_ms: f64,
    view: SweepView,
}

impl SweepRun {
    pub fn new(plan: Plan) -> SweepRun {
        let sweeper = Sweeper::new(plan);
        let view = SweepView {
            min: plan.min,
            max: plan.max,
            current: Some(sweeper.current()),
            ..SweepView::default()
        };
        SweepRun {
            sweeper,
            started: false,
            phase: StepPhase::Settling,
            window: None,
            step: None,
            last_mean_ms: 0.0,
            view,
        }
    }

    /// The sweep is still stepping.
    pub fn running(&self) -> bool {
        self.view.ended.is_none()
    }

    /// Ends the sweep early (a limit set by hand, the run stopping): the
    /// steps stay, but no knee was found (throughput had not flattened).
    pub fn cancel(&mut self, why: &str) {
        if self.running() {
            tracing::info!(why, "sweep ended early");
            self.view.ended = Some(why.to_string());
            self.view.current = None;
        }
    }

    pub fn view(&self) -> SweepView {
        self.view.clone()
    }

    fn due(&self) -> Duration {
        WINDOW.max(Duration::from_secs_f64(
            (self.last_mean_ms * LATENCIES_PER_WINDOW / 1000.0).min(60.0),
        ))
    }

    /// Moves the sweep on when a window is due.
    pub fn tick(&mut self, snap: &Snapshot, latency: &Histogram<u64>) -> Option<SweepAction> {
        if !self.running() || snap.state != RunState::Running {
            return None;
        }
        if !self.started {
            self.started = true;
            self.window = Some(Window::open(snap, latency));
            let first = self.sweeper.current();
            return (snap.limit != first).then_some(SweepAction {
                limit: first,
                stop: false,
            });
        }
        let due = self.due();
        let w = self.window.as_mut()?;
        w.observe(snap);
        if let Some(s) = &mut self.step {
            s.observe(snap);
        }
        if w.age(snap) < due
            || (w.completed_since(snap) < MIN_SAMPLES && w.age(snap) < self.sweeper.plan().hold_max)
        {
            return None;
        }
        let sample = w.close(snap, latency);
        self.window = Some(Window::open(snap, latency));
        if sample.completed > 0 {
            self.last_mean_ms = sample.mean_ms;
        }
        if self.phase == StepPhase::Settling {
            self.phase = StepPhase::Measuring;
            self.step = Some(Window::open(snap, latency));
            return None;
        }
        let step = self.step.as_ref()?.close(snap, latency);
        let next = self.sweeper.window(&sample, &step);
        self.view.steps = Arc::new(self.sweeper.steps().to_vec());
        match next {
            Next::Hold => None,
            Next::Step(limit) => {
                tracing::info!(limit, "sweep: next step");
                self.phase = StepPhase::Settling;
                self.step = None;
                self.view.current = Some(limit);
                Some(SweepAction { limit, stop: false })
            }
            Next::Done { knee, why } => {
                tracing::info!(knee, why = %why, "sweep ended");
                self.view.knee = knee;
                self.view.ended = Some(why);
                self.view.current = None;
                Some(SweepAction {
                    limit: knee.unwrap_or(snap.limit),
                    stop: true,
                })
            }
        }
    }
}
