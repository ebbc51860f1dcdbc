//! The real binary, run as a script would run it: headless, against a demo
//! server this test starts on loopback.

mod common;

use std::collections::HashSet;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{JOB_LINE, server, wait_until};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

fn fetchtop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fetchtop"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.kill_on_drop(true);
    c
}

async fn run(args: &[&str]) -> Output {
    let child = fetchtop().args(args).spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("fetchtop ends")
        .unwrap()
}

/// Sends SIGINT, as Ctrl-C in a terminal would.
#[cfg(unix)]
fn interrupt(child: &tokio::process::Child) {
    let pid = child.id().expect("child is running") as libc::pid_t;
    // SAFETY: kill(2) with a pid we own and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5000_item_template_run_writes_every_item_once() {
    let srv = server(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("items.jsonl");
    let url = srv.url("/items/{1..5000}");
    let summary_file = dir.path().join("summary.json");
    let o = run(&[
        "--summary-file",
        summary_file.to_str().unwrap(),
        "--no-tui",
        "--json",
        "-c",
        "50",
        "-o",
        out.to_str().unwrap(),
        "--extract",
        "/id",
        "--keep-body",
        &url,
    ])
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));

    // stdout is exactly one JSON object.
    let stdout = text(&o.stdout);
    assert_eq!(stdout.trim_end().lines().count(), 1, "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let written = std::fs::read_to_string(&summary_file).unwrap();
    assert_eq!(
        written.trim(),
        stdout.trim(),
        "--summary-file holds the same summary"
    );
    let n = |k: &str| summary[k].as_u64().unwrap();
    assert_eq!(n("total"), 5000);
    assert_eq!(n("done") + n("failed") + n("cancelled"), n("total"));
    assert_eq!(summary["status"]["200"].as_u64(), Some(n("done")));
    for k in ["p50", "p90", "p99", "p999", "max"] {
        assert!(summary["latency_ms"][k].is_f64(), "{k}");
    }
    assert!(summary["rps"].as_f64().unwrap() > 0.0);

    let file = std::fs::read_to_string(&out).unwrap();
    assert!(file.ends_with('\n'));
    assert!(file.starts_with(JOB_LINE), "{file}");
    let mut seqs = HashSet::new();
    for line in file.lines().filter(|l| !l.starts_with(JOB_LINE)) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        assert!(seqs.insert(seq), "seq {seq} twice");
        assert_eq!(v["url"], srv.url(&format!("/items/{seq}")));
        assert_eq!(v["state"], "done");
        assert_eq!(v["status"], 200);
        assert_eq!(v["attempts"], 1);
        assert!(v["error"].is_null());
        assert!(v["latency_ms"].as_f64().unwrap() >= v["ttfb_ms"].as_f64().unwrap());
        assert_eq!(v["fields"]["/id"], seq);
        assert_eq!(v["body"]["id"], seq);
        assert_eq!(v["body"]["name"], format!("item-{seq}"));
        assert_eq!(
            v["bytes"].as_u64().unwrap(),
            serde_json::to_vec(&v["body"]).unwrap().len() as u64
        );
    }
    assert_eq!(seqs.len(), 5000);
    assert_eq!(seqs.iter().max(), Some(&5000));
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["-i", "/nonexistent/urls.txt"],
        &["http://127.0.0.1:9/items/{5..}"],
        &["http://127.0.0.1:9/items/{a..b}"],
        &["-H", "NoColon", "http://127.0.0.1:9/"],
        &["-c", "lots", "http://127.0.0.1:9/"],
        &["--data-file", "/nonexistent/body", "http://127.0.0.1:9/"],
        &["-o", "/nonexistent/dir/out.jsonl", "http://127.0.0.1:9/"],
        &["-c", "0", "http://127.0.0.1:9/"],
        &["ftp://127.0.0.1:9/file"],
        &["http://127.0.0.1:9/{1..2}/{3..4}"],
    ];
    for args in cases {
        let o = run(args).await;
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.contains("error") || first.starts_with("fetchtop:"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Our own checks say exactly one line.
    for args in [
        &["-i", "/nonexistent/urls.txt"][..],
        &["http://h/{a..b}"][..],
    ] {
        let o = run(args).await;
        assert_eq!(
            text(&o.stderr).trim_end().lines().count(),
            1,
            "{}",
            text(&o.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_arguments_point_to_demo_and_help() {
    let o = run(&[]).await;
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("fetchtop demo") && err.contains("--help"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_urls_from_stdin_and_reports_progress_plainly() {
    let srv = server(Duration::from_millis(20), 0.0).await;
    let mut child = fetchtop()
        .args(["-i", "-", "-c", "2"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut list = String::from("# items\n");
    for i in 1..=150 {
        list += &format!("{}\n", srv.url(&format!("/items/{i}")));
    }
    list += "\nnot a url\n";
    stdin.write_all(list.as_bytes()).await.unwrap();
    drop(stdin);
    let o = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("items      151 (done 150, failed 1, cancelled 0)"),
        "{out}"
    );
    assert!(out.contains("invalid_url: 1"), "{out}");
    // stderr is not a terminal here: plain progress lines, no escape codes.
    let err = text(&o.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("[00:0") && l.contains("in flight")),
        "{err}"
    );
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    srv.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_in_flight_and_still_writes_everything() {
    let srv = server(Duration::from_secs(60), 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let url = srv.url("/items/{1..1000}");
    let child = fetchtop()
        .args([
            "--json",
            "-q",
            "-c",
            "100",
            "-o",
            out.to_str().unwrap(),
            &url,
        ])
        .spawn()
        .unwrap();
    wait_until(
        "100 in flight at the server",
        Duration::from_secs(30),
        || srv.stats().in_flight == 100,
    )
    .await;
    interrupt(&child);
    let o = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["cancelled"], 100);
    assert_eq!(summary["planned"], 1000);
    let file = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        file.lines().filter(|l| !l.starts_with(JOB_LINE)).count(),
        100
    );
    for line in file.lines().filter(|l| !l.starts_with(JOB_LINE)) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["state"], "cancelled");
        assert!(v["error"].as_str().unwrap().starts_with("cancelled: "));
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_headless_against_its_own_server() {
    let o = run(&[
        "demo",
        "--items",
        "300",
        "--latency",
        "1ms..5ms",
        "--error-rate",
        "0.1",
        "--json",
        "-c",
        "20",
    ])
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(v["total"], 300);
    assert_eq!(v["planned"], 300);
    let failed = v["failed"].as_u64().unwrap();
    assert_eq!(v["errors"]["http_5xx"].as_u64().unwrap_or(0), failed);
    assert!(failed > 0 && failed < 100, "about 10% fail: {failed}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_stats_and_stops_on_ctrl_c() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = fetchtop()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--latency",
            "0ms",
            "--error-rate",
            "0",
        ])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let req = client.get(format!("{base}{path}"));
        async move {
            serde_json::from_slice::<serde_json::Value>(
                &req.send().await.unwrap().bytes().await.unwrap(),
            )
            .unwrap()
        }
    };
    let item = get("/items/7").await;
    assert_eq!(item["name"], "item-7");
    let stats = get("/stats").await;
    assert_eq!(stats["requests"], 1);
    interrupt(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// A full disk (/dev/full) stops the run at the first failed write: exit
/// status 4, at once, saying what failed and that nothing is in the file,
/// and the summary counts no line that was not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_error_stops_the_run_at_once_with_status_4() {
    let srv = server(Duration::from_millis(20), 0.0).await;
    // 100,000 items at -c 50 and 20 ms would take 40 s.
    let url = srv.url("/items/{1..100000}");
    let started = std::time::Instant::now();
    let mut c = fetchtop();
    // A backtrace captured for the error would slow the exit; not what is measured.
    c.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    c.args(["--json", "-q", "-c", "50", "-o", "/dev/full", &url]);
    let child = c.spawn().unwrap();
    let o = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("fetchtop stops")
        .unwrap();
    let took = started.elapsed();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot write output file /dev/full"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("0 items are safely in /dev/full"), "{err}");
    let summary: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(summary["output"]["lines"], 0, "{summary}");
    assert!(summary["total"].as_u64().unwrap() < 100_000, "{summary}");
    srv.shutdown().await;
}
