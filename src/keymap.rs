//! The one table of keys. The event handler, the footer and the help popup
//! all read it, so what the screen says a key does is what it does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something the user can ask of the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Raise the concurrency limit by one.
    LimitUp,
    /// Lower the concurrency limit by one.
    LimitDown,
    /// Double the concurrency limit.
    LimitDouble,
    /// Halve the concurrency limit.
    LimitHalve,
    /// Halve the `--rate`.
    RateHalve,
    /// Double the `--rate`.
    RateDouble,
    /// Let the engine move the limit itself (`--adaptive`), or stop it.
    Adaptive,
    /// Pause admission, or resume it.
    PauseResume,
    /// Cancel the selected request.
    CancelSelected,
    /// Cancel every request in flight.
    CancelAll,
    /// Show the selected request in full.
    Details,
    /// Freeze the display; the run goes on.
    Freeze,
    /// Change the order of the in-flight table.
    Sort,
    /// Switch the latency histogram between the whole run and the last seconds.
    LatencyWindow,
    /// Demos: turn the blocking work on or off.
    Blocking,
    /// Demos: move the blocking work to `spawn_blocking`, or back into the task.
    Offload,
    /// Demos: run the items still to come under the next execution model.
    NextModel,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// Open or close the help.
    Help,
    /// Close a popup.
    Close,
    /// Stop admitting and quit when in-flight requests end; again to abort.
    Quit,
    /// Cancel everything and quit now.
    Abort,
    /// Replay: play or pause.
    PlayPause,
    /// Replay: one frame on (pauses).
    StepForward,
    /// Replay: one frame back (pauses).
    StepBack,
    /// Replay: 10 seconds on.
    SeekForward,
    /// Replay: 10 seconds back.
    SeekBack,
    /// Replay: back to the start.
    SeekStart,
    /// Replay: to the end.
    SeekEnd,
    /// Replay: play twice as fast.
    Faster,
    /// Replay: play half as fast.
    Slower,
}

impl Action {
    /// The action changes the run (its limit, rate, admission, requests or
    /// demo switches): meaningless on a recording, so replay leaves it out.
    pub fn changes_run(self) -> bool {
        matches!(
            self,
            Action::LimitUp
                | Action::LimitDown
                | Action::LimitDouble
                | Action::LimitHalve
                | Action::RateHalve
                | Action::RateDouble
                | Action::Adaptive
                | Action::PauseResume
                | Action::CancelSelected
                | Action::CancelAll
                | Action::Blocking
                | Action::Offload
                | Action::NextModel
                // Pausing the replay is its freeze.
                | Action::Freeze
        )
    }
}

/// One row of the key table.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// What the keys do.
    pub action: Action,
    /// The keys, as (code, modifiers that must be held).
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the keys are written on screen.
    pub label: &'static str,
    /// Short text for the footer.
    pub short: &'static str,
    /// Full text for the help popup.
    pub help: &'static str,
    /// Shown in the footer (the help lists every binding).
    pub in_footer: bool,
    /// Other keys for the same action, as the help lists them beside the
    /// label (the footer has room for the label only).
    pub also: &'static str,
}

const NONE: KeyModifiers = KeyModifiers::NONE;

/// Every key the dashboard knows, in the order the help lists them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        action: Action::LimitUp,
        keys: &[(KeyCode::Char('+'), NONE), (KeyCode::Char('='), NONE)],
        label: "+/-",
        short: "limit",
        help: "raise / lower the concurrency limit by 1 (0 pauses)",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::LimitDown,
        keys: &[(KeyCode::Char('-'), NONE), (KeyCode::Char('_'), NONE)],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::LimitDouble,
        keys: &[(KeyCode::Char(']'), NONE)],
        label: "]/[",
        short: "×2 ÷2",
        help: "double / halve the concurrency limit",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::LimitHalve,
        keys: &[(KeyCode::Char('['), NONE)],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::RateHalve,
        keys: &[(KeyCode::Char('r'), NONE)],
        label: "r/R",
        short: "rate ÷2 ×2",
        help: "halve / double the --rate (requests started per second)",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::RateDouble,
        keys: &[
            (KeyCode::Char('R'), NONE),
            (KeyCode::Char('R'), KeyModifiers::SHIFT),
        ],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::Adaptive,
        keys: &[(KeyCode::Char('a'), NONE)],
        label: "a",
        short: "adaptive",
        help: "adaptive limit: the engine moves it (any limit key turns it off)",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::PauseResume,
        keys: &[(KeyCode::Char('p'), NONE), (KeyCode::Char(' '), NONE)],
        label: "p",
        short: "pause",
        help: "pause admission / resume (in-flight requests carry on)",
        in_footer: true,
        also: "Space",
    },
    Binding {
        action: Action::Up,
        keys: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        label: "↑/↓ j/k",
        short: "select",
        help: "move the selection in the in-flight table",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::Down,
        keys: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::CancelSelected,
        keys: &[(KeyCode::Char('c'), NONE)],
        label: "c",
        short: "cancel",
        help: "cancel the selected request",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::CancelAll,
        keys: &[
            (KeyCode::Char('C'), NONE),
            (KeyCode::Char('C'), KeyModifiers::SHIFT),
        ],
        label: "C",
        short: "cancel all",
        help: "cancel every request in flight (the run goes on)",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::Details,
        keys: &[(KeyCode::Enter, NONE)],
        label: "Enter",
        short: "details",
        help: "details of the selected request",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::Sort,
        keys: &[(KeyCode::Char('s'), NONE)],
        label: "s",
        short: "sort",
        help: "sort the in-flight table: age, bytes, phase, id",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::LatencyWindow,
        keys: &[(KeyCode::Char('l'), NONE)],
        label: "l",
        short: "latency",
        help: "latency histogram: whole run / last 5 seconds",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::Freeze,
        keys: &[(KeyCode::Char('f'), NONE)],
        label: "f",
        short: "freeze",
        help: "freeze the display (the run goes on underneath)",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::Blocking,
        keys: &[(KeyCode::Char('b'), NONE)],
        label: "b",
        short: "blocking",
        help: "demo: blocking work in some tasks on / off (see the heartbeat)",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::Offload,
        keys: &[(KeyCode::Char('y'), NONE)],
        label: "y",
        short: "spawn_blocking",
        help: "demo: blocking work through spawn_blocking / inside the task",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::NextModel,
        keys: &[(KeyCode::Char('m'), NONE)],
        label: "m",
        short: "model",
        help: "demo: next model (async, threads, sequential) for items to come",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::Help,
        keys: &[
            (KeyCode::Char('?'), NONE),
            (KeyCode::Char('h'), NONE),
            (KeyCode::F(1), NONE),
        ],
        label: "?",
        short: "help",
        help: "show or hide this help",
        in_footer: true,
        also: "h, F1",
    },
    Binding {
        action: Action::Close,
        keys: &[(KeyCode::Esc, NONE)],
        label: "Esc",
        short: "close",
        help: "close a popup",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::Quit,
        keys: &[(KeyCode::Char('q'), NONE)],
        label: "q",
        short: "quit",
        help: "stop admitting, quit once in-flight requests end (q again aborts)",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::Abort,
        keys: &[(KeyCode::Char('c'), KeyModifiers::CONTROL)],
        label: "Ctrl-C",
        short: "abort",
        help: "cancel everything in flight and quit now",
        in_footer: false,
        also: "",
    },
];

/// The keys of `fetchtop replay`, before the dashboard's own (those that
/// do not change a run) in its footer and help.
pub const REPLAY_BINDINGS: &[Binding] = &[
    Binding {
        action: Action::PlayPause,
        keys: &[(KeyCode::Char(' '), NONE), (KeyCode::Char('p'), NONE)],
        label: "Space",
        short: "play/pause",
        help: "replay: play / pause",
        in_footer: true,
        also: "p",
    },
    Binding {
        action: Action::StepBack,
        keys: &[(KeyCode::Char(','), NONE)],
        label: ",/.",
        short: "step",
        help: "replay: one frame back / on (pauses)",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::StepForward,
        keys: &[(KeyCode::Char('.'), NONE)],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::SeekBack,
        keys: &[(KeyCode::Left, NONE)],
        label: "←/→",
        short: "seek 10s",
        help: "replay: 10 seconds back / on",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::SeekForward,
        keys: &[(KeyCode::Right, NONE)],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::SeekStart,
        keys: &[(KeyCode::Home, NONE), (KeyCode::Char('g'), NONE)],
        label: "Home/End",
        short: "start end",
        help: "replay: to the start / the end",
        in_footer: false,
        also: "g/G",
    },
    Binding {
        action: Action::SeekEnd,
        keys: &[
            (KeyCode::End, NONE),
            (KeyCode::Char('G'), NONE),
            (KeyCode::Char('G'), KeyModifiers::SHIFT),
        ],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
    Binding {
        action: Action::Slower,
        keys: &[(KeyCode::Char('<'), NONE)],
        label: "</>",
        short: "speed",
        help: "replay: half / twice the speed (1/8× to 64×)",
        in_footer: true,
        also: "",
    },
    Binding {
        action: Action::Faster,
        keys: &[(KeyCode::Char('>'), NONE)],
        label: "",
        short: "",
        help: "",
        in_footer: false,
        also: "",
    },
];

/// The dashboard's bindings that replay keeps: those that only change the view.
fn replay_table() -> impl Iterator<Item = &'static Binding> {
    REPLAY_BINDINGS
        .iter()
        .chain(BINDINGS.iter().filter(|b| !b.action.changes_run()))
}

fn find(table: impl Iterator<Item = &'static Binding>, key: KeyEvent) -> Option<Action> {
    // Shift is implied by the character itself ('C', '+', '?'), and terminals
    // disagree on whether they report it, so it is ignored unless a binding
    // asks for Control.
    let mods = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
    let mut table = table;
    table.find_map(|b| {
        b.keys
            .iter()
            .any(|&(code, m)| code == key.code && (m & !KeyModifiers::SHIFT) == mods)
            .then_some(b.action)
    })
}

/// The action a key press stands for in `fetchtop replay`, if any.
pub fn replay_action_for(key: KeyEvent) -> Option<Action> {
    find(replay_table(), key)
}

/// The footer's entries in `fetchtop replay`.
pub fn replay_footer() -> impl Iterator<Item = (&'static str, &'static str)> {
    replay_table()
        .filter(|b| b.in_footer)
        .map(|b| (b.label, b.short))
}

/// The help popup's entries in `fetchtop replay`.
pub fn replay_help() -> impl Iterator<Item = (String, &'static str)> {
    replay_table()
        .filter(|b| !b.label.is_empty())
        .map(|b| match b.action {
            // No run to stop or abort: both keys just leave.
            Action::Quit | Action::Abort => (b.label.to_string(), "quit the replay"),
            _ => labelled(b),
        })
}

fn labelled(b: &Binding) -> (String, &'static str) {
    match b.also {
        "" => (b.label.to_string(), b.help),
        also => (format!("{}, {also}", b.label), b.help),
    }
}

/// The action a key press stands for, if any.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    find(BINDINGS.iter(), key)
}

/// The footer's entries: (keys, short text).
pub fn footer() -> impl Iterator<Item = (&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.in_footer)
        .map(|b| (b.label, b.short))
}

/// The help popup's entries: (keys with their aliases, what they do);
/// pairs share one row.
pub fn help() -> impl Iterator<Item = (String, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| !b.label.is_empty())
        .map(labelled)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use crossterm::event::KeyEvent;

    use super::*;

    fn key(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn the_documented_keys_do_what_the_issue_says() {
        let cases = [
            (KeyCode::Char('+'), NONE, Action::LimitUp),
            (KeyCode::Char('-'), NONE, Action::LimitDown),
            (KeyCode::Char(']'), NONE, Action::LimitDouble),
            (KeyCode::Char('['), NONE, Action::LimitHalve),
            (KeyCode::Char('p'), NONE, Action::PauseResume),
            (KeyCode::Char('c'), NONE, Action::CancelSelected),
            (KeyCode::Char('C'), KeyModifiers::SHIFT, Action::CancelAll),
            (KeyCode::Char('C'), NONE, Action::CancelAll),
            (KeyCode::Enter, NONE, Action::Details),
            (KeyCode::Char('f'), NONE, Action::Freeze),
            (KeyCode::Char('q'), NONE, Action::Quit),
            (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Abort),
            (KeyCode::Char('?'), KeyModifiers::SHIFT, Action::Help),
            (KeyCode::Up, NONE, Action::Up),
            (KeyCode::Char('j'), NONE, Action::Down),
            (KeyCode::Char('l'), NONE, Action::LatencyWindow),
            (KeyCode::Char('s'), NONE, Action::Sort),
            (KeyCode::Char('r'), NONE, Action::RateHalve),
            (KeyCode::Char('R'), NONE, Action::RateDouble),
            (KeyCode::Char('R'), KeyModifiers::SHIFT, Action::RateDouble),
            (KeyCode::Char('b'), NONE, Action::Blocking),
            (KeyCode::Char('y'), NONE, Action::Offload),
            (KeyCode::Char('m'), NONE, Action::NextModel),
            (KeyCode::Char('a'), NONE, Action::Adaptive),
        ];
        for (code, m, want) in cases {
            assert_eq!(action_for(key(code, m)), Some(want), "{code:?} {m:?}");
        }
        assert_eq!(action_for(key(KeyCode::Char('x'), NONE)), None);
        assert_eq!(
            action_for(key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = HashSet::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(seen.insert(*k), "{k:?} bound twice");
            }
        }
    }

    #[test]
    fn replay_keeps_the_view_keys_and_none_that_change_a_run() {
        let mut seen = HashSet::new();
        for b in replay_table() {
            assert!(!b.action.changes_run(), "{:?}", b.action);
            for k in b.keys {
                assert!(seen.insert(*k), "{k:?} bound twice in replay");
            }
        }
        let cases = [
            (KeyCode::Char(' '), Action::PlayPause),
            (KeyCode::Char('p'), Action::PlayPause),
            (KeyCode::Char('.'), Action::StepForward),
            (KeyCode::Right, Action::SeekForward),
            (KeyCode::Char('>'), Action::Faster),
            (KeyCode::Char('s'), Action::Sort),
            (KeyCode::Char('q'), Action::Quit),
        ];
        for (code, want) in cases {
            assert_eq!(replay_action_for(key(code, NONE)), Some(want), "{code:?}");
        }
        for code in [
            KeyCode::Char('+'),
            KeyCode::Char('c'),
            KeyCode::Char('C'),
            KeyCode::Char('m'),
        ] {
            assert_eq!(replay_action_for(key(code, NONE)), None, "{code:?}");
        }
        let footer: Vec<_> = replay_footer().collect();
        assert!(footer.contains(&("Space", "play/pause")) && footer.contains(&("q", "quit")));
        assert!(
            !footer.iter().any(|e| e.1 == "cancel" || e.1 == "limit"),
            "{footer:?}"
        );
        assert!(replay_help().any(|(k, _)| k == "Home/End, g/G"));
        assert!(replay_help().any(|(k, h)| k == "q" && h == "quit the replay"));
    }

    #[test]
    fn footer_and_help_come_from_the_table() {
        let footer: Vec<_> = footer().collect();
        assert!(footer.contains(&("q", "quit")));
        assert!(footer.contains(&("C", "cancel all")));
        let help: Vec<_> = help().collect();
        assert!(help.iter().any(|(k, _)| *k == "Ctrl-C"));
        assert!(help.len() > footer.len());
        // The aliases are listed, and each is a key that works.
        assert!(help.iter().any(|(k, _)| k == "p, Space"), "{help:?}");
        assert!(help.iter().any(|(k, _)| k == "?, h, F1"), "{help:?}");
        for (code, want) in [
            (KeyCode::Char(' '), Action::PauseResume),
            (KeyCode::Char('h'), Action::Help),
            (KeyCode::F(1), Action::Help),
        ] {
            assert_eq!(action_for(key(code, NONE)), Some(want));
        }
    }
}
