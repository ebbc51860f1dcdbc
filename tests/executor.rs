//! Executor health against the demo API on loopback: blocking work inside a
//! task makes the heartbeat late on a one-worker runtime; without it, or with
//! it moved to `spawn_blocking`, the heartbeat stays on time. Assertions are
//! on the engine's own snapshot values, with wide margins.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Run, items, server};
use fetchtop::engine::blocking::BlockKind;
use fetchtop::engine::{Blocking, BlockingWork, EngineConfig};
use fetchtop::snapshot::Snapshot;

const ITEMS: u64 = 200;

/// Every 5th item sleeps 150 ms: far above the 50 ms the test looks for.
/// One shard: one event loop runs every task, so a blocking task holds them all.
fn config(on: bool, offload: bool) -> EngineConfig {
    EngineConfig {
        concurrency: 20,
        shards: 1,
        demo_blocking: Some(Blocking {
            work: BlockingWork {
                every: 5,
                duration: Duration::from_millis(150),
                kind: BlockKind::Sleep,
            },
            on,
            offload,
        }),
        ..EngineConfig::default()
    }
}

async fn run(on: bool, offload: bool) -> Snapshot {
    run_with(config(on, offload)).await
}

async fn run_with(cfg: EngineConfig) -> Snapshot {
    let shards = cfg.shards;
    let srv = server(Duration::from_millis(20), 0.0).await;
    let run = Run::start(cfg, items(&srv, ITEMS).await);
    let (snap, records) = run.finish(Duration::from_secs(120)).await;
    srv.shutdown().await;
    let seqs: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len() as u64, ITEMS);
    assert_eq!(snap.counts.done, ITEMS);
    let x = &snap.executor;
    assert_eq!(x.workers, shards, "{x:?}");
    assert_eq!(x.current_thread, shards == 1, "{x:?}");
    assert_eq!(x.shards.len(), shards, "{x:?}");
    assert_eq!(
        x.shards.iter().map(|s| s.finished).sum::<u64>(),
        ITEMS,
        "the shards' counts add up to the run's"
    );
    assert!(x.beats >= 5, "the heartbeat ran: {x:?}");
    snap
}

#[tokio::test(flavor = "current_thread")]
async fn with_two_shards_both_run_tasks_and_a_blocked_one_shows_its_lag() {
    let mut cfg = config(true, false);
    cfg.shards = 2;
    cfg.shards_on_demand = false;
    let snap = run_with(cfg).await;
    let x = &snap.executor;
    assert!(
        x.shards.iter().all(|s| s.finished > 0),
        "work is spread over both shards: {:?}",
        x.shards
    );
    // The worst event loop is what the panel shows.
    assert!(x.lag_run_max_ms >= 100.0, "{x:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_inside_tasks_on_one_worker_makes_the_heartbeat_late() {
    let snap = run(true, false).await;
    let x = &snap.executor;
    assert!(
        x.lag_run_p99_ms > 50.0,
        "lag p99 {} ms: {x:?}",
        x.lag_run_p99_ms
    );
    assert!(x.lag_run_max_ms >= 100.0, "{x:?}");
    assert_eq!(x.demo.as_ref().map(|d| d.blocked_items), Some(ITEMS / 5));
}

#[tokio::test(flavor = "current_thread")]
async fn without_blocking_work_the_heartbeat_stays_on_time() {
    let snap = run(false, false).await;
    let x = &snap.executor;
    assert!(
        x.lag_run_p99_ms < 50.0,
        "lag p99 {} ms: {x:?}",
        x.lag_run_p99_ms
    );
    assert_eq!(x.demo.as_ref().map(|d| d.blocked_items), Some(0));
}

#[tokio::test(flavor = "current_thread")]
async fn spawn_blocking_removes_the_stall_and_still_does_the_work() {
    let snap = run(true, true).await;
    let x = &snap.executor;
    assert!(
        x.lag_run_p99_ms < 50.0,
        "lag p99 {} ms: {x:?}",
        x.lag_run_p99_ms
    );
    assert_eq!(
        x.demo.as_ref().map(|d| d.blocked_items),
        Some(ITEMS / 5),
        "the work still happens"
    );
}
