//! `--fail-if` and `--abort-if` on the real binary, against a demo server
//! this test starts on loopback: pass, fail, stop, and bad expressions.

mod common;

use std::process::Output;
use std::time::Duration;

use common::server;

async fn run(args: &[&str]) -> Output {
    common::run_fetchtop(args).await
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_pass_and_fail_with_their_exit_statuses() {
    // Every response takes 20 ms: p50 is about 20 ms and nothing fails.
    let srv = server(Duration::from_millis(20), 0.0).await;
    let url = srv.url("/items/{1..200}");
    let base = ["--no-tui", "-q", "--json", "-c", "20", url.as_str()];

    let pass = run(&[
        &base[..],
        &["--fail-if", "p50>2s", "--fail-if", "error_rate>1%"],
    ]
    .concat())
    .await;
    assert_eq!(pass.status.code(), Some(0), "{pass:?}");
    let v = json(&pass);
    assert_eq!(v["thresholds"]["passed"], true);
    assert_eq!(v["thresholds"]["checks"][1]["expression"], "error_rate>1%");
    assert_eq!(v["thresholds"]["checks"][1]["measured"], 0.0);

    let fail = run(&[
        &base[..],
        &["--fail-if", "p50<5s", "--fail-if", "timeouts>0"],
    ]
    .concat())
    .await;
    assert_eq!(fail.status.code(), Some(3), "{fail:?}");
    let v = json(&fail);
    let checks = &v["thresholds"]["checks"];
    assert_eq!(checks[0]["passed"], false);
    assert_eq!(checks[0]["unit"], "ms");
    let p50 = checks[0]["measured"].as_f64().unwrap();
    assert!((19.0..2000.0).contains(&p50), "{p50}");
    assert_eq!(checks[1]["passed"], true);

    // The text summary names the failed one.
    let text = run(&[
        "--no-tui",
        "-q",
        "-c",
        "20",
        &url,
        "--fail-if",
        "requests<1000",
    ])
    .await;
    assert_eq!(text.status.code(), Some(3));
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("FAIL requests<1000"), "{out}");
    assert!(out.contains("measured 200"), "{out}");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_if_stops_admitting_after_the_warm_up() {
    let srv = server(Duration::from_millis(10), 0.0).await;
    // Far more items than 1 s can fetch at -c 2 (about 200).
    let url = srv.url("/items/{1..100000}");
    let o = run(&[
        "--no-tui",
        "-q",
        "--json",
        "-c",
        "2",
        &url,
        "--abort-if",
        "p50>1ms",
        "--abort-after",
        "1s",
    ])
    .await;
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let v = json(&o);
    let aborted = &v["thresholds"]["aborted"];
    assert_eq!(aborted["expression"], "p50>1ms");
    let at = aborted["at_s"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&at), "not before the warm-up: {at}");
    let total = v["total"].as_u64().unwrap();
    assert!(total < 100_000 && total > 0, "{total}");
    assert_eq!(v["cancelled"], 0, "in-flight requests finish");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_expression_is_one_line_with_its_column_and_exit_2() {
    for (expr, column, says) in [
        ("p99>300xs", "column 8", "unknown unit"),
        ("p98>1s", "column 1", "unknown metric"),
        ("error_rate 1%", "column 12", "expected a comparison"),
    ] {
        let o = run(&["--fail-if", expr, "http://127.0.0.1:1/"]).await;
        assert_eq!(o.status.code(), Some(2), "{expr}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(column) && err.contains(says), "{expr}: {err}");
    }
    let o = run(&["--abort-if", "rps<", "http://127.0.0.1:1/"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected a number"));
}
