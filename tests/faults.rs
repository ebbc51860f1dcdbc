//! The engine against the fault server on loopback: every fault ends its
//! item with fetchtop's own error kind within the configured limits, the run
//! goes on, and retries, Retry-After and --rate behave as documented.
//! Every run is bounded by a deadline, so a hang fails instead of waiting.

mod common;

use std::time::Duration;

use common::{Run, config, server, wait_until};
use fetchtop::demo::FaultServer;
use fetchtop::engine::model::Model;
use fetchtop::engine::record::Record;
use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{Command, EngineConfig, ErrorKind, ItemState, Source};

/// The hang guard of every run: far above what any of them needs.
const DEADLINE: Duration = Duration::from_secs(20);

async fn faults() -> FaultServer {
    FaultServer::start(([127, 0, 0, 1], 0).into())
        .await
        .expect("fault server starts")
}

fn list(urls: &[String]) -> Source {
    let text = urls.join("\n") + "\n";
    Source::from_reader(std::io::Cursor::new(text.into_bytes()), "fault list", None)
}

/// Small limits, so that each fault meets one of them quickly.
fn tight() -> EngineConfig {
    let mut cfg = config(16);
    cfg.request.timeout = Duration::from_millis(1500);
    cfg.request.connect_timeout = Duration::from_secs(2);
    cfg.request.max_body = 1024 * 1024;
    cfg
}

async fn run(cfg: EngineConfig, urls: &[String]) -> Vec<Record> {
    let (snap, mut records) = Run::start(cfg, list(urls)).finish(DEADLINE).await;
    assert_eq!(records.len(), urls.len(), "one record per item");
    assert_eq!(snap.in_flight, 0);
    records.sort_by_key(|r| r.seq);
    records
}

async fn one(cfg: EngineConfig, url: String) -> Record {
    run(cfg, &[url]).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_fails_its_own_item_and_the_run_goes_on() {
    let f = faults().await;
    // Each fault is followed by a good item: the run must reach it.
    let cases: [(&str, ErrorKind); 8] = [
        ("/reset", ErrorKind::Request),
        ("/stall", ErrorKind::Timeout),
        ("/slow", ErrorKind::Timeout),
        ("/endless", ErrorKind::BodyTooLarge),
        ("/redirect-loop", ErrorKind::Redirect),
        // Once per path: each transport gets its own key (T).
        ("/429/60/T", ErrorKind::Http429),
        ("/malformed", ErrorKind::Request),
        ("/chunked-close", ErrorKind::Body),
    ];
    // Both transports: hyper-util for plain HTTP, and reqwest.
    for transport in [TransportChoice::Auto, TransportChoice::Reqwest] {
        let mut urls = Vec::new();
        for (path, _) in &cases {
            urls.push(f.url(&path.replace('T', &format!("{transport:?}"))));
            urls.push(f.url("/ok"));
        }
        let mut cfg = tight();
        cfg.transport = transport;
        let records = run(cfg, &urls).await;
        for (i, (path, kind)) in cases.iter().enumerate() {
            let bad = &records[2 * i];
            assert_eq!(
                bad.state,
                ItemState::Failed,
                "{transport:?} {path}: {bad:?}"
            );
            assert_eq!(
                bad.error_kind(),
                Some(*kind),
                "{transport:?} {path}: {bad:?}"
            );
            assert_eq!(bad.attempts, 1, "{path}: not retried without --retries");
            let good = &records[2 * i + 1];
            assert_eq!(good.state, ItemState::Done, "after {path}: {good:?}");
            assert_eq!(good.status, Some(200));
        }
    }
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_says_so() {
    let f = faults().await;
    let r = one(tight(), f.url("/reset")).await;
    assert_eq!(r.error_kind(), Some(ErrorKind::Request));
    assert_eq!(r.status, None);
    let msg = r
        .error
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(msg.to_lowercase().contains("reset"), "{msg}");
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_times_out_with_its_headers_kept() {
    let f = faults().await;
    let mut cfg = tight();
    cfg.request.timeout = Duration::from_millis(500);
    let r = one(cfg, f.url("/stall")).await;
    assert_eq!(r.error_kind(), Some(ErrorKind::Timeout));
    assert_eq!(r.status, Some(200), "the headers did arrive");
    assert!(r.ttfb_us.is_some());
    assert_eq!(r.bytes, 0);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_times_out_with_what_it_got() {
    let f = faults().await;
    let mut cfg = tight();
    cfg.request.timeout = Duration::from_millis(2500);
    let r = one(cfg, f.url("/slow")).await;
    assert_eq!(r.error_kind(), Some(ErrorKind::Timeout));
    assert_eq!(r.status, Some(200));
    assert!((1..64).contains(&r.bytes), "{} bytes", r.bytes);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_stops_at_max_body() {
    let f = faults().await;
    let mut cfg = tight();
    cfg.request.timeout = Duration::from_secs(15);
    cfg.request.max_body = 256 * 1024;
    let r = one(cfg, f.url("/endless")).await;
    assert_eq!(r.error_kind(), Some(ErrorKind::BodyTooLarge));
    assert!(r.bytes > 256 * 1024, "{}", r.bytes);
    assert!(
        r.bytes < 2 * 1024 * 1024,
        "stopped soon after the cap: {}",
        r.bytes
    );
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_is_a_redirect_error() {
    let f = faults().await;
    for redirects in [1, 10] {
        let mut cfg = tight();
        cfg.request.redirects = redirects;
        let r = one(cfg, f.url("/redirect-loop")).await;
        assert_eq!(r.error_kind(), Some(ErrorKind::Redirect), "{r:?}");
        assert_eq!(r.state, ItemState::Failed);
    }
    // Following none, the 302 itself is the answer.
    let mut cfg = tight();
    cfg.request.redirects = 0;
    let r = one(cfg, f.url("/redirect-loop")).await;
    assert_eq!((r.state, r.status), (ItemState::Done, Some(302)));
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_cut_responses_fail_cleanly() {
    let f = faults().await;
    let r = one(tight(), f.url("/malformed")).await;
    assert_eq!(r.error_kind(), Some(ErrorKind::Request), "{r:?}");
    assert_eq!(r.status, None);
    let r = one(tight(), f.url("/chunked-close")).await;
    assert_eq!(r.error_kind(), Some(ErrorKind::Body), "{r:?}");
    assert_eq!((r.status, r.bytes), (Some(200), 10));
    f.shutdown().await;
}

fn retrying(retries: u32, max_backoff: Duration) -> EngineConfig {
    let mut cfg = tight();
    cfg.request.retry.retries = retries;
    cfg.request.retry.max_backoff = max_backoff;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_attempts_counted() {
    let f = faults().await;
    let urls = vec![f.url("/429/1/a"), f.url("/429-date/1/b")];
    let records = run(retrying(2, Duration::from_secs(30)), &urls).await;
    for r in &records {
        assert_eq!(r.state, ItemState::Done, "{r:?}");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.attempts, 2, "{r:?}");
    }
    // A lower bound only: the wait cannot be shorter than the server asked
    // (an HTTP date has whole seconds, so it may be a little under 1 s).
    assert!(records[0].latency_us >= 1_000_000, "{:?}", records[0]);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_capped_by_max_backoff() {
    let f = faults().await;
    // The server asks for an hour; the cap says 200 ms.
    let r = one(
        retrying(1, Duration::from_millis(200)),
        f.url("/429/3600/a"),
    )
    .await;
    assert_eq!((r.state, r.attempts), (ItemState::Done, 2), "{r:?}");
    assert!(r.latency_us < 60_000_000, "{r:?}");
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_503_passes_with_enough_retries() {
    let f = faults().await;
    let urls: Vec<String> = (1..=5).map(|i| f.url(&format!("/503/3/{i}"))).collect();
    for r in run(retrying(3, Duration::from_secs(1)), &urls).await {
        assert_eq!(r.state, ItemState::Done, "{r:?}");
        assert_eq!(r.attempts, 4);
    }
    // Too few retries: the last 503 stands.
    let urls: Vec<String> = (1..=5).map(|i| f.url(&format!("/503/3/x{i}"))).collect();
    for r in run(retrying(1, Duration::from_secs(1)), &urls).await {
        assert_eq!(r.error_kind(), Some(ErrorKind::Http5xx), "{r:?}");
        assert_eq!((r.status, r.attempts), (Some(503), 2));
    }
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_would_fail_again_is_not_retried() {
    let f = faults().await;
    let urls = vec![
        f.url("/no-such-fault"),
        f.url("/redirect-loop"),
        "ftp://127.0.0.1/x".to_string(),
    ];
    let records = run(retrying(5, Duration::from_secs(1)), &urls).await;
    assert_eq!(records[0].error_kind(), Some(ErrorKind::Http4xx));
    assert_eq!(records[0].status, Some(404));
    assert_eq!(records[0].attempts, 1);
    assert_eq!(records[1].error_kind(), Some(ErrorKind::Redirect));
    assert_eq!(records[1].attempts, 1);
    assert_eq!(records[2].error_kind(), Some(ErrorKind::InvalidUrl));
    assert_eq!(records[2].attempts, 0, "no attempt is made at a bad URL");
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_and_timeouts_are_retried() {
    let f = faults().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut cfg = retrying(2, Duration::from_millis(100));
    cfg.request.timeout = Duration::from_millis(200);
    let urls = vec![format!("http://{closed}/x"), f.url("/stall")];
    let records = run(cfg, &urls).await;
    assert_eq!(records[0].error_kind(), Some(ErrorKind::Connect));
    assert_eq!(records[0].attempts, 3);
    assert_eq!(records[1].error_kind(), Some(ErrorKind::Timeout));
    assert_eq!(records[1].attempts, 3);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_waiting_to_retry_is_visible_and_cancellable() {
    let f = faults().await;
    let cfg = retrying(3, Duration::from_secs(600));
    let run = Run::start(cfg, list(&[f.url("/429/600/a")]));
    let snaps = run.handle.snapshots.clone();
    wait_until("the task in the retrying phase", DEADLINE, || {
        let s = snaps.borrow();
        s.counts.retrying == 1
            && s.tasks
                .first()
                .is_some_and(|t| t.phase.as_str() == "retrying")
    })
    .await;
    run.handle.commands.send(Command::CancelAll).await.unwrap();
    let (snap, records) = run.finish(DEADLINE).await;
    let r = &records[0];
    assert_eq!(r.state, ItemState::Cancelled, "{r:?}");
    assert_eq!((r.attempts, r.status), (1, Some(429)));
    assert_eq!(snap.counts.retrying, 0);
    assert_eq!(snap.counts.cancelled, 1);
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_under_a_rate_counts_from_the_scheduled_send() {
    // 100 ms per answer, one at a time, at 50/s: each request is due 20 ms
    // after the last but can only start 100 ms after it, so item k waits
    // (k-1) * 80 ms behind schedule. Lower bounds only, with slack.
    let srv = server(Duration::from_millis(100), 0.0).await;
    let mut cfg = config(1);
    cfg.rate = Some(50.0);
    let urls: Vec<String> = (1..=6).map(|i| srv.url(&format!("/items/{i}"))).collect();
    let records = run(cfg, &urls).await;
    for r in &records {
        assert_eq!(r.state, ItemState::Done);
        let behind = (r.seq - 1) * 70_000;
        assert!(
            r.latency_us >= 100_000 + behind,
            "item {} counted {} µs",
            r.seq,
            r.latency_us
        );
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_shows_and_changes_live() {
    let srv = server(Duration::ZERO, 0.0).await;
    let mut cfg = config(4);
    cfg.rate = Some(20.0);
    let urls: Vec<String> = (1..=2000)
        .map(|i| srv.url(&format!("/items/{i}")))
        .collect();
    let run = Run::start(cfg, list(&urls));
    let snaps = run.handle.snapshots.clone();
    wait_until("a first item done", DEADLINE, || {
        snaps.borrow().counts.done >= 1
    })
    .await;
    assert_eq!(snaps.borrow().rate_limit, Some(20.0));
    run.handle
        .commands
        .send(Command::SetRate(40.0))
        .await
        .unwrap();
    wait_until("the new rate", DEADLINE, || {
        snaps.borrow().rate_limit == Some(40.0)
    })
    .await;
    // At 40/s, 2,000 items would take 50 s: well past the deadline unless
    // the limit really holds them back, so stop and check it did.
    run.handle.commands.send(Command::Stop).await.unwrap();
    let (snap, records) = run.finish(DEADLINE).await;
    assert!(snap.counts.done < 1000, "{} done", snap.counts.done);
    assert_eq!(records.len() as u64, snap.counts.finished());
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_execution_model_retries_the_same_way() {
    let f = faults().await;
    for model in [Model::Async, Model::Threads, Model::Sequential] {
        let mut cfg = retrying(3, Duration::from_secs(1));
        cfg.model = model;
        let urls = vec![
            f.url(&format!("/503/2/{model:?}")),
            f.url(&format!("/429/1/{model:?}")),
            f.url("/no-such-fault"),
        ];
        let records = run(cfg, &urls).await;
        let got: Vec<(ItemState, Option<u16>, u32)> = records
            .iter()
            .map(|r| (r.state, r.status, r.attempts))
            .collect();
        assert_eq!(
            got,
            vec![
                (ItemState::Done, Some(200), 3),
                (ItemState::Done, Some(200), 2),
                (ItemState::Failed, Some(404), 1),
            ],
            "{model:?}"
        );
        assert!(
            records[1].latency_us >= 1_000_000,
            "{model:?}: Retry-After honoured"
        );
    }
    f.shutdown().await;
}
