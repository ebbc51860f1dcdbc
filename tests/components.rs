//! The dashboard built from components: what the footer offers is handled
//! and available, the help lists every binding, no key letter is typed
//! into UI code outside the key table, and whole screens with their key
//! presses run through the terminal loop into ratatui's `TestBackend`
//! (no pseudo-terminal), against a real engine on loopback.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{Run, config, items, screen_text as text, server};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fetchtop::app::{App, Popup};
use fetchtop::engine::SortBy;
use fetchtop::keymap::{self, Action, key_label};
use fetchtop::snapshot::{DemoSwitches, RunState, Snapshot, TaskView};
use fetchtop::ui::component::{dispatch, footer, offers};
use fetchtop::ui::dashboard::{DashboardOptions, run_loop};
use fetchtop::ui::events::{Script, Step};
use fetchtop::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const THEME: Theme = Theme {
    color: true,
    unicode: true,
};

fn screen(snap: &Snapshot, app: &mut App) -> String {
    let mut t = Terminal::new(TestBackend::new(160, 45)).unwrap();
    t.draw(|f| draw(f, app, snap, &THEME)).unwrap();
    text(t.backend().buffer())
}

fn task(id: u64) -> TaskView {
    TaskView {
        id,
        phase: fetchtop::engine::Phase::Receiving,
        url: std::sync::Arc::from(format!("http://127.0.0.1:8080/items/{id}").as_str()),
        age: Duration::from_millis(1000 - id),
        bytes: id * 10,
    }
}

/// Screens that offer different keys: busy, idle, finished, a demo, a
/// popup open, a replay.
fn situations() -> Vec<(&'static str, Snapshot, App)> {
    let busy = Snapshot {
        limit: 10,
        in_flight: 3,
        rate_limit: Some(20.0),
        tasks: vec![task(1), task(2), task(3)],
        ..Snapshot::default()
    };
    let idle = Snapshot {
        limit: 10,
        ..Snapshot::default()
    };
    let finished = Snapshot {
        state: RunState::Finished,
        ..busy.clone()
    };
    let mut demo = busy.clone();
    demo.executor.demo = Some(DemoSwitches::default());
    let mut popup = App::default();
    popup.popup = Popup::Details;
    let mut replay = App::default();
    replay.replay = Some("replay ⏸ 1× 00:01 / 00:10".into());
    vec![
        ("busy", busy.clone(), App::default()),
        ("idle", idle, App::default()),
        ("finished", finished, App::default()),
        ("demo", demo, App::default()),
        ("popup", busy.clone(), popup),
        ("replay", busy, replay),
    ]
}

#[test]
fn every_binding_in_the_footer_is_shown_available_and_handled() {
    for (name, snap, app) in situations() {
        let mut app = app;
        let drawn = screen(&snap, &mut app);
        let footer_line = drawn.lines().last().unwrap().to_string();
        let offered = footer(&snap, &app);
        assert!(offered.len() >= 3, "{name}: {}", offered.len());
        // The executor's title offers the demo keys only where they work.
        let mut demo_replay = snap.clone();
        demo_replay.executor.demo = Some(DemoSwitches::default());
        let titled = screen(&demo_replay, &mut app).contains("y spawn_blocking");
        assert_eq!(titled, app.replay.is_none(), "{name}");
        let all = offers(&snap, &app);
        for offer in &offered {
            let b = offer.binding;
            assert!(
                footer_line.contains(&format!("{} {}", b.label(), offer.short)),
                "{name}: {} {} not in {footer_line:?}",
                b.label(),
                offer.short
            );
            assert!(
                all.iter()
                    .any(|o| std::ptr::eq(o.binding, b) && o.available),
                "{name}: {} offered but not available",
                b.label()
            );
            for (action, (code, mods)) in b.keys() {
                let key = KeyEvent::new(code, mods);
                assert_eq!(
                    dispatch(key, &snap, &app),
                    Some(action),
                    "{name}: {code:?} goes elsewhere"
                );
                if app.replay.is_some() {
                    // The player's own keys move the player (tests/replay.rs).
                    continue;
                }
                // Pressing it does something: a command, or a change on screen.
                let mut after = App::default();
                after.popup = app.popup;
                let before = format!("{after:?}");
                let cmd = after.update(action, &snap);
                assert!(
                    cmd.is_some() || format!("{after:?}") != before,
                    "{name}: {action:?} did nothing"
                );
            }
        }
    }
}

#[test]
fn the_footer_offers_no_cancel_with_nothing_in_flight_and_no_limit_when_finished() {
    let s = situations();
    let actions = |i: usize| -> Vec<Action> {
        footer(&s[i].1, &s[i].2)
            .iter()
            .flat_map(|o| o.binding.sides.iter().map(|s| s.action))
            .collect()
    };
    assert!(actions(0).contains(&Action::CancelSelected));
    assert!(
        !actions(1).contains(&Action::CancelSelected) && !actions(1).contains(&Action::CancelAll)
    );
    assert!(!actions(2).contains(&Action::LimitUp) && !actions(2).contains(&Action::PauseResume));
    assert!(actions(5).contains(&Action::PlayPause) && !actions(5).contains(&Action::LimitUp));
}

#[test]
fn the_help_lists_every_binding_the_screen_offers() {
    for (name, snap, app) in situations() {
        let mut app = app;
        app.popup = Popup::Help;
        let drawn = screen(&snap, &mut app);
        let listed = offers(&snap, &app);
        assert!(listed.len() >= 8, "{name}: {}", listed.len());
        for o in listed {
            if o.binding.has(Action::Close) {
                // Said in the help's last line instead.
                assert!(drawn.contains("Esc or ? closes this help"), "{name}");
                continue;
            }
            assert!(
                drawn.contains(&format!("{:<8}", o.binding.full_label()))
                    && drawn.contains(o.binding.help),
                "{name}: the help lacks {} {}:\n{drawn}",
                o.binding.full_label(),
                o.binding.help
            );
        }
    }
}

/// The string literals of a Rust source, outside its tests, comments and
/// character literals. Good enough for this code base's own sources.
fn string_literals(src: &str) -> Vec<String> {
    let src = src.split("#[cfg(test)]").next().unwrap_or(src);
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal ('c', '\n') or a lifetime ('a): skip either.
                if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if b.get(i + 1) == Some(&b'\\') {
                    i += 4;
                } else {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    s.push(b[i] as char);
                    i += 1;
                }
                out.push(String::from_utf8_lossy(s.as_bytes()).into_owned());
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[test]
fn no_key_letter_appears_in_ui_code_outside_the_bindings() {
    // Every key's label, as the screen writes it.
    let mut labels: BTreeSet<String> = BTreeSet::new();
    for group in keymap::GROUPS {
        for b in *group {
            for (_, k) in b.keys() {
                labels.insert(key_label(k));
            }
        }
    }
    // "a" is the English article, and an arrow says "becomes" in
    // "limit 50 → 100": neither can be told from a key by its text alone.
    // A lone comma or full stop is punctuation ("a, b"), and a literal
    // without a letter ("-" for nothing, ", " to join) names no key.
    for word in ["a", "→", "←", ",", "."] {
        labels.remove(word);
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(format!("{root}/src/ui"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(format!("{root}/src/app.rs").into());
    // The hand-typed keys in one literal.
    let hints = |lit: &str| -> Vec<String> {
        // A key hint is a key beside words: a lone symbol ("r" for
        // retrying in ASCII, "s" for a plural) is not one.
        if !lit.chars().any(char::is_alphabetic) || !lit.trim().contains(' ') {
            return Vec::new();
        }
        let is_key = |t: &str| labels.contains(t);
        lit.split_whitespace()
            .map(|t| t.trim_matches(|c| matches!(c, '(' | ')' | ';' | ':' | '"')))
            .filter(|t| {
                let pieces: Vec<&str> = t.split('/').collect();
                is_key(t) || (pieces.len() > 1 && pieces.iter().all(|p| is_key(p)))
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(hints("frozen (f to unfreeze)"), vec!["f"]);
    assert_eq!(hints(" · rate {} (r/R)"), vec!["r/R"]);
    assert!(hints("a task is not yielding").is_empty());
    let mut found = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        for lit in string_literals(&src) {
            // The scanner reads bytes; put multi-byte text back together.
            let lit = String::from_utf8(lit.chars().map(|c| c as u8).collect()).unwrap_or(lit);
            for token in hints(&lit) {
                found.push(format!(
                    "{}: {token:?} in {lit:?}",
                    f.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "key letters typed by hand (take them from keymap::key_for or the component's bindings):\n{}",
        found.join("\n")
    );
    // The scan itself finds what it looks for.
    let planted = string_literals("let x = \"press q to quit\"; // \"c\"\n let y = 'c';");
    assert_eq!(planted, vec!["press q to quit".to_string()]);
}

fn key(c: char) -> Step {
    Step::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn pause(ms: u64) -> Step {
    Step::Run(Box::new(move || {
        std::thread::sleep(Duration::from_millis(ms))
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_loop_runs_a_real_engine_into_a_test_backend() {
    let srv = server(Duration::from_millis(20), 0.0).await;
    let mut cfg = config(8);
    cfg.duration = Some(Duration::from_secs(20));
    let run = Run::start(cfg, items(&srv, 1_000_000).await);
    let commands = run.handle.commands.clone();
    let snapshots = run.handle.snapshots.clone();
    let opts = DashboardOptions {
        fps: 30.0,
        theme: THEME,
        headers: vec![],
        stop_on: tokio_util::sync::CancellationToken::new(),
        thresholds: Default::default(),
    };
    let steps = vec![
        pause(600),
        Step::Capture,
        key(']'),
        pause(500),
        Step::Capture,
        key('s'),
        pause(500),
        Step::Capture,
        key('p'),
        pause(500),
        Step::Capture,
        key('q'),
    ];
    let ui = tokio::task::spawn_blocking(move || {
        let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
        let mut script = Script::new(steps);
        let stop = AtomicBool::new(false);
        let exit = run_loop(
            &mut terminal,
            &mut script,
            commands,
            snapshots,
            &opts,
            &stop,
        );
        (exit, script)
    });
    let (exit, script) = tokio::time::timeout(Duration::from_secs(30), ui)
        .await
        .expect("the loop ends after q")
        .unwrap();
    let exit = exit.expect("the loop ends cleanly");
    assert!(!exit.interrupted);
    let (last, _) = run.finish(Duration::from_secs(10)).await;
    assert_eq!(last.limit, 16, "] doubled the limit of 8");
    assert_eq!(last.table_order.by, SortBy::Bytes, "s told the engine");
    assert!(last.paused, "p paused admission");

    let screens: Vec<String> = script.screens.iter().map(text).collect();
    assert_eq!(screens.len(), 4);
    assert!(screens[0].contains("limit 8"), "{}", screens[0]);
    assert!(screens[0].contains("age ▼"), "{}", screens[0]);
    assert!(screens[1].contains("limit 8 → 16"), "{}", screens[1]);
    assert!(
        screens[2].contains("bytes ▼") && screens[2].contains("sort: bytes"),
        "{}",
        screens[2]
    );
    assert!(screens[3].contains("paused"), "{}", screens[3]);
    // q stopped the run (the loop leaves once the engine says it has
    // finished, so the last frame may predate q).
    assert_eq!(last.state, RunState::Finished);
    assert!(script.last_screen().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_loop_takes_the_player_keys_into_a_test_backend() {
    use fetchtop::recording::{Header, Recorder};
    use fetchtop::ui::player::Player;

    // A short real run, recorded.
    let srv = server(Duration::from_millis(10), 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.rec");
    // A threshold every frame breaches: the replay marks it as live did.
    let rules = fetchtop::thresholds::Rules {
        fail_if: vec![fetchtop::thresholds::parse("p50>0ms").unwrap()],
        ..Default::default()
    };
    let header = Header::new("test".into(), vec![], vec![]).with_thresholds(&rules);
    let mut recorder = Recorder::create(&path, &header).unwrap();
    let mut cfg = config(10);
    cfg.duration = Some(Duration::from_millis(1500));
    let run = Run::start(cfg, items(&srv, 1_000_000).await);
    let mut snapshots = run.handle.snapshots.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last = None;
    for _ in 0..40 {
        tick.tick().await;
        let snap = snapshots.borrow_and_update().clone();
        if last == Some(snap.elapsed) {
            continue;
        }
        last = Some(snap.elapsed);
        recorder.record(&snap).unwrap();
        if snap.state == RunState::Finished {
            break;
        }
    }
    recorder.finish().unwrap();
    run.finish(Duration::from_secs(10)).await;

    let steps = vec![
        Step::Capture,
        key('.'),
        key('.'),
        Step::Capture,
        key('>'),
        Step::Capture,
        key('s'),
        Step::Capture,
        Step::key(KeyCode::End),
        Step::Capture,
        // Keys that would change a run do nothing here, and q leaves.
        key('+'),
        key('q'),
    ];
    let (result, script, player) = tokio::task::spawn_blocking(move || {
        let mut player = Player::open(&path).unwrap();
        let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
        let mut script = Script::new(steps);
        let stop = AtomicBool::new(false);
        let r = fetchtop::ui::replay::run_loop(
            &mut terminal,
            &mut script,
            &mut player,
            &THEME,
            30.0,
            &stop,
        );
        (r, script, player)
    })
    .await
    .unwrap();
    result.expect("q ends the replay cleanly");
    let screens: Vec<String> = script.screens.iter().map(text).collect();
    assert_eq!(screens.len(), 5);
    let footer = |s: &str| s.lines().last().unwrap().to_string();
    assert!(
        footer(&screens[0]).contains("Space play/pause"),
        "{}",
        screens[0]
    );
    assert!(
        footer(&screens[0]).contains("replay ⏸ 1× 00:00"),
        "{}",
        footer(&screens[0])
    );
    assert!(
        !footer(&screens[0]).contains("cancel"),
        "{}",
        footer(&screens[0])
    );
    assert_ne!(screens[0], screens[1], "two steps on, another frame");
    assert!(
        footer(&screens[2]).contains("2×"),
        "{}",
        footer(&screens[2])
    );
    assert!(screens[3].contains("sort: bytes"), "{}", screens[3]);
    assert_eq!(
        player.index(),
        player.frames() - 1,
        "End went to the last frame"
    );
    assert!(screens[4].contains("finished"), "{}", screens[4]);
    assert!(
        screens[4].contains("threshold breached: p50>0ms"),
        "{}",
        screens[4]
    );
}
