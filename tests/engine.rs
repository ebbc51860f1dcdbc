//! The engine against the built-in demo API on loopback: admission under a
//! live limit, cancellation, error kinds, records.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Run, config, items, server, wait_until};
use fetchtop::engine::source::Source;
use fetchtop::engine::{Command, ErrorKind, ItemState, SourceSpec};
use fetchtop::snapshot::RunState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_ends_once_with_its_own_url() {
    let srv = server(Duration::ZERO, 0.0).await;
    let run = Run::start(config(32), items(&srv, 2000).await);
    let (snap, records) = run.finish(Duration::from_secs(60)).await;
    assert_eq!(records.len(), 2000);
    let seqs: HashSet<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), 2000);
    for r in &records {
        assert!(
            r.url.ends_with(&format!("/items/{}", r.seq)),
            "{} {}",
            r.seq,
            r.url
        );
        assert_eq!(r.state, ItemState::Done);
        assert_eq!(r.status, Some(200));
        assert!(r.bytes > 100);
        assert!(r.ttfb_us.is_some_and(|t| t <= r.latency_us));
    }
    assert_eq!(snap.state, RunState::Finished);
    assert_eq!(snap.counts.done, 2000);
    assert_eq!(snap.total, Some(2000));
    assert_eq!(snap.in_flight, 0);
    assert_eq!(snap.latency.count, 2000);
    assert!(snap.max_in_flight <= 32);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_moves_up_and_down_while_running() {
    let srv = server(Duration::from_millis(100), 0.0).await;
    let run = Run::start(config(5), items(&srv, 100_000).await);
    let snaps = run.handle.snapshots.clone();
    let cmd = run.handle.commands.clone();

    wait_until("5 in flight at the server", Duration::from_secs(10), || {
        srv.stats().in_flight == 5
    })
    .await;
    // Give the engine time to overshoot, if it would.
    let before = srv.stats().requests;
    wait_until("20 more requests", Duration::from_secs(10), || {
        srv.stats().requests >= before + 20
    })
    .await;
    assert!(srv.stats().max_in_flight <= 5, "{:?}", srv.stats());
    assert!(snaps.borrow().max_in_flight <= 5);

    cmd.send(Command::SetConcurrency(50)).await.unwrap();
    wait_until(
        "40+ in flight at the server",
        Duration::from_secs(10),
        || srv.stats().in_flight >= 40,
    )
    .await;
    assert!(srv.stats().max_in_flight <= 50, "{:?}", srv.stats());

    cmd.send(Command::SetConcurrency(5)).await.unwrap();
    wait_until("in flight drained to 5", Duration::from_secs(10), || {
        snaps.borrow().in_flight <= 5 && srv.stats().in_flight <= 5
    })
    .await;
    let reset = reqwest::Client::new()
        .post(srv.url("/stats/reset"))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    let before = srv.stats().requests;
    wait_until(
        "30 more requests at limit 5",
        Duration::from_secs(10),
        || srv.stats().requests >= before + 30,
    )
    .await;
    assert!(srv.stats().max_in_flight <= 5, "{:?}", srv.stats());
    assert_eq!(snaps.borrow().limit, 5);

    cmd.send(Command::Abort).await.unwrap();
    let (snap, records) = run.finish(Duration::from_secs(10)).await;
    assert_eq!(records.len() as u64, snap.counts.finished());
    assert!(snap.counts.done > 0);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_all_ends_a_thousand_slow_requests() {
    let srv = server(Duration::from_secs(60), 0.0).await;
    let run = Run::start(config(1000), items(&srv, 1000).await);
    let snaps = run.handle.snapshots.clone();
    wait_until(
        "1000 requests at the server",
        Duration::from_secs(30),
        || srv.stats().in_flight == 1000 && snaps.borrow().in_flight == 1000,
    )
    .await;
    assert_eq!(snaps.borrow().tasks.len(), 256, "the table is bounded");
    run.handle.commands.send(Command::CancelAll).await.unwrap();
    let (snap, records) = run.finish(Duration::from_secs(10)).await;
    assert_eq!(records.len(), 1000);
    assert!(
        records.iter().all(
            |r| r.state == ItemState::Cancelled && r.error_kind() == Some(ErrorKind::Cancelled)
        )
    );
    assert_eq!(snap.counts.cancelled, 1000);
    assert_eq!(snap.in_flight, 0);
    wait_until(
        "the server saw the cancellations",
        Duration::from_secs(10),
        || srv.stats().in_flight == 0,
    )
    .await;
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_one_task_by_id() {
    let srv = server(Duration::from_secs(60), 0.0).await;
    let run = Run::start(config(3), items(&srv, 3).await);
    let snaps = run.handle.snapshots.clone();
    wait_until("3 in flight", Duration::from_secs(10), || {
        snaps.borrow().tasks.len() == 3
    })
    .await;
    let ids: Vec<u64> = snaps.borrow().tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![1, 2, 3], "oldest first");
    run.handle
        .commands
        .send(Command::CancelTask(2))
        .await
        .unwrap();
    wait_until("task 2 gone", Duration::from_secs(10), || {
        let s = snaps.borrow();
        s.counts.cancelled == 1 && s.tasks.iter().all(|t| t.id != 2)
    })
    .await;
    assert_eq!(snaps.borrow().in_flight, 2);
    run.handle.commands.send(Command::Abort).await.unwrap();
    let (_, records) = run.finish(Duration::from_secs(10)).await;
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].seq, 2, "the cancelled task ended first");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_lets_in_flight_finish_and_pause_admits_nothing() {
    let srv = server(Duration::from_millis(300), 0.0).await;
    let run = Run::start(config(4), items(&srv, 1000).await);
    let snaps = run.handle.snapshots.clone();
    let cmd = run.handle.commands.clone();
    wait_until("4 in flight", Duration::from_secs(10), || {
        snaps.borrow().in_flight == 4
    })
    .await;
    cmd.send(Command::Pause).await.unwrap();
    wait_until("paused and drained", Duration::from_secs(10), || {
        let s = snaps.borrow();
        s.state == RunState::Paused && s.in_flight == 0
    })
    .await;
    let dispatched = snaps.borrow().dispatched;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        snaps.borrow().dispatched,
        dispatched,
        "nothing admitted while paused"
    );
    cmd.send(Command::Resume).await.unwrap();
    wait_until("running again", Duration::from_secs(10), || {
        snaps.borrow().in_flight == 4
    })
    .await;
    cmd.send(Command::Stop).await.unwrap();
    let (snap, records) = run.finish(Duration::from_secs(10)).await;
    assert_eq!(snap.counts.cancelled, 0, "stop cancels nothing");
    assert_eq!(snap.counts.done, records.len() as u64);
    assert!(records.len() >= 8 && records.len() < 1000);
    assert_eq!(snap.state, RunState::Finished);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_kinds_are_named() {
    // Connection refused: a port that was just released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let slow = server(Duration::from_secs(5), 0.0).await;
    let failing = server(Duration::ZERO, 1.0).await;
    let list = format!(
        "# a comment\nhttp://{closed}/refused\n{}\n\nnot a url\n{}\nftp://127.0.0.1/file\n{}\n",
        slow.url("/items/1"),
        failing.url("/items/2"),
        failing.url("/nothing-here"),
    );
    let source = Source::from_reader(std::io::Cursor::new(list.into_bytes()), "test list", None);
    let mut cfg = config(10);
    cfg.request.timeout = Duration::from_millis(300);
    let (snap, mut records) = Run::start(cfg, source)
        .finish(Duration::from_secs(30))
        .await;
    records.sort_by_key(|r| r.seq);
    let kinds: Vec<(u64, Option<u64>, Option<ErrorKind>)> = records
        .iter()
        .map(|r| (r.seq, r.line, r.error_kind()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (1, Some(2), Some(ErrorKind::Connect)),
            (2, Some(3), Some(ErrorKind::Timeout)),
            (3, Some(5), Some(ErrorKind::InvalidUrl)),
            (4, Some(6), Some(ErrorKind::Http5xx)),
            (5, Some(7), Some(ErrorKind::InvalidUrl)),
            (6, Some(8), Some(ErrorKind::Http4xx)),
        ]
    );
    assert!(records.iter().all(|r| r.state == ItemState::Failed));
    let timeout = records[1].error.as_ref().unwrap().to_string();
    assert!(timeout.starts_with("timeout: "), "{timeout}");
    let refused = records[0].error.as_ref().unwrap().to_string();
    assert!(refused.to_lowercase().contains("refused"), "{refused}");
    assert!(matches!(records[3].status, Some(500 | 503)));
    assert_eq!(records[5].status, Some(404));
    assert_eq!(snap.counts.failed, 6);
    assert_eq!(
        snap.status.iter().map(|s| s.1).sum::<u64>(),
        2,
        "only real answers have a status"
    );
    slow.shutdown().await;
    failing.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_body_and_extract() {
    let srv = server(Duration::ZERO, 0.0).await;
    let mut cfg = config(8);
    cfg.request.keep_body = true;
    cfg.request.extract = vec!["/id".into(), "/name".into(), "/nope".into()];
    let (_, records) = Run::start(cfg, items(&srv, 50).await)
        .finish(Duration::from_secs(30))
        .await;
    assert_eq!(records.len(), 50);
    for r in &records {
        let body = r.body.as_ref().unwrap();
        assert_eq!(body["id"], r.seq);
        let fields = r.fields.as_ref().unwrap();
        assert_eq!(fields["/id"], r.seq);
        assert_eq!(fields["/name"], format!("item-{}", r.seq));
        assert!(fields["/nope"].is_null());
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duration_bounds_a_repeated_url() {
    let srv = server(Duration::from_millis(5), 0.0).await;
    let source = Source::open(SourceSpec::Repeat(srv.url("/items/7")), None)
        .await
        .unwrap();
    let mut cfg = config(4);
    cfg.duration = Some(Duration::from_millis(500));
    let (snap, records) = Run::start(cfg, source)
        .finish(Duration::from_secs(20))
        .await;
    assert!(records.len() > 4, "{}", records.len());
    assert!(
        records
            .iter()
            .all(|r| r.url.ends_with("/items/7") && r.state == ItemState::Done)
    );
    assert_eq!(snap.total, None);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_of_zero_starts_paused() {
    let srv = server(Duration::ZERO, 0.0).await;
    let run = Run::start(config(0), items(&srv, 20).await);
    let snaps = run.handle.snapshots.clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    {
        let s = snaps.borrow();
        assert_eq!(s.state, RunState::Paused);
        assert_eq!(s.dispatched, 0);
    }
    run.handle
        .commands
        .send(Command::SetConcurrency(3))
        .await
        .unwrap();
    let (snap, records) = run.finish(Duration::from_secs(20)).await;
    assert_eq!(records.len(), 20);
    assert_eq!(snap.counts.done, 20);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_prior_knowledge_and_custom_requests() {
    let srv = server(Duration::ZERO, 0.0).await;
    let mut cfg = config(4);
    cfg.request.http2 = true;
    cfg.request.keep_body = true;
    let (snap, records) = Run::start(cfg, items(&srv, 20).await)
        .finish(Duration::from_secs(30))
        .await;
    assert_eq!(
        snap.counts.done,
        20,
        "{:?}",
        records.first().and_then(|r| r.error.clone())
    );

    // A method the API does not route is answered, and counted, as a 4xx.
    let mut cfg = config(2);
    cfg.request.method = reqwest::Method::DELETE;
    cfg.request.headers = vec![fetchtop::engine::http::parse_header("X-Test: 1").unwrap()];
    let (snap, records) = Run::start(cfg, items(&srv, 3).await)
        .finish(Duration::from_secs(30))
        .await;
    assert_eq!(snap.counts.failed, 3);
    assert!(
        records
            .iter()
            .all(|r| r.status == Some(405) && r.error_kind() == Some(ErrorKind::Http4xx))
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_above_the_open_files_ceiling_are_capped_and_said() {
    let srv = server(Duration::from_millis(50), 0.0).await;
    let cfg = fetchtop::engine::EngineConfig {
        concurrency: 50,
        ceiling: 10,
        ..config(50)
    };
    let run = Run::start(cfg, items(&srv, 100_000).await);
    let snaps = run.handle.snapshots.clone();
    let cmd = run.handle.commands.clone();
    wait_until(
        "10 in flight at the server",
        Duration::from_secs(10),
        || srv.stats().in_flight == 10,
    )
    .await;
    {
        let s = snaps.borrow();
        assert_eq!((s.limit, s.ceiling, s.requested_limit), (10, 10, Some(50)));
    }
    cmd.send(Command::SetConcurrency(1000)).await.unwrap();
    wait_until("the cap to be said again", Duration::from_secs(10), || {
        snaps.borrow().requested_limit == Some(1000)
    })
    .await;
    assert_eq!(snaps.borrow().limit, 10);
    cmd.send(Command::SetConcurrency(4)).await.unwrap();
    wait_until("a limit under the ceiling", Duration::from_secs(10), || {
        let s = snaps.borrow();
        s.limit == 4 && s.requested_limit.is_none()
    })
    .await;
    cmd.send(Command::Abort).await.unwrap();
    let (snap, _) = run.finish(Duration::from_secs(30)).await;
    assert!(snap.max_in_flight <= 10, "{}", snap.max_in_flight);
    assert!(srv.stats().max_in_flight <= 10, "{:?}", srv.stats());
    srv.shutdown().await;
}
