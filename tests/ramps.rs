//! Rate ramps on the real binary against a demo server this test starts on
//! loopback, counted at the server. The shape of a ramp is asserted on the
//! engine's schedule in `pace.rs`; here only what the clock cannot move:
//! a staged run sends exactly its schedule's slots and then ends, and a
//! ramp never sends more than its schedule allows.

mod common;

use std::process::Output;
use std::time::Duration;

use common::server;

async fn run(args: &[&str]) -> Output {
    common::run_fetchtop(args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_send_their_slots_and_end_the_run() {
    let srv = server(Duration::from_millis(1), 0.0).await;
    let url = srv.url("/items/{1..100000}");
    // From 0 to 150/s over 1 s (75 slots), then 150/s for 1 s (150 more),
    // and slot 0: 226 requests, and the run ends by itself.
    let o = run(&[
        "--no-tui",
        "-q",
        "--json",
        "--rate-stages",
        "150:1s,150:1s",
        &url,
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"], 226, "{v}");
    assert_eq!(srv.stats().requests, 226);
    let secs = v["elapsed_s"].as_f64().unwrap();
    assert!(
        (1.9..10.0).contains(&secs),
        "the last slot is due at 2 s: {secs}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_sends_no_more_than_its_schedule() {
    let srv = server(Duration::from_millis(1), 0.0).await;
    let url = srv.url("/items/{1..100000}");
    // 50/s to 150/s over 2 s: 200 slots by 2 s (and slot 0).
    let o = run(&[
        "--no-tui", "-q", "--rate", "50..150", "--ramp", "2s", "-z", "2s", &url,
    ])
    .await;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let n = srv.stats().requests;
    assert!(n <= 201, "never ahead of the schedule: {n}");
    // Behind it only by what a loaded machine loses at the end.
    assert!(n >= 120, "{n}");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_flags_must_go_together() {
    for args in [
        &["--rate", "10..100", "http://127.0.0.1:1/"][..],
        &["--ramp", "5s", "http://127.0.0.1:1/"][..],
        &[
            "--rate",
            "10..100",
            "--ramp",
            "5s",
            "--rate-stages",
            "1:1s",
            "http://127.0.0.1:1/",
        ][..],
        &["--rate-stages", "100:xs", "http://127.0.0.1:1/"][..],
    ] {
        let o = run(args).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr)
                .trim_end()
                .lines()
                .count(),
            1
        );
    }
}
