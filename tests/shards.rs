//! The sharded engine against the demo API on loopback: for 1 to 4 shards
//! and any sequence of limit changes, pauses, cancels and model switches,
//! every item is recorded exactly once and the server never sees more in
//! flight than the limit; the merged snapshot adds up to its shards; no
//! shard's clients are ever used from another thread.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Run, items, server, wait_until};
use fetchtop::demo::DemoServer;
use fetchtop::engine::{Command, EngineConfig, ItemState, Model};
use proptest::prelude::*;

/// More than any session gets through: it ends by `Stop`.
const ITEMS: u64 = 1_000_000;
const DEADLINE: Duration = Duration::from_secs(60);

/// One step of a session at the keyboard.
#[derive(Clone, Debug)]
enum Step {
    Limit(u64),
    Pause,
    Resume,
    CancelAll,
    CancelOldest,
    Model(Model),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u64..40).prop_map(Step::Limit),
        1 => Just(Step::Pause),
        1 => Just(Step::Resume),
        1 => Just(Step::CancelAll),
        1 => Just(Step::CancelOldest),
        1 => prop_oneof![Just(Model::Async), Just(Model::Threads), Just(Model::Sequential)]
            .prop_map(Step::Model),
    ]
}

/// The most the server may see in flight from now on, once what was
/// started under an earlier, higher bound has drained.
fn bound(limit: u64, paused: bool, model: Model) -> u64 {
    match (paused, model) {
        (true, _) => 0,
        (false, Model::Sequential) => limit.min(1),
        (false, _) => limit,
    }
}

/// Waits for the engine to have applied `sent` commands and for it and the
/// server to drain to `bound`, forgets the server's peak, lets the run go
/// on a little, and checks the peak since then.
async fn check_bound(
    srv: &DemoServer,
    snaps: &tokio::sync::watch::Receiver<fetchtop::snapshot::Snapshot>,
    sent: u64,
    bound: u64,
    what: &str,
) {
    wait_until(what, DEADLINE, || {
        let s = snaps.borrow();
        s.commands >= sent && s.in_flight <= bound && s.closing == 0
    })
    .await;
    // A cancelled request leaves the server only when its handler next
    // touches the socket the client has closed: after the demo's 5 ms
    // latency. Give it that long before counting again.
    tokio::time::sleep(Duration::from_millis(25)).await;
    wait_until(what, DEADLINE, || srv.stats().in_flight <= bound).await;
    srv.reset_stats();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let peak = srv.stats().max_in_flight;
    assert!(
        peak <= bound,
        "{what}: the server saw {peak} in flight, more than {bound}"
    );
}

async fn session(shards: usize, steps: Vec<Step>) {
    let srv = server(Duration::from_millis(5), 0.0).await;
    let cfg = EngineConfig {
        concurrency: 10,
        shards,
        shards_on_demand: false,
        ..EngineConfig::default()
    };
    let run = Run::start(cfg, items(&srv, ITEMS).await);
    let cmd = run.handle.commands.clone();
    let snaps = run.handle.snapshots.clone();
    let (mut limit, mut paused, mut model) = (10u64, false, Model::Async);
    let mut sent = 0;
    for s in &steps {
        sent += 1;
        match *s {
            Step::Limit(n) => {
                limit = n;
                cmd.send(Command::SetConcurrency(n)).await.unwrap();
            }
            Step::Pause => {
                paused = true;
                cmd.send(Command::Pause).await.unwrap();
            }
            Step::Resume => {
                paused = false;
                cmd.send(Command::Resume).await.unwrap();
            }
            Step::CancelAll => cmd.send(Command::CancelAll).await.unwrap(),
            Step::CancelOldest => {
                let oldest = snaps.borrow().tasks.first().map(|t| t.id);
                let id = oldest.unwrap_or(0);
                cmd.send(Command::CancelTask(id)).await.unwrap();
            }
            Step::Model(m) => {
                model = m;
                cmd.send(Command::SetModel(m)).await.unwrap();
            }
        }
        let b = bound(limit, paused, model);
        let what = format!("{shards} shards after {s:?} in {steps:?}");
        check_bound(&srv, &snaps, sent, b, &what).await;
    }
    // Let something run, whatever the steps left it in, then stop.
    cmd.send(Command::SetModel(Model::Async)).await.unwrap();
    cmd.send(Command::Resume).await.unwrap();
    cmd.send(Command::SetConcurrency(40)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    cmd.send(Command::Stop).await.unwrap();
    let (snap, records) = run.finish(DEADLINE).await;
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for r in &records {
        *seen.entry(r.seq).or_default() += 1;
        assert!(
            r.url.ends_with(&format!("/items/{}", r.seq)),
            "{} {}",
            r.seq,
            r.url
        );
    }
    // Items are handed out in order and started as soon as they are taken:
    // what ran is exactly 1..=N, each once, N being what was dispatched.
    let n = snap.dispatched;
    assert!(n > 0, "something ran: {steps:?}");
    assert_eq!(
        seen.len() as u64,
        n,
        "every started item recorded: {steps:?}"
    );
    assert!(
        (1..=n).all(|seq| seen.get(&seq) == Some(&1)),
        "each of 1..={n} once: {steps:?}"
    );
    assert_eq!(snap.counts.finished(), n);
    assert_eq!(snap.in_flight, 0);
    assert_eq!(snap.executor.shards.len(), shards);
    srv.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_item_once_and_never_over_the_limit(
        shards in 1usize..=4,
        steps in proptest::collection::vec(step(), 1..6),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(session(shards, steps));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_merged_snapshot_is_the_sum_of_its_shards() {
    let srv = server(Duration::from_millis(1), 0.05).await;
    let cfg = EngineConfig {
        concurrency: 24,
        shards: 3,
        shards_on_demand: false,
        ..EngineConfig::default()
    };
    let run = Run::start(cfg, items(&srv, 3000).await);
    let (snap, records) = run.finish(DEADLINE).await;
    let x = &snap.executor;
    assert_eq!(x.shards.len(), 3);
    assert!(
        x.shards.iter().all(|s| s.finished > 0),
        "all three shards ran items: {:?}",
        x.shards
    );
    let by_shards: u64 = x.shards.iter().map(|s| s.finished).sum();
    assert_eq!(by_shards, snap.counts.finished());
    assert_eq!(snap.counts.finished(), records.len() as u64);
    let done = records
        .iter()
        .filter(|r| r.state == ItemState::Done)
        .count() as u64;
    assert_eq!(snap.counts.done, done);
    // Every response's latency is in the merged histogram, none twice.
    let answered = records.iter().filter(|r| r.status.is_some()).count() as u64;
    assert_eq!(snap.latency.count, answered);
    assert_eq!(
        snap.histogram.iter().map(|b| b.count).sum::<u64>(),
        answered
    );
    let statuses: u64 = snap.status.iter().map(|(_, n)| n).sum();
    assert_eq!(statuses, answered);
    let bytes: u64 = records.iter().map(|r| r.bytes).sum();
    assert_eq!(snap.bytes, bytes);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn no_shard_uses_another_shards_clients() {
    let srv = server(Duration::ZERO, 0.0).await;
    let cfg = EngineConfig {
        concurrency: 32,
        shards: 4,
        shards_on_demand: false,
        ..EngineConfig::default()
    };
    let run = Run::start(cfg, items(&srv, 4000).await);
    let (snap, _) = run.finish(DEADLINE).await;
    let x = &snap.executor;
    assert_eq!(x.shards.iter().map(|s| s.finished).sum::<u64>(), 4000);
    assert!(x.shards.iter().filter(|s| s.finished > 0).count() >= 2);
    for s in &x.shards {
        assert_eq!(
            s.foreign_uses, 0,
            "shard {} had its clients used from another thread",
            s.id
        );
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_full_limit_is_reached_whatever_the_shard_count() {
    // 200 ms answers: the in-flight count settles at the limit if the
    // shards together can reach it.
    let srv = server(Duration::from_millis(200), 0.0).await;
    for shards in [1, 2, 3] {
        let cfg = EngineConfig {
            concurrency: 7,
            shards,
            shards_on_demand: false,
            ..EngineConfig::default()
        };
        let run = Run::start(cfg, items(&srv, 60).await);
        wait_until("7 in flight at the server", DEADLINE, || {
            srv.stats().in_flight == 7
        })
        .await;
        let (snap, _) = run.finish(DEADLINE).await;
        assert!(snap.max_in_flight <= 7, "{}", snap.max_in_flight);
        assert_eq!(snap.counts.done, 60);
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn workers_n_runs_all_n_shards_from_the_start() {
    // Regression: `--workers 2` once left the second shard waiting to be
    // needed, as the default does.
    let srv = server(Duration::from_millis(2), 0.0).await;
    let url = srv.url("/items/{1..600}");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(["--workers", "2", "-c", "20", "-q", "--json", &url])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run fetchtop");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("a JSON summary");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    let shards = v["executor"]["shards"].as_array().expect("shards");
    assert_eq!(shards.len(), 2);
    for s in shards {
        assert!(
            s["finished"].as_u64().unwrap_or(0) > 0,
            "both shards run items: {shards:?}"
        );
    }
    srv.shutdown().await;
}
