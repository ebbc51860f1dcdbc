//! The three execution models against the demo API on loopback: what each
//! costs in OS threads (read from the OS, so the tests here take turns), and
//! that switching models or the blocking work mid-run loses no item.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Run, items, server, wait_until};
use fetchtop::engine::blocking::BlockKind;
use fetchtop::engine::{
    Blocking, BlockingWork, Command, EngineConfig, ErrorKind, ItemState, Model, RequestOptions,
    Source, SourceSpec,
};

/// OS threads are counted for the whole test process: one test at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_threads_model_runs_an_os_thread_per_request() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let srv = server(Duration::from_secs(2), 0.0).await;
    let config = EngineConfig {
        concurrency: 200,
        model: Model::Threads,
        ..EngineConfig::default()
    };
    let run = Run::start(config, items(&srv, 200).await);
    let snaps = run.handle.snapshots.clone();
    wait_until("200 threads in flight", Duration::from_secs(30), || {
        let s = snaps.borrow();
        s.in_flight == 200 && s.executor.item_threads == 200
    })
    .await;
    wait_until("the OS counts them", Duration::from_secs(5), || {
        snaps.borrow().executor.os_threads >= Some(200)
    })
    .await;
    let (snap, records) = run.finish(Duration::from_secs(60)).await;
    assert_eq!(records.len(), 200);
    assert!(
        records
            .iter()
            .all(|r| r.state == ItemState::Done && r.status == Some(200))
    );
    // ureq's answers say their HTTP version too.
    assert!(records.iter().all(|r| r.http == Some("1.1")));
    assert!(
        snap.executor.os_threads_peak >= Some(200),
        "{:?}",
        snap.executor
    );
    assert_eq!(snap.executor.model, Model::Threads);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_model_holds_two_thousand_requests_on_a_few_threads() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let srv = server(Duration::from_secs(60), 0.0).await;
    let run = Run::start(common::config(2000), items(&srv, 2000).await);
    let snaps = run.handle.snapshots.clone();
    wait_until(
        "2,000 requests at the server",
        Duration::from_secs(60),
        || srv.stats().in_flight == 2000 && snaps.borrow().in_flight == 2000,
    )
    .await;
    // A fresh snapshot, taken with all 2,000 in flight.
    let seen = snaps.borrow().executor.beats;
    wait_until("a fresh snapshot", Duration::from_secs(10), || {
        snaps.borrow().executor.beats > seen
    })
    .await;
    let threads = snaps.borrow().executor.os_threads;
    assert!(
        threads.is_some_and(|n| n < 200),
        "2,000 in flight on {threads:?} OS threads"
    );
    run.handle.commands.send(Command::Abort).await.unwrap();
    let (snap, records) = run.finish(Duration::from_secs(30)).await;
    assert_eq!(records.len(), 2000);
    assert!(snap.executor.os_threads_peak.is_some_and(|n| n < 200));
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_model_and_blocking_mid_run_loses_no_item() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const N: u64 = 1500;
    let srv = server(Duration::from_millis(3), 0.0).await;
    let config = EngineConfig {
        concurrency: 40,
        demo_blocking: Some(Blocking {
            work: BlockingWork {
                every: 7,
                duration: Duration::from_millis(2),
                kind: BlockKind::Sleep,
            },
            on: true,
            offload: false,
        }),
        ..EngineConfig::default()
    };
    let run = Run::start(config, items(&srv, N).await);
    let snaps = run.handle.snapshots.clone();
    let switches = [
        Command::SetModel(Model::Threads),
        Command::SetBlocking(false),
        Command::SetModel(Model::Sequential),
        Command::SetOffload(true),
        Command::SetBlocking(true),
        Command::SetModel(Model::Async),
        Command::SetModel(Model::Threads),
    ];
    for (i, cmd) in switches.into_iter().enumerate() {
        let at = (i as u64 + 1) * 150;
        wait_until("the run to move on", Duration::from_secs(60), || {
            snaps.borrow().counts.finished() >= at
        })
        .await;
        run.handle.commands.send(cmd).await.unwrap();
    }
    let (snap, records) = run.finish(Duration::from_secs(120)).await;
    srv.shutdown().await;
    assert_eq!(records.len() as u64, N);
    let seqs: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=N).collect::<HashSet<u64>>(), "each item once");
    assert!(records.iter().all(|r| r.state == ItemState::Done));
    assert_eq!(snap.counts.done, N);
    assert_eq!(snap.executor.model, Model::Threads);
    let demo = snap.executor.demo.expect("a demo run");
    assert!(demo.blocking && demo.offload && demo.blocked_items > 0);
}

/// The kinds of the records `model` makes for `url`, fetched `n` times.
async fn kinds(model: Model, url: String, n: u64, timeout: Duration) -> Vec<Option<ErrorKind>> {
    let source = Source::open(SourceSpec::Repeat(url), Some(n))
        .await
        .unwrap();
    let config = EngineConfig {
        concurrency: 4,
        model,
        request: RequestOptions {
            timeout,
            ..RequestOptions::default()
        },
        ..EngineConfig::default()
    };
    let (_, records) = Run::start(config, source)
        .finish(Duration::from_secs(30))
        .await;
    assert_eq!(records.len() as u64, n);
    records.iter().map(|r| r.error_kind()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_threads_model_classifies_outcomes_like_the_async_one() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let failing = server(Duration::ZERO, 1.0).await;
    let slow = server(Duration::from_secs(5), 0.0).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (failing.url("/items/1"), ErrorKind::Http5xx),
        (failing.url("/items/0"), ErrorKind::Http4xx),
        (slow.url("/items/1"), ErrorKind::Timeout),
        (format!("http://127.0.0.1:{closed}/x"), ErrorKind::Connect),
        ("ftp://127.0.0.1/x".to_string(), ErrorKind::InvalidUrl),
    ];
    for (url, want) in cases {
        for model in [Model::Async, Model::Threads] {
            let got = kinds(model, url.clone(), 3, Duration::from_millis(300)).await;
            assert_eq!(got, vec![Some(want); 3], "{model:?} {url}");
        }
    }
    failing.shutdown().await;
    slow.shutdown().await;
}
