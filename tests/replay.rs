//! `--record` and `fetchtop replay`: a real run against a demo server on
//! loopback, recorded; the recording read back gives the snapshots that
//! were recorded, and the dashboard drawn from the replay at chosen instants
//! is the dashboard the live run drew. A recording cut by SIGKILL replays
//! up to its last whole second. A full table costs a bounded number of
//! bytes a frame.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Run, config, items, screen_text as text, server};
use fetchtop::app::App;
use fetchtop::keymap::Action;
use fetchtop::recording::{Header, Reader, Recorder, TABLE_ROWS};
use fetchtop::snapshot::{RunState, Snapshot};
use fetchtop::ui::player::Player;
use fetchtop::ui::{Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

const THEME: Theme = Theme {
    color: true,
    unicode: true,
};

fn drawn(snap: &Snapshot, app: &mut App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    terminal.draw(|f| draw(f, app, snap, &THEME)).unwrap();
    terminal.backend().buffer().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_gives_the_recorded_snapshots_and_draws_the_live_screens() {
    let srv = server(Duration::from_millis(15), 0.05).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.rec");
    let mut recorder =
        Recorder::create(&path, &Header::new("test".into(), vec![], vec![])).unwrap();
    let mut cfg = config(40);
    cfg.duration = Some(Duration::from_millis(3300));
    let run = Run::start(cfg, items(&srv, 1_000_000).await);

    // What the live dashboard drew at each recorded snapshot, and the
    // snapshots themselves (as a frame keeps them).
    let mut snapshots = run.handle.snapshots.clone();
    let mut live: Vec<(Snapshot, Buffer)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    for _ in 0..100 {
        tick.tick().await;
        let snap = snapshots.borrow_and_update().clone();
        if live.last().is_some_and(|(l, _)| l.elapsed == snap.elapsed) {
            continue;
        }
        recorder.record(&snap).unwrap();
        let screen = drawn(&snap, &mut App::default());
        let done = snap.state == RunState::Finished;
        live.push((snap, screen));
        if done {
            break;
        }
    }
    assert_eq!(recorder.finish().unwrap(), live.len() as u64);
    run.finish(Duration::from_secs(10)).await;
    assert!(live.len() >= 10, "{} frames", live.len());
    assert!(
        live.iter()
            .any(|(s, _)| s.history.len() >= 3 && !s.tasks.is_empty())
    );

    // Read back: the same snapshots, rolling lists rebuilt, in order.
    let mut reader = Reader::open(&path).unwrap();
    let back: Vec<Snapshot> = reader.by_ref().collect();
    assert!(!reader.cut);
    assert_eq!(back.len(), live.len());
    for ((want, _), got) in live.iter().zip(&back) {
        // All but the lossless histogram, which a recording leaves out (the
        // bars and percentiles drawn from it are in every frame).
        assert!(got.latency_histogram.is_none());
        let mut want = Snapshot {
            latency_histogram: None,
            ..want.clone()
        };
        // The table to its first rows (all of them at 40 in flight).
        want.tasks.truncate(TABLE_ROWS);
        assert_eq!(&want, got, "at {:?}", want.elapsed);
    }

    // The player at chosen instants shows the frame recorded last before
    // them, drawn exactly as live.
    let mut player = Player::open(&path).unwrap();
    assert_eq!(player.frames(), live.len());
    let instants = [1.0, 2.45, 0.3, 3.0, 1.7];
    for t in instants {
        let at = Duration::from_secs_f64(t);
        player.seek(at).unwrap();
        let (want, screen) = live
            .iter()
            .rev()
            .find(|(s, _)| s.elapsed <= at)
            .unwrap_or(&live[0]);
        assert_eq!(player.snapshot().elapsed, want.elapsed, "at {t}");
        let replayed = drawn(player.snapshot(), &mut App::default());
        assert_eq!(
            &replayed,
            screen,
            "at {t}:\n{}\nlive:\n{}",
            text(&replayed),
            text(screen)
        );
    }

    // Steps move one frame; playing runs to the end and stops there.
    let i = player.index();
    player.step_back().unwrap();
    assert_eq!(player.index(), i - 1);
    player.step_forward();
    player.step_forward();
    assert_eq!(player.index(), i + 1);
    assert!(!player.playing);
    player.change_speed(true);
    player.play_pause().unwrap();
    player.advance(Duration::from_secs(30));
    assert!(!player.playing);
    assert_eq!(player.index(), live.len() - 1);
    assert_eq!(player.snapshot().state, RunState::Finished);

    // In replay mode the footer offers the player's keys and no run's.
    let mut app = App::default();
    assert!(fetchtop::ui::replay::act(&mut player, &mut app, Action::Sort).unwrap());
    assert!(!fetchtop::ui::replay::act(&mut player, &mut app, Action::Quit).unwrap());
    app.replay = Some(player.status(true));
    let screen = text(&drawn(player.snapshot(), &mut app));
    let footer = screen.lines().last().unwrap();
    assert!(
        footer.contains("Space play/pause") && footer.contains("replay ⏸ 2× 00:03"),
        "{footer}"
    );
    assert!(
        !footer.contains("cancel") && !footer.contains("limit"),
        "{footer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_cut_by_sigkill_replays_up_to_its_last_whole_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.rec");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args([
            "demo", "--no-tui", "-q", "-c", "20", "-z", "60s", "--record",
        ])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read the file while it is written, until it holds 3 seconds of the run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let seen = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no 3 s recorded in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Ok(reader) = Reader::open(&path) else {
            continue;
        };
        let seen: Vec<Snapshot> = reader.collect();
        if seen
            .last()
            .is_some_and(|s| s.elapsed >= Duration::from_secs(3))
        {
            break seen;
        }
    };
    // SIGKILL: nothing in the process gets to finish the file.
    child.start_kill().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the killed process is reaped")
        .unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    let mut reader = Reader::open(&path).unwrap();
    let frames: Vec<Snapshot> = reader.by_ref().collect();
    assert!(reader.cut, "a killed recording has no end");
    let last = frames.last().expect("frames before the kill").elapsed;
    // Every frame written before the kill is there: the run's first three
    // seconds at least, unchanged, in order, 5 a second.
    assert!(last >= Duration::from_secs(3), "last frame at {last:?}");
    assert!(
        frames.len() >= seen.len() && frames.len() >= 14,
        "{} frames",
        frames.len()
    );
    assert_eq!(&frames[..seen.len()], &seen[..]);
    for w in frames.windows(2) {
        assert!(w[0].elapsed < w[1].elapsed);
        assert!(w[1].elapsed - w[0].elapsed < Duration::from_millis(450));
    }
    assert!(frames.iter().all(|s| s.state != RunState::Finished));

    // The player opens it, says it was cut, and plays to its last frame.
    let mut player = Player::open(&path).unwrap();
    assert!(player.cut());
    assert_eq!(player.frames(), frames.len());
    player.seek(Duration::from_secs(600)).unwrap();
    assert_eq!(player.snapshot().elapsed, last);
    assert!(player.status(false).contains("(cut short)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_a_full_table_costs_a_bounded_number_of_bytes() {
    // 400 in flight, each held 100 ms: every frame has a full table (256
    // rows in the snapshot) of requests the frame before did not have.
    let srv = server(Duration::from_millis(100), 0.05).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.rec");
    let header = Header::new("test".into(), vec![], vec![]);
    let mut recorder = Recorder::create(&path, &header).unwrap();
    let head = std::fs::metadata(&path).unwrap().len();
    let mut cfg = config(400);
    cfg.duration = Some(Duration::from_secs(4));
    let run = Run::start(cfg, items(&srv, 10_000_000).await);
    let mut snapshots = run.handle.snapshots.clone();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let (mut frames, mut full, mut last) = (0u64, 0u64, None);
    for _ in 0..100 {
        tick.tick().await;
        let snap = snapshots.borrow_and_update().clone();
        if last == Some(snap.elapsed) {
            continue;
        }
        last = Some(snap.elapsed);
        recorder.record(&snap).unwrap();
        frames += 1;
        full += u64::from(snap.tasks.len() >= 256);
        if snap.state == RunState::Finished {
            break;
        }
    }
    assert_eq!(recorder.finish().unwrap(), frames);
    run.finish(Duration::from_secs(10)).await;
    assert!(full >= 10, "{full} of {frames} frames had a full table");
    let bytes = std::fs::metadata(&path).unwrap().len() - head;
    // The first frame carries the snapshot whole (a few KiB); each after it
    // what changed and 40 rows: about 450 bytes on the demo (8 MB an
    // hour at 5 a second). The bound leaves room for a slower machine's
    // bigger changes between frames, and none for a whole table a frame
    // (256 rows are about 3 KiB).
    let bound = 4096 + 700 * frames;
    assert!(
        bytes <= bound,
        "{bytes} bytes for {frames} frames: more than {bound}"
    );
    // Every frame reads back with its table's first rows.
    let reader = Reader::open(&path).unwrap();
    let back: Vec<Snapshot> = reader.collect();
    assert_eq!(back.len() as u64, frames);
    assert!(back.iter().all(|s| s.tasks.len() <= TABLE_ROWS));
    assert!(back.iter().filter(|s| s.tasks.len() == TABLE_ROWS).count() as u64 >= full);
    println!(
        "{frames} frames, {bytes} bytes: {} a frame",
        bytes / frames.max(1)
    );
}
