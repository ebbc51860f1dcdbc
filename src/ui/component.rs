//! The screen's components. Each panel or popup draws itself and declares
//! the keys it answers to ([`keymap`] holds one group per component) and
//! whether each does something now. The footer, the help popup and the
//! titles that name keys are all built from what the active components
//! offer, and a key press goes to the first of them that binds it: what
//! the screen offers is what is handled.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::Theme;
use crate::app::{App, Popup};
use crate::keymap::{self, Action, Binding};
use crate::snapshot::{RunState, Snapshot};

/// What a component draws from.
pub struct View<'a> {
    /// The snapshot on screen (the frozen one while frozen).
    pub snap: &'a Snapshot,
    /// The dashboard's state.
    pub app: &'a App,
    /// Colours and symbols.
    pub theme: &'a Theme,
    /// The display is frozen.
    pub frozen: bool,
}

/// A part of the screen.
pub trait Component {
    /// The keys it answers to, in the order the footer and the help list them.
    fn bindings(&self) -> &'static [Binding] {
        &[]
    }

    /// Whether `action`, one of its bindings', does something now.
    fn available(&self, _action: Action, _snap: &Snapshot, _app: &App) -> bool {
        true
    }

    /// The footer's words for one of its bindings now (pause reads
    /// "resume" while paused); the binding's own by default.
    fn short(&self, binding: &'static Binding, _snap: &Snapshot, _app: &App) -> &'static str {
        binding.short
    }

    /// Draws it into `area`. Components that only take keys (the replay's
    /// player, whose position the footer shows) draw nothing.
    fn draw(&self, _frame: &mut Frame, _area: Rect, _view: &View) {}
}

/// A binding as the screen offers it now.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    /// The binding.
    pub binding: &'static Binding,
    /// It does something now (the footer shows only these; the help shows
    /// the others dimmed).
    pub available: bool,
    /// The footer's words for it now.
    pub short: &'static str,
}

/// The run is going on and the user has not asked it to stop: the keys
/// that steer it mean something.
pub fn steerable(snap: &Snapshot, app: &App) -> bool {
    snap.state != RunState::Finished && !app.quitting
}

/// The run's controls (shown in the header).
pub struct RunControls;

impl Component for RunControls {
    fn bindings(&self) -> &'static [Binding] {
        keymap::RUN
    }

    fn available(&self, action: Action, snap: &Snapshot, app: &App) -> bool {
        match action {
            Action::RateHalve | Action::RateDouble => {
                steerable(snap, app) && snap.rate_limit.is_some()
            }
            _ => steerable(snap, app),
        }
    }

    fn short(&self, binding: &'static Binding, snap: &Snapshot, _app: &App) -> &'static str {
        if binding.has(Action::PauseResume) && snap.paused {
            "resume"
        } else {
            binding.short
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        super::header::render(frame, area, view.snap, view.frozen, view.theme);
    }
}

/// The screen itself: freeze, help, quit.
pub struct Screen;

impl Component for Screen {
    fn bindings(&self) -> &'static [Binding] {
        keymap::SCREEN
    }

    fn available(&self, action: Action, snap: &Snapshot, app: &App) -> bool {
        match action {
            // Unfreezing is always possible; freezing a finished run is moot.
            Action::Freeze => app.frozen.is_some() || steerable(snap, app),
            _ => true,
        }
    }
}

/// `fetchtop replay`'s player.
pub struct PlayerKeys;

impl Component for PlayerKeys {
    fn bindings(&self) -> &'static [Binding] {
        keymap::PLAYER
    }
}

/// The components that take keys, in the order a key is offered to them.
fn keyed(app: &App) -> Vec<&'static dyn Component> {
    let mut out: Vec<&'static dyn Component> = Vec::new();
    match app.popup {
        Popup::None => {}
        Popup::Help => out.push(&super::popup::HelpPopup),
        Popup::Details => out.push(&super::popup::DetailsPopup),
    }
    if app.replay.is_some() {
        out.push(&PlayerKeys);
    }
    out.extend([
        &RunControls as &'static dyn Component,
        &super::tasks::InFlight,
        &super::latency::Latency,
        &super::executor::KEYS,
        &Screen,
    ]);
    out
}

/// What the active components offer now, in their order. A binding whose
/// keys an earlier one has all taken is left out (the earlier one gets
/// them), and so, in a replay, is every key that would change a run.
pub fn offers(snap: &Snapshot, app: &App) -> Vec<Offer> {
    let mut taken = Vec::new();
    let mut out = Vec::new();
    for c in keyed(app) {
        for b in c.bindings() {
            if app.replay.is_some() && b.sides.iter().any(|s| s.action.changes_run()) {
                continue;
            }
            let keys: Vec<_> = b.keys().map(|(_, k)| k).collect();
            if keys.iter().all(|k| taken.contains(k)) {
                continue;
            }
            taken.extend(keys);
            let available = b.sides.iter().any(|s| c.available(s.action, snap, app));
            out.push(Offer {
                binding: b,
                available,
                short: c.short(b, snap, app),
            });
        }
    }
    out
}

/// The action a key press stands for on the screen as it is, if any.
/// Unavailable bindings still answer: the handler says why nothing happens.
pub fn dispatch(key: KeyEvent, snap: &Snapshot, app: &App) -> Option<Action> {
    offers(snap, app)
        .iter()
        .find_map(|o| o.binding.action_for(key))
}

/// The footer's entries: the available bindings meant for it.
pub fn footer(snap: &Snapshot, app: &App) -> Vec<Offer> {
    offers(snap, app)
        .into_iter()
        .filter(|o| o.available && o.binding.in_footer)
        .collect()
}

/// A key hint for a title: `b blocking · y spawn_blocking`, or with
/// `short` false only the keys, `b y m`.
pub fn hint(bindings: &[Binding], short: bool) -> String {
    bindings
        .iter()
        .map(|b| {
            if short {
                b.label()
            } else {
                format!("{} {}", b.label(), b.short)
            }
        })
        .collect::<Vec<_>>()
        .join(if short { " " } else { " · " })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crossterm::event::{KeyCode, KeyModifiers};

    use super::*;
    use crate::snapshot::{DemoSwitches, TaskView};

    fn busy() -> Snapshot {
        let task = |id| TaskView {
            id,
            phase: crate::engine::Phase::Waiting,
            url: std::sync::Arc::from("http://x/"),
            age: std::time::Duration::from_millis(10 * id),
            bytes: 0,
        };
        Snapshot {
            limit: 10,
            in_flight: 2,
            tasks: vec![task(1), task(2)],
            ..Snapshot::default()
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn footer_actions(snap: &Snapshot, app: &App) -> Vec<Action> {
        footer(snap, app)
            .iter()
            .flat_map(|o| o.binding.sides.iter().map(|s| s.action))
            .collect()
    }

    #[test]
    fn the_footer_offers_only_what_does_something_now() {
        let app = App::default();
        let live = busy();
        let offered = footer_actions(&live, &app);
        for a in [Action::CancelSelected, Action::CancelAll, Action::LimitUp] {
            assert!(offered.contains(&a), "{a:?} in {offered:?}");
        }
        let idle = Snapshot {
            limit: 10,
            ..Snapshot::default()
        };
        let offered = footer_actions(&idle, &app);
        assert!(
            !offered.contains(&Action::CancelSelected) && !offered.contains(&Action::CancelAll),
            "nothing in flight, nothing to cancel: {offered:?}"
        );
        let done = Snapshot {
            state: RunState::Finished,
            ..busy()
        };
        let paused = Snapshot {
            paused: true,
            ..busy()
        };
        let words: Vec<&str> = footer(&paused, &app).iter().map(|o| o.short).collect();
        assert!(
            words.contains(&"resume") && !words.contains(&"pause"),
            "{words:?}"
        );
        let offered = footer_actions(&done, &app);
        assert!(!offered.contains(&Action::LimitUp), "{offered:?}");
        assert!(offered.contains(&Action::Quit) && offered.contains(&Action::Help));
    }

    #[test]
    fn keys_go_to_the_first_component_that_binds_them() {
        let mut app = App::default();
        let s = busy();
        assert_eq!(
            dispatch(key(KeyCode::Char('p')), &s, &app),
            Some(Action::PauseResume)
        );
        assert_eq!(
            dispatch(key(KeyCode::Char('_')), &s, &app),
            Some(Action::LimitDown)
        );
        assert_eq!(
            dispatch(key(KeyCode::Esc), &s, &app),
            None,
            "no popup to close"
        );
        app.popup = Popup::Help;
        assert_eq!(dispatch(key(KeyCode::Esc), &s, &app), Some(Action::Close));
        app.popup = Popup::None;
        app.replay = Some("▶".into());
        // In a replay p plays and pauses, q quits the replay, and nothing
        // that would change a run is bound.
        assert_eq!(
            dispatch(key(KeyCode::Char('p')), &s, &app),
            Some(Action::PlayPause)
        );
        for c in ['+', 'c', 'C', 'm', 'b', 'f'] {
            assert_eq!(dispatch(key(KeyCode::Char(c)), &s, &app), None, "{c}");
        }
        assert_eq!(
            dispatch(key(KeyCode::Char('s')), &s, &app),
            Some(Action::Sort)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(dispatch(ctrl_c, &s, &app), Some(Action::Quit));
    }

    #[test]
    fn no_key_is_offered_twice() {
        let mut app = App::default();
        let mut s = busy();
        s.executor.demo = Some(DemoSwitches::default());
        for replay in [false, true] {
            app.replay = replay.then(|| "▶".to_string());
            let mut seen = HashSet::new();
            for o in offers(&s, &app) {
                for (_, k) in o.binding.keys() {
                    assert!(seen.insert(k), "{k:?} offered twice (replay: {replay})");
                }
            }
        }
    }

    #[test]
    fn the_demo_keys_are_offered_only_in_demos() {
        let app = App::default();
        let mut s = busy();
        let demo = |s: &Snapshot| {
            offers(s, &app)
                .iter()
                .any(|o| o.available && o.binding.has(Action::Blocking))
        };
        assert!(!demo(&s));
        s.executor.demo = Some(DemoSwitches::default());
        assert!(demo(&s));
    }
}
