//! The dashboard's model: what the user has selected, sorted, frozen or
//! opened, and how each key press turns into an engine [`Command`].
//!
//! No terminal here and no engine state: `update` takes an [`Action`] and the
//! latest [`Snapshot`], and returns at most one command to send.

use std::time::{Duration, Instant};

use crate::engine::pace::clamp_rate;
use crate::engine::{Command, MAX_CONCURRENCY, Model, TableOrder};
use crate::format;
use crate::keymap::{self, Action};
use crate::snapshot::{RunState, Snapshot, TaskView};

/// How long a notice ("limit 50 → 100") stays in the footer.
const NOTICE_FOR: Duration = Duration::from_secs(3);

/// Which popup is open, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Popup {
    /// None: the dashboard alone.
    #[default]
    None,
    /// The key help.
    Help,
    /// Details of the selected request.
    Details,
}

/// The dashboard's state between frames.
#[derive(Debug, Default)]
pub struct App {
    /// The selected request's id, kept while rows move around it.
    pub selected: Option<u64>,
    /// Row of the selection, used when the selected request has ended.
    selected_row: usize,
    /// Order of the in-flight table (the engine is told, and picks its rows by it).
    pub sort: TableOrder,
    /// The latency histogram shows the last seconds rather than the whole run.
    pub recent_latency: bool,
    /// The snapshot on screen while frozen.
    pub frozen: Option<Snapshot>,
    /// The open popup.
    pub popup: Popup,
    /// `q` was pressed: the run is stopping and the dashboard leaves when it ends.
    pub quitting: bool,
    /// Leave the dashboard now.
    pub exit: bool,
    /// Ctrl-C ended the run.
    pub interrupted: bool,
    /// A limit asked for and not yet seen in a snapshot, so quick presses add up.
    pending_limit: Option<u64>,
    /// A rate asked for and not yet seen in a snapshot, likewise.
    pending_rate: Option<f64>,
    /// `--adaptive` switched and not yet seen in a snapshot, likewise.
    pending_adaptive: Option<bool>,
    /// Demo switches asked for and not yet seen in a snapshot (model,
    /// blocking, offload), so quick presses add up like the limit's.
    pending_demo: Option<(Model, bool, bool)>,
    /// A short message about the last action, and when it was set.
    notice: Option<(String, Instant)>,
    /// The run's extra request headers as they may be shown (secrets
    /// redacted), for the details popup.
    pub headers: Vec<String>,
    /// The latency histogram was on screen in the last frame (set by the
    /// drawing code), so `l` only speaks of a histogram that can be seen.
    pub histogram_shown: bool,
    /// A `c` sent and not yet settled: the request's id, and the run's
    /// cancelled count when it was sent. The notice says what happened once
    /// the request has left the table.
    pending_cancel: Option<(u64, u64)>,
    /// The run's thresholds, marked on screen when breached.
    pub thresholds: crate::thresholds::Rules,
    /// `fetchtop replay`: where the player is ("▶ 2× 00:12 / 01:03"). The
    /// footer and help then offer the replay's keys.
    pub replay: Option<String>,
}

impl App {
    /// The snapshot to draw: the frozen one, or the live one.
    pub fn view<'a>(&'a self, live: &'a Snapshot) -> &'a Snapshot {
        self.frozen.as_ref().unwrap_or(live)
    }

    /// The notice to show, if it is still fresh.
    pub fn notice(&self) -> Option<&str> {
        self.notice
            .as_ref()
            .filter(|(_, at)| at.elapsed() < NOTICE_FOR)
            .map(|(text, _)| text.as_str())
    }

    fn say(&mut self, text: String) {
        self.notice = Some((text, Instant::now()));
    }

    /// The in-flight rows in the chosen order. The engine sends them in
    /// it; sorting again covers the frame before it has applied a new
    /// order, a frozen snapshot and a replay's recorded rows.
    pub fn rows<'a>(&self, snap: &'a Snapshot) -> Vec<&'a TaskView> {
        let mut rows: Vec<&TaskView> = snap.tasks.iter().collect();
        rows.sort_by(|a, b| self.sort.compare(a, b));
        rows
    }

    /// What `q` says while the run winds down.
    pub fn stopping_text() -> String {
        format!(
            "stopping: waiting for in-flight requests ({} again to abort)",
            keymap::key_for(Action::Quit)
        )
    }

    fn sort_by(&mut self, order: TableOrder) -> Command {
        self.sort = order;
        self.say(format!(
            "sorted by {}{}",
            order.by.as_str(),
            if order.reversed { ", reversed" } else { "" }
        ));
        Command::SetTableOrder(order)
    }

    /// Settles the selection on a row that exists and returns its index.
    /// When the selected request has ended, the row where it was is selected.
    pub fn resolve_selection(&mut self, rows: &[&TaskView]) -> Option<usize> {
        if rows.is_empty() {
            self.selected = None;
            return None;
        }
        let row = self
            .selected
            .and_then(|id| rows.iter().position(|t| t.id == id))
            .unwrap_or(self.selected_row.min(rows.len() - 1));
        self.selected = Some(rows[row].id);
        self.selected_row = row;
        Some(row)
    }

    fn move_selection(&mut self, snap: &Snapshot, down: bool) {
        let view = self.frozen.take();
        let rows_snap = view.as_ref().unwrap_or(snap);
        let rows = self.rows(rows_snap);
        if let Some(row) = self.resolve_selection(&rows) {
            let next = if down {
                (row + 1).min(rows.len() - 1)
            } else {
                row.saturating_sub(1)
            };
            self.selected = Some(rows[next].id);
            self.selected_row = next;
        }
        self.frozen = view;
    }

    fn set_limit(&mut self, live: &Snapshot, f: impl Fn(u64) -> u64) -> Command {
        let base = self.pending_limit.unwrap_or(live.limit);
        let limit = f(base).min(MAX_CONCURRENCY);
        self.pending_limit = Some(limit);
        // The engine turns --adaptive off when the limit is set by hand.
        let adaptive = self.pending_adaptive.unwrap_or(live.adaptive.on);
        if adaptive {
            self.pending_adaptive = Some(false);
        }
        self.say(format!(
            "limit {base} → {limit}{}{}",
            if limit == 0 { " (paused)" } else { "" },
            if adaptive { " (adaptive off)" } else { "" }
        ));
        Command::SetConcurrency(limit)
    }

    /// Halves or doubles the rate; without `--rate` there is nothing to change.
    fn set_rate(&mut self, live: &Snapshot, factor: f64) -> Option<Command> {
        let Some(base) = self.pending_rate.or(live.rate_limit) else {
            self.say("no rate to change: start with --rate N".into());
            return None;
        };
        let rate = clamp_rate(base * factor);
        self.pending_rate = Some(rate);
        self.say(format!(
            "rate {} → {}",
            format::pace(base),
            format::pace(rate)
        ));
        Some(Command::SetRate(rate))
    }

    /// Switches `--adaptive`; presses add up like the limit's.
    fn toggle_adaptive(&mut self, live: &Snapshot) -> Command {
        let on = !self.pending_adaptive.unwrap_or(live.adaptive.on);
        self.pending_adaptive = Some(on);
        // The limit is the engine's again: a pending hand-set one is moot.
        self.pending_limit = None;
        self.say(if on {
            format!(
                "adaptive on: the engine moves the limit ({} take it back)",
                keymap::keys_for(&[
                    Action::LimitUp,
                    Action::LimitDown,
                    Action::LimitDouble,
                    Action::LimitHalve
                ])
            )
        } else {
            format!("adaptive off: the limit stays at {}", live.limit)
        });
        Command::SetAdaptive(on)
    }

    /// Forgets a pending limit or rate once the engine reports it, and
    /// says what became of a cancel; call per snapshot.
    pub fn observe(&mut self, live: &Snapshot) {
        if self.pending_adaptive == Some(live.adaptive.on) {
            self.pending_adaptive = None;
        }
        if let Some((id, cancelled_before)) = self.pending_cancel
            && !live.tasks.iter().any(|t| t.id == id)
        {
            self.pending_cancel = None;
            // The request left the table: by the cancel (the run's cancelled
            // count went up) or by ending on its own first.
            self.say(if live.counts.cancelled > cancelled_before {
                format!("cancelled #{id}: recorded as cancelled")
            } else {
                format!("#{id} had already ended: nothing was cancelled")
            });
        }
        if self.pending_limit == Some(live.limit) {
            self.pending_limit = None;
        }
        if self.pending_rate.is_some() && self.pending_rate == live.rate_limit {
            self.pending_rate = None;
        }
        if let Some(d) = &live.executor.demo
            && self.pending_demo == Some((live.executor.model, d.blocking, d.offload))
        {
            self.pending_demo = None;
        }
        if self.quitting && live.state == RunState::Finished {
            self.exit = true;
        }
    }

    /// The demo-only switches: blocking work, spawn_blocking, the model.
    fn demo_switch(&mut self, action: Action, live: &Snapshot) -> Option<Command> {
        let Some(demo) = &live.executor.demo else {
            self.say(format!(
                "{} work in demo runs (fetchtop demo)",
                keymap::keys_for(&[Action::Blocking, Action::Offload, Action::NextModel])
            ));
            return None;
        };
        let (model, blocking, offload) =
            self.pending_demo
                .unwrap_or((live.executor.model, demo.blocking, demo.offload));
        let (text, cmd, now) = match action {
            Action::Blocking if blocking => (
                "blocking work off".to_string(),
                Command::SetBlocking(false),
                (model, false, offload),
            ),
            Action::Blocking => (
                format!("blocking work on: {}", demo.work),
                Command::SetBlocking(true),
                (model, true, offload),
            ),
            Action::Offload if offload => (
                "blocking work inside the task again".to_string(),
                Command::SetOffload(false),
                (model, blocking, false),
            ),
            Action::Offload => (
                "blocking work through spawn_blocking".to_string(),
                Command::SetOffload(true),
                (model, blocking, true),
            ),
            _ => {
                let next = model.next();
                (
                    format!(
                        "model {} → {} for items still to come",
                        model.as_str(),
                        next.as_str()
                    ),
                    Command::SetModel(next),
                    (next, blocking, offload),
                )
            }
        };
        self.pending_demo = Some(now);
        self.say(text);
        Some(cmd)
    }

    /// Applies a key's action; returns the command for the engine, if any.
    pub fn update(&mut self, action: Action, live: &Snapshot) -> Option<Command> {
        // While a popup is open, keys other than its own close it first.
        if self.popup != Popup::None
            && !matches!(
                action,
                Action::Up | Action::Down | Action::Quit | Action::Abort
            )
        {
            let reopen = !matches!(
                (self.popup, action),
                (Popup::Help, Action::Help)
                    | (Popup::Details, Action::Details)
                    | (_, Action::Close)
            );
            self.popup = Popup::None;
            if !reopen {
                return None;
            }
        }
        match action {
            Action::LimitUp => Some(self.set_limit(live, |l| l.saturating_add(1))),
            Action::LimitDown => Some(self.set_limit(live, |l| l.saturating_sub(1))),
            Action::LimitDouble => Some(self.set_limit(live, |l| l.saturating_mul(2).max(1))),
            Action::LimitHalve => Some(self.set_limit(live, |l| l / 2)),
            Action::RateHalve => self.set_rate(live, 0.5),
            Action::RateDouble => self.set_rate(live, 2.0),
            Action::Adaptive => Some(self.toggle_adaptive(live)),
            Action::PauseResume => {
                if live.paused {
                    self.say("resumed".into());
                    // Resuming a limit of 0 comes back at the engine's last limit.
                    self.pending_limit = None;
                    Some(Command::Resume)
                } else {
                    self.say("paused: in-flight requests carry on".into());
                    Some(Command::Pause)
                }
            }
            Action::CancelSelected => {
                let view = self.view(live);
                let rows = self.rows(view);
                let Some(id) = self
                    .selected
                    .filter(|id| rows.iter().any(|t| t.id == *id))
                    .or_else(|| rows.first().map(|t| t.id))
                else {
                    self.say("nothing in flight to cancel".into());
                    return None;
                };
                // Not "cancelled" yet: the request may end on its own
                // before the engine gets the command (observe says which).
                self.say(format!("cancelling #{id}…"));
                self.pending_cancel = Some((id, live.counts.cancelled));
                Some(Command::CancelTask(id))
            }
            Action::CancelAll => {
                self.say(format!("cancelled all {} in flight", live.in_flight));
                Some(Command::CancelAll)
            }
            Action::Details => {
                self.popup = Popup::Details;
                None
            }
            Action::Help => {
                self.popup = Popup::Help;
                None
            }
            Action::Close => None,
            Action::Freeze => {
                if self.frozen.take().is_some() {
                    self.say("live again".into());
                } else {
                    self.frozen = Some(live.clone());
                    self.say(format!(
                        "frozen: the run goes on ({} to unfreeze)",
                        keymap::key_for(Action::Freeze)
                    ));
                }
                None
            }
            Action::Sort => Some(self.sort_by(crate::ui::table::next_order(
                crate::ui::tasks::COLUMNS,
                self.sort,
            ))),
            Action::SortReverse => Some(self.sort_by(TableOrder {
                reversed: !self.sort.reversed,
                ..self.sort
            })),
            Action::LatencyWindow => {
                self.recent_latency = !self.recent_latency;
                let window = if self.recent_latency {
                    "last 5s"
                } else {
                    "whole run"
                };
                self.say(if self.histogram_shown {
                    format!("latency histogram: {window}")
                } else {
                    format!("latency histogram: {window} (not on screen: too small)")
                });
                None
            }
            Action::Blocking | Action::Offload | Action::NextModel => {
                self.demo_switch(action, live)
            }
            Action::Up => {
                self.move_selection(live, false);
                None
            }
            Action::Down => {
                self.move_selection(live, true);
                None
            }
            Action::Quit => {
                if live.state == RunState::Finished {
                    self.exit = true;
                    None
                } else if self.quitting {
                    self.say("aborting: cancelling in-flight requests".into());
                    Some(Command::Abort)
                } else {
                    self.quitting = true;
                    self.frozen = None;
                    self.say(App::stopping_text());
                    Some(Command::Stop)
                }
            }
            Action::Abort => {
                self.quitting = true;
                self.interrupted = true;
                self.frozen = None;
                if live.state == RunState::Finished {
                    self.exit = true;
                    None
                } else {
                    Some(Command::Abort)
                }
            }
            // The replay's own keys move its player (`ui::replay`), not a run.
            Action::PlayPause
            | Action::StepForward
            | Action::StepBack
            | Action::SeekForward
            | Action::SeekBack
            | Action::SeekStart
            | Action::SeekEnd
            | Action::Faster
            | Action::Slower => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::Phase;

    fn task(id: u64, age_ms: u64, bytes: u64) -> TaskView {
        TaskView {
            id,
            phase: if bytes > 0 {
                Phase::Receiving
            } else {
                Phase::Waiting
            },
            url: Arc::from(format!("http://x/{id}").as_str()),
            age: Duration::from_millis(age_ms),
            bytes,
        }
    }

    fn snap() -> Snapshot {
        Snapshot {
            limit: 10,
            in_flight: 3,
            tasks: vec![task(1, 300, 0), task(2, 200, 50), task(3, 100, 10)],
            ..Snapshot::default()
        }
    }

    #[test]
    fn rate_keys_halve_and_double_only_with_a_rate() {
        let mut app = App::default();
        let none = snap();
        assert_eq!(app.update(Action::RateDouble, &none), None);
        assert!(app.notice().is_some_and(|n| n.contains("--rate")));

        let live = Snapshot {
            rate_limit: Some(10.0),
            ..snap()
        };
        assert_eq!(
            app.update(Action::RateDouble, &live),
            Some(Command::SetRate(20.0))
        );
        // Presses add up before the engine reports the new rate.
        assert_eq!(
            app.update(Action::RateDouble, &live),
            Some(Command::SetRate(40.0))
        );
        assert_eq!(app.notice(), Some("rate 20.0/s → 40.0/s"));
        app.observe(&Snapshot {
            rate_limit: Some(40.0),
            ..snap()
        });
        let live = Snapshot {
            rate_limit: Some(40.0),
            ..snap()
        };
        assert_eq!(
            app.update(Action::RateHalve, &live),
            Some(Command::SetRate(20.0))
        );
        // Halving stops at the lowest rate instead of reaching 0.
        let slow = Snapshot {
            rate_limit: Some(0.01),
            ..snap()
        };
        let mut app = App::default();
        assert_eq!(
            app.update(Action::RateHalve, &slow),
            Some(Command::SetRate(0.01))
        );
    }

    #[test]
    fn a_switches_adaptive_and_a_limit_key_takes_the_limit_back() {
        let mut app = App::default();
        let mut s = snap();
        assert_eq!(
            app.update(Action::Adaptive, &s),
            Some(Command::SetAdaptive(true))
        );
        assert!(app.notice().is_some_and(|n| n.starts_with("adaptive on")));
        assert_eq!(
            app.update(Action::Adaptive, &s),
            Some(Command::SetAdaptive(false)),
            "a second press before the engine answers undoes the first"
        );
        s.adaptive.on = true;
        app.observe(&s);
        let mut app = App::default();
        assert_eq!(
            app.update(Action::LimitDouble, &s),
            Some(Command::SetConcurrency(20))
        );
        assert!(
            app.notice().is_some_and(|n| n.ends_with("(adaptive off)")),
            "{:?}",
            app.notice()
        );
        assert_eq!(
            app.update(Action::Adaptive, &s),
            Some(Command::SetAdaptive(true)),
            "the engine will have turned it off: a turns it on again"
        );
    }

    #[test]
    fn limit_keys_add_up_before_the_engine_answers() {
        let mut app = App::default();
        let s = snap();
        assert_eq!(
            app.update(Action::LimitUp, &s),
            Some(Command::SetConcurrency(11))
        );
        assert_eq!(
            app.update(Action::LimitUp, &s),
            Some(Command::SetConcurrency(12))
        );
        assert_eq!(
            app.update(Action::LimitDouble, &s),
            Some(Command::SetConcurrency(24))
        );
        let mut seen = s.clone();
        seen.limit = 24;
        app.observe(&seen);
        assert_eq!(
            app.update(Action::LimitHalve, &seen),
            Some(Command::SetConcurrency(12))
        );
        let mut zero = s.clone();
        zero.limit = 1;
        app.observe(&zero);
        app.pending_limit = None;
        assert_eq!(
            app.update(Action::LimitDown, &zero),
            Some(Command::SetConcurrency(0))
        );
        assert_eq!(
            app.update(Action::LimitDown, &zero),
            Some(Command::SetConcurrency(0))
        );
        assert_eq!(
            app.update(Action::LimitDouble, &zero),
            Some(Command::SetConcurrency(1))
        );
        assert!(app.notice().is_some_and(|n| n.contains("0 → 1")));
    }

    #[test]
    fn selection_follows_the_request_and_cancel_targets_it() {
        let mut app = App::default();
        let s = snap();
        app.update(Action::Down, &s);
        app.update(Action::Down, &s);
        assert_eq!(app.selected, Some(3), "oldest first: 1, 2, 3");
        assert_eq!(
            app.update(Action::CancelSelected, &s),
            Some(Command::CancelTask(3))
        );
        app.update(Action::Up, &s);
        assert_eq!(app.selected, Some(2));
        // Request 2 ends: the selection stays on its row.
        let mut later = s.clone();
        later.tasks.retain(|t| t.id != 2);
        let rows = app.rows(&later);
        assert_eq!(app.resolve_selection(&rows), Some(1));
        assert_eq!(app.selected, Some(3));
        // The table's columns in turn after age: bytes, then url, then id.
        let sent = app.update(Action::Sort, &later);
        assert_eq!(app.sort.by, crate::engine::SortBy::Bytes);
        assert_eq!(
            sent,
            Some(Command::SetTableOrder(app.sort)),
            "the engine is told"
        );
        let order: Vec<u64> = app.rows(&s).iter().map(|t| t.id).collect();
        assert_eq!(order, vec![2, 3, 1]);
        app.update(Action::SortReverse, &later);
        let order: Vec<u64> = app.rows(&s).iter().map(|t| t.id).collect();
        assert_eq!(order, vec![1, 3, 2]);
        assert_eq!(app.notice(), Some("sorted by bytes, reversed"));
    }

    #[test]
    fn quit_stops_then_aborts_and_leaves_when_finished() {
        let mut app = App::default();
        let s = snap();
        assert_eq!(app.update(Action::Quit, &s), Some(Command::Stop));
        assert!(app.quitting && !app.exit);
        assert_eq!(app.update(Action::Quit, &s), Some(Command::Abort));
        let mut done = s.clone();
        done.state = RunState::Finished;
        app.observe(&done);
        assert!(app.exit);

        let mut app = App::default();
        app.observe(&done);
        assert!(!app.exit, "a finished run stays on screen until q");
        assert_eq!(app.update(Action::Quit, &done), None);
        assert!(app.exit);
    }

    #[test]
    fn freeze_pause_and_popups() {
        let mut app = App::default();
        let s = snap();
        app.update(Action::Freeze, &s);
        let mut moved = s.clone();
        moved.in_flight = 99;
        assert_eq!(app.view(&moved).in_flight, 3);
        app.update(Action::Freeze, &moved);
        assert_eq!(app.view(&moved).in_flight, 99);

        assert_eq!(app.update(Action::PauseResume, &s), Some(Command::Pause));
        let mut paused = s.clone();
        paused.paused = true;
        assert_eq!(
            app.update(Action::PauseResume, &paused),
            Some(Command::Resume)
        );

        app.update(Action::Help, &s);
        assert_eq!(app.popup, Popup::Help);
        assert_eq!(app.update(Action::Help, &s), None);
        assert_eq!(app.popup, Popup::None);
        app.update(Action::Details, &s);
        // Another key closes the popup and still acts.
        assert_eq!(app.update(Action::CancelAll, &s), Some(Command::CancelAll));
        assert_eq!(app.popup, Popup::None);
    }

    #[test]
    fn demo_switches_send_commands_only_in_demos() {
        use crate::snapshot::DemoSwitches;
        let mut app = App::default();
        let mut s = snap();
        assert_eq!(app.update(Action::Blocking, &s), None);
        assert!(app.notice().is_some_and(|n| n.contains("demo")));
        s.executor.demo = Some(DemoSwitches::default());
        assert_eq!(
            app.update(Action::Blocking, &s),
            Some(Command::SetBlocking(true))
        );
        assert_eq!(
            app.update(Action::Blocking, &s),
            Some(Command::SetBlocking(false)),
            "a second press before the engine answers undoes the first"
        );
        assert_eq!(
            app.update(Action::Blocking, &s),
            Some(Command::SetBlocking(true))
        );
        assert_eq!(
            app.update(Action::Offload, &s),
            Some(Command::SetOffload(true))
        );
        assert_eq!(
            app.update(Action::NextModel, &s),
            Some(Command::SetModel(Model::Threads))
        );
        assert_eq!(
            app.update(Action::NextModel, &s),
            Some(Command::SetModel(Model::Sequential)),
            "quick presses cycle on"
        );
        s.executor.demo = Some(DemoSwitches {
            blocking: true,
            offload: true,
            ..DemoSwitches::default()
        });
        s.executor.model = Model::Sequential;
        app.observe(&s);
        assert_eq!(
            app.update(Action::Blocking, &s),
            Some(Command::SetBlocking(false))
        );
        assert_eq!(
            app.update(Action::Offload, &s),
            Some(Command::SetOffload(false))
        );
        assert_eq!(
            app.update(Action::NextModel, &s),
            Some(Command::SetModel(Model::Async))
        );
    }

    #[test]
    fn cancel_says_what_became_of_the_request() {
        let mut app = App::default();
        let s = snap();
        app.update(Action::Down, &s);
        app.update(Action::Down, &s);
        assert_eq!(
            app.update(Action::CancelSelected, &s),
            Some(Command::CancelTask(3))
        );
        // Nothing is confirmed yet.
        assert_eq!(app.notice(), Some("cancelling #3…"));
        app.observe(&s);
        assert_eq!(app.notice(), Some("cancelling #3…"));
        // #3 ended on its own before the command arrived.
        let mut ended = snap();
        ended.tasks.retain(|t| t.id != 3);
        ended.counts.done += 1;
        app.observe(&ended);
        assert_eq!(
            app.notice(),
            Some("#3 had already ended: nothing was cancelled")
        );
        // #2 is cancelled for real.
        let mut app = App::default();
        app.update(Action::Down, &s);
        assert_eq!(
            app.update(Action::CancelSelected, &s),
            Some(Command::CancelTask(2))
        );
        let mut cancelled = snap();
        cancelled.tasks.retain(|t| t.id != 2);
        cancelled.counts.cancelled += 1;
        app.observe(&cancelled);
        assert_eq!(app.notice(), Some("cancelled #2: recorded as cancelled"));
    }

    #[test]
    fn the_latency_key_speaks_only_of_a_histogram_on_screen() {
        let mut app = App {
            histogram_shown: true,
            ..App::default()
        };
        app.update(Action::LatencyWindow, &snap());
        assert_eq!(app.notice(), Some("latency histogram: last 5s"));
        app.histogram_shown = false;
        app.update(Action::LatencyWindow, &snap());
        let said = app.notice().unwrap_or_default();
        assert!(said.contains("not on screen"), "{said}");
    }
}
