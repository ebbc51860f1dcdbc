//! The one table of keys, in one group per component of the screen
//! (`ui::component`). The event handler, the footer, the help popup and
//! the panels' titles all read it, so what the screen says a key does is
//! what it does. Labels are made from the key codes themselves; a pair
//! (`+`/`-`) is one binding with two sides.

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
    /// Sort the in-flight table by its next sortable column.
    Sort,
    /// Turn the in-flight table's order round.
    SortReverse,
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

/// A key: its code, and the modifiers that must be held.
pub type Key = (KeyCode, KeyModifiers);

/// One side of a binding: an action and the keys that ask for it, the
/// first of them the one the screen shows.
#[derive(Clone, Copy, Debug)]
pub struct Side {
    /// What the keys do.
    pub action: Action,
    /// The keys; the others after the first are aliases.
    pub keys: &'static [Key],
}

/// One row of the key table: one action, or a pair of opposites that share
/// a row (`+`/`-`, `,`/`.`).
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// One side, or two.
    pub sides: &'static [Side],
    /// Short text for the footer and the panels' titles.
    pub short: &'static str,
    /// Full text for the help popup.
    pub help: &'static str,
    /// Offered in the footer (the help lists every binding).
    pub in_footer: bool,
}

impl Binding {
    /// The binding's keys, every side's.
    pub fn keys(&self) -> impl Iterator<Item = (Action, Key)> + '_ {
        self.sides
            .iter()
            .flat_map(|s| s.keys.iter().map(move |k| (s.action, *k)))
    }

    /// The action a key stands for here, if any.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        // Shift is implied by the character itself ('C', '+', '?'), and terminals
        // disagree on whether they report it, so it is ignored unless a binding
        // asks for Control.
        let mods = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        self.keys()
            .find(|&(_, (code, m))| code == key.code && (m & !KeyModifiers::SHIFT) == mods)
            .map(|(action, _)| action)
    }

    /// Whether this binding holds `action`.
    pub fn has(&self, action: Action) -> bool {
        self.sides.iter().any(|s| s.action == action)
    }

    /// How the screen writes its keys: each side's first key, `+/-`.
    pub fn label(&self) -> String {
        self.sides
            .iter()
            .filter_map(|s| s.keys.first())
            .map(|&k| key_label(k))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The other keys, as the help lists them beside the label: `h, F1`
    /// for one side, `=/_` for a pair; empty when there are none.
    pub fn aliases(&self) -> String {
        let per_side: Vec<Vec<String>> = self.sides.iter().map(side_aliases).collect();
        match per_side.as_slice() {
            [one] => one.join(", "),
            many => {
                let depth = many.iter().map(Vec::len).min().unwrap_or(0);
                (0..depth)
                    .map(|i| {
                        many.iter()
                            .map(|a| a[i].as_str())
                            .collect::<Vec<_>>()
                            .join("/")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
    }

    /// The label and the aliases, for the help: `p, Space`.
    pub fn full_label(&self) -> String {
        match self.aliases() {
            a if a.is_empty() => self.label(),
            a => format!("{}, {a}", self.label()),
        }
    }
}

/// A side's keys after the first, as labels, each once (`C` and Shift-`C`
/// are one key on screen).
fn side_aliases(side: &Side) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for &k in side.keys {
        let l = key_label(k);
        if !seen.contains(&l) {
            seen.push(l);
        }
    }
    seen.into_iter().skip(1).collect()
}

/// How a key is written on screen.
pub fn key_label((code, mods): Key) -> String {
    let name = match code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
            c.to_ascii_uppercase().to_string()
        }
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    };
    if mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{name}")
    } else {
        name
    }
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

/// A character key with nothing held.
const fn ch(c: char) -> Key {
    (KeyCode::Char(c), NONE)
}

/// The run's own controls, shown in the header: limit, rate, adaptive, pause.
pub const RUN: &[Binding] = &[
    Binding {
        sides: &[
            Side {
                action: Action::LimitUp,
                keys: &[ch('+'), ch('=')],
            },
            Side {
                action: Action::LimitDown,
                keys: &[ch('-'), ch('_')],
            },
        ],
        short: "limit",
        help: "raise / lower the concurrency limit by 1 (0 pauses)",
        in_footer: true,
    },
    Binding {
        sides: &[
            Side {
                action: Action::LimitDouble,
                keys: &[ch(']')],
            },
            Side {
                action: Action::LimitHalve,
                keys: &[ch('[')],
            },
        ],
        short: "×2 ÷2",
        help: "double / halve the concurrency limit",
        in_footer: true,
    },
    Binding {
        sides: &[
            Side {
                action: Action::RateHalve,
                keys: &[ch('r')],
            },
            Side {
                action: Action::RateDouble,
                keys: &[ch('R'), (KeyCode::Char('R'), SHIFT)],
            },
        ],
        short: "rate ÷2 ×2",
        help: "halve / double the --rate (requests started per second)",
        in_footer: false,
    },
    Binding {
        sides: &[Side {
            action: Action::Adaptive,
            keys: &[ch('a')],
        }],
        short: "adaptive",
        help: "adaptive limit: the engine moves it (any limit key turns it off)",
        in_footer: false,
    },
    Binding {
        sides: &[Side {
            action: Action::PauseResume,
            keys: &[ch('p'), ch(' ')],
        }],
        short: "pause",
        help: "pause admission / resume (in-flight requests carry on)",
        in_footer: true,
    },
];

/// The in-flight table's keys.
pub const TABLE: &[Binding] = &[
    Binding {
        sides: &[
            Side {
                action: Action::Up,
                keys: &[(KeyCode::Up, NONE), ch('k')],
            },
            Side {
                action: Action::Down,
                keys: &[(KeyCode::Down, NONE), ch('j')],
            },
        ],
        short: "select",
        help: "move the selection in the in-flight table",
        in_footer: false,
    },
    Binding {
        sides: &[Side {
            action: Action::CancelSelected,
            keys: &[ch('c')],
        }],
        short: "cancel",
        help: "cancel the selected request",
        in_footer: true,
    },
    Binding {
        sides: &[Side {
            action: Action::CancelAll,
            keys: &[ch('C'), (KeyCode::Char('C'), SHIFT)],
        }],
        short: "cancel all",
        help: "cancel every request in flight (the run goes on)",
        in_footer: true,
    },
    Binding {
        sides: &[Side {
            action: Action::Details,
            keys: &[(KeyCode::Enter, NONE)],
        }],
        short: "details",
        help: "details of the selected request",
        in_footer: true,
    },
    Binding {
        sides: &[
            Side {
                action: Action::Sort,
                keys: &[ch('s')],
            },
            Side {
                action: Action::SortReverse,
                keys: &[ch('S'), (KeyCode::Char('S'), SHIFT)],
            },
        ],
        short: "sort",
        help: "sort the in-flight table by its next column / the other way round",
        in_footer: true,
    },
];

/// The latency panel's key.
pub const LATENCY: &[Binding] = &[Binding {
    sides: &[Side {
        action: Action::LatencyWindow,
        keys: &[ch('l')],
    }],
    short: "latency",
    help: "latency histogram: whole run / last 5 seconds",
    in_footer: true,
}];

/// The executor panel's keys, for demo runs: they show in its title.
pub const EXECUTOR: &[Binding] = &[
    Binding {
        sides: &[Side {
            action: Action::Blocking,
            keys: &[ch('b')],
        }],
        short: "blocking",
        help: "demo: blocking work in some tasks on / off (see the heartbeat)",
        in_footer: false,
    },
    Binding {
        sides: &[Side {
            action: Action::Offload,
            keys: &[ch('y')],
        }],
        short: "spawn_blocking",
        help: "demo: blocking work through spawn_blocking / inside the task",
        in_footer: false,
    },
    Binding {
        sides: &[Side {
            action: Action::NextModel,
            keys: &[ch('m')],
        }],
        short: "model",
        help: "demo: next model (async, threads, sequential) for items to come",
        in_footer: false,
    },
];

/// The screen's own keys: freeze, help, quit.
pub const SCREEN: &[Binding] = &[
    Binding {
        sides: &[Side {
            action: Action::Freeze,
            keys: &[ch('f')],
        }],
        short: "freeze",
        help: "freeze the display (the run goes on underneath)",
        in_footer: true,
    },
    Binding {
        sides: &[Side {
            action: Action::Help,
            keys: &[ch('?'), ch('h'), (KeyCode::F(1), NONE)],
        }],
        short: "help",
        help: "show or hide this help",
        in_footer: true,
    },
    Binding {
        sides: &[Side {
            action: Action::Quit,
            keys: &[ch('q')],
        }],
        short: "quit",
        help: "stop admitting, quit once in-flight requests end (q again aborts)",
        in_footer: true,
    },
    Binding {
        sides: &[Side {
            action: Action::Abort,
            keys: &[(KeyCode::Char('c'), KeyModifiers::CONTROL)],
        }],
        short: "abort",
        help: "cancel everything in flight and quit now",
        in_footer: false,
    },
];

/// A popup's keys (the help, a request's details).
pub const POPUP: &[Binding] = &[Binding {
    sides: &[Side {
        action: Action::Close,
        keys: &[(KeyCode::Esc, NONE)],
    }],
    short: "close",
    help: "close a popup",
    in_footer: false,
}];

/// The keys of `fetchtop replay`'s player; the view's own keys (those that
/// do not change a run) follow them.
pub const PLAYER: &[Binding] = &[
    Binding {
        sides: &[Side {
            action: Action::PlayPause,
            keys: &[ch(' '), ch('p')],
        }],
        short: "play/pause",
        help: "replay: play / pause",
        in_footer: true,
    },
    Binding {
        sides: &[
            Side {
                action: Action::StepBack,
                keys: &[ch(',')],
            },
            Side {
                action: Action::StepForward,
                keys: &[ch('.')],
            },
        ],
        short: "step",
        help: "replay: one frame back / on (pauses)",
        in_footer: true,
    },
    Binding {
        sides: &[
            Side {
                action: Action::SeekBack,
                keys: &[(KeyCode::Left, NONE)],
            },
            Side {
                action: Action::SeekForward,
                keys: &[(KeyCode::Right, NONE)],
            },
        ],
        short: "seek 10s",
        help: "replay: 10 seconds back / on",
        in_footer: true,
    },
    Binding {
        sides: &[
            Side {
                action: Action::SeekStart,
                keys: &[(KeyCode::Home, NONE), ch('g')],
            },
            Side {
                action: Action::SeekEnd,
                keys: &[(KeyCode::End, NONE), ch('G'), (KeyCode::Char('G'), SHIFT)],
            },
        ],
        short: "start end",
        help: "replay: to the start / the end",
        in_footer: false,
    },
    Binding {
        sides: &[
            Side {
                action: Action::Slower,
                keys: &[ch('<')],
            },
            Side {
                action: Action::Faster,
                keys: &[ch('>')],
            },
        ],
        short: "speed",
        help: "replay: half / twice the speed (1/8× to 64×)",
        in_footer: true,
    },
    Binding {
        sides: &[Side {
            action: Action::Quit,
            keys: &[ch('q'), (KeyCode::Char('c'), KeyModifiers::CONTROL)],
        }],
        short: "quit",
        help: "quit the replay",
        in_footer: true,
    },
];

/// Every group, for the checks that span them all.
pub const GROUPS: &[&[Binding]] = &[RUN, TABLE, LATENCY, EXECUTOR, SCREEN, POPUP, PLAYER];

/// The first binding that holds `action`.
pub fn binding_of(action: Action) -> Option<&'static Binding> {
    GROUPS.iter().flat_map(|g| g.iter()).find(|b| b.has(action))
}

/// The keys for `action` as the screen writes them, from the first group
/// that binds it: `f`, or `+` for one side of a pair. Texts that name a
/// key ("f to unfreeze") take it from here, never type it.
pub fn key_for(action: Action) -> String {
    GROUPS
        .iter()
        .flat_map(|g| g.iter())
        .flat_map(|b| b.sides.iter())
        .find(|s| s.action == action)
        .and_then(|s| s.keys.first())
        .map_or_else(|| "?".into(), |&k| key_label(k))
}

/// The keys of several actions, as a list: `b, y and m`.
pub fn keys_for(actions: &[Action]) -> String {
    let labels: Vec<String> = actions.iter().map(|&a| key_for(a)).collect();
    match labels.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn bindings() -> impl Iterator<Item = &'static Binding> {
        GROUPS.iter().flat_map(|g| g.iter())
    }

    fn find(action: Action) -> &'static Binding {
        bindings()
            .find(|b| b.has(action))
            .unwrap_or_else(|| panic!("{action:?} is not bound"))
    }

    #[test]
    fn labels_are_made_from_the_key_codes() {
        assert_eq!(find(Action::LimitUp).label(), "+/-");
        assert_eq!(find(Action::LimitUp).full_label(), "+/-, =/_");
        assert_eq!(find(Action::Up).full_label(), "↑/↓, k/j");
        assert_eq!(find(Action::PauseResume).full_label(), "p, Space");
        assert_eq!(find(Action::Help).full_label(), "?, h, F1");
        assert_eq!(find(Action::Abort).label(), "Ctrl-C");
        assert_eq!(
            find(Action::CancelAll).full_label(),
            "C",
            "Shift-C is C on screen"
        );
        assert_eq!(find(Action::SeekStart).full_label(), "Home/End, g/G");
        assert_eq!(key_for(Action::Freeze), "f");
        assert_eq!(key_for(Action::LimitHalve), "[");
        assert_eq!(
            keys_for(&[Action::Blocking, Action::Offload, Action::NextModel]),
            "b, y and m"
        );
    }

    #[test]
    fn a_pair_is_one_binding_and_each_side_its_own_action() {
        let b = find(Action::LimitUp);
        let key = |c| KeyEvent::new(KeyCode::Char(c), NONE);
        assert_eq!(b.action_for(key('+')), Some(Action::LimitUp));
        assert_eq!(b.action_for(key('_')), Some(Action::LimitDown));
        assert_eq!(b.action_for(key('x')), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(find(Action::Abort).action_for(ctrl_c), Some(Action::Abort));
        assert_eq!(find(Action::CancelSelected).action_for(ctrl_c), None);
        let shift_c = KeyEvent::new(KeyCode::Char('C'), SHIFT);
        assert_eq!(
            find(Action::CancelAll).action_for(shift_c),
            Some(Action::CancelAll)
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_a_group() {
        for group in GROUPS {
            let mut seen = HashSet::new();
            for b in *group {
                for (_, k) in b.keys() {
                    assert!(seen.insert(k), "{k:?} bound twice");
                }
            }
        }
    }

    #[test]
    fn every_binding_has_words_for_the_footer_and_the_help() {
        for b in bindings() {
            assert!(!b.sides.is_empty() && b.sides.len() <= 2, "{:?}", b.sides);
            assert!(!b.short.is_empty() && !b.help.is_empty(), "{:?}", b.sides);
            assert!(b.sides.iter().all(|s| !s.keys.is_empty()));
        }
    }
}
