//! `--adaptive` against a demo server of known capacity (in this process,
//! on loopback): it settles a few requests above the server's slots, and
//! backs off when the server answers 429.

mod common;

use std::time::Duration;

use fetchtop::demo::{Capacity, DemoServer, ServerConfig};
use fetchtop::engine::Command;
use fetchtop::engine::adaptive::Bounds;
use fetchtop::snapshot::Snapshot;

use common::{Run, config, items};

/// Slots of `service` each, a queue twice as long, 429 beyond.
async fn capacity_server(slots: usize, service: Duration) -> DemoServer {
    fetchtop::sys::raise_fd_limit();
    DemoServer::start(ServerConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        latency_min: service,
        latency_max: service,
        error_rate: 0.0,
        capacity: Some(Capacity::with_slots(slots)),
        ..ServerConfig::default()
    })
    .await
    .expect("demo server starts")
}

/// Runs adaptively from `start` for `secs`, sampling the limit each 100 ms.
async fn run_adaptive(server: &DemoServer, start: u64, secs: u64) -> (Vec<(f64, u64)>, Snapshot) {
    let source = items(server, 1_000_000).await;
    let run = Run::start(
        fetchtop::engine::EngineConfig {
            adaptive: true,
            adaptive_bounds: Bounds::default(),
            duration: Some(Duration::from_secs(secs)),
            ..config(start)
        },
        source,
    );
    let snaps = run.handle.snapshots.clone();
    let sampler = tokio::spawn(async move {
        let mut limits = Vec::new();
        let mut ticker = tokio::time::interval(Duration::from_millis(100));
        loop {
            ticker.tick().await;
            let s = snaps.borrow().clone();
            if s.state == fetchtop::snapshot::RunState::Finished || limits.len() > 1000 {
                return limits;
            }
            limits.push((s.elapsed.as_secs_f64(), s.limit));
        }
    });
    let (snap, _) = run.finish(Duration::from_secs(secs + 30)).await;
    let limits = sampler.await.unwrap();
    (limits, snap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settles_within_a_band_above_the_known_best_limit() {
    // 16 slots of 50 ms: the best limit is 16 (320 responses/s). Vegas
    // keeps 3·log10 to 6·log10 requests queued (α, β, at least 3 and 6),
    // so it settles from 16 to 16 + 6 + one step; the band allows noise on
    // a loaded machine: 14 to 28.
    let slots = 16;
    let server = capacity_server(slots, Duration::from_millis(50)).await;
    let (limits, snap) = run_adaptive(&server, 60, 9).await;
    let changes = &snap.adaptive.changes;
    assert!(!changes.is_empty(), "the controller acted");
    let late: Vec<u64> = limits
        .iter()
        .filter(|(t, _)| *t >= 5.0)
        .map(|(_, l)| *l)
        .collect();
    assert!(late.len() >= 10, "{limits:?}");
    let mut sorted = late.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    assert!(
        (14..=28).contains(&median),
        "median limit {median} over the last seconds: {late:?}; changes {changes:?}"
    );
    // Probes aside (a quarter of the limit for one window), it stays in the band.
    let outside = late.iter().filter(|l| !(10..=32).contains(*l)).count();
    assert!(outside * 4 <= late.len(), "{late:?}");
    // Every change is listed with its reason and drawn from the limit it left.
    for w in changes.iter().collect::<Vec<_>>().windows(2) {
        assert_eq!(w[0].to, w[1].from, "{changes:?}");
        assert!(!w[1].why.is_empty());
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backs_off_on_429s() {
    // 8 slots and a queue of 16: from 200 in flight, most get 429.
    let server = capacity_server(8, Duration::from_millis(50)).await;
    let (limits, snap) = run_adaptive(&server, 200, 6).await;
    let changes = &snap.adaptive.changes;
    let first = changes.front().expect("the controller acted");
    assert_eq!(first.from, 200);
    assert!(first.to < 200, "{first:?}");
    assert!(first.why.contains("429"), "{first:?}");
    // It comes down below the 429 line (8 + 16) and stays there.
    let end = limits.last().map(|l| l.1).unwrap();
    assert!((2..=24).contains(&end), "{end}: {changes:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_set_by_hand_turns_adaptive_off() {
    let server = capacity_server(8, Duration::from_millis(20)).await;
    let source = items(&server, 1_000_000).await;
    let run = Run::start(
        fetchtop::engine::EngineConfig {
            adaptive: true,
            duration: Some(Duration::from_secs(2)),
            ..config(10)
        },
        source,
    );
    assert!(run.handle.snapshots.borrow().adaptive.on);
    run.handle
        .commands
        .send(Command::SetConcurrency(5))
        .await
        .unwrap();
    let mut snaps = run.handle.snapshots.clone();
    common::wait_until("the command applied", Duration::from_secs(10), || {
        snaps.borrow_and_update().commands >= 1
    })
    .await;
    let (snap, _) = run.finish(Duration::from_secs(30)).await;
    assert!(!snap.adaptive.on);
    assert_eq!(snap.limit, 5, "nothing moved it after the hand did");
    let last = snap.adaptive.changes.back().unwrap();
    assert_eq!(last.to, 5);
    assert!(last.why.contains("by hand"), "{last:?}");
    server.shutdown().await;
}
