//! A job split over three processes as a Kubernetes Indexed Job splits it
//! (JOB_COMPLETION_INDEX = 0, 1, 2), against the demo server: their outputs
//! are the job, each seq once; `fetchtop merge` of their summaries has the
//! counts of one process running the whole job and the exact percentiles of
//! every response; a shard left out is reported; `--resume` works per shard.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::Value;
use tokio::process::Command;

const ITEMS: u64 = 3000;
const SHARDS: u64 = 3;

fn fetchtop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fetchtop"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("FETCHTOP_SHARDS")
        .kill_on_drop(true);
    c
}

async fn finish(c: &mut Command) -> Output {
    let child = c.spawn().expect("fetchtop starts");
    tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("fetchtop ends within 2 minutes")
        .expect("fetchtop runs")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    common::record_lines(&text)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A run of the job (or of one shard) writing `NAME.json` and `NAME.jsonl` in `dir`.
fn job(dir: &Path, name: &str, url: &str) -> Command {
    let mut c = fetchtop();
    c.args([
        "--no-tui",
        "-q",
        "-c",
        "16",
        "--workers",
        "1",
        "--summary-file",
    ])
    .arg(dir.join(format!("{name}.json")))
    .arg("-o")
    .arg(dir.join(format!("{name}.jsonl")))
    .arg(url);
    c
}

fn merged(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "merge printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_are_the_job_and_merge_exactly() {
    let server = common::server(Duration::from_millis(3), 0.0).await;
    let url = server.url(&format!("/items/{{1..{ITEMS}}}"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The three shards at once, as the pods of an Indexed Job run.
    let shards: Vec<_> = (0..SHARDS)
        .map(|k| {
            let mut c = job(d, &format!("shard-{k}"), &url);
            c.arg("--shard-from-env")
                .env("JOB_COMPLETION_INDEX", k.to_string())
                .env("FETCHTOP_SHARDS", SHARDS.to_string());
            tokio::spawn(async move { finish(&mut c).await })
        })
        .collect();
    for (k, s) in shards.into_iter().enumerate() {
        let out = s.await.unwrap();
        assert!(
            out.status.success(),
            "shard {k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let single = finish(&mut job(d, "single", &url)).await;
    assert!(
        single.status.success(),
        "{}",
        String::from_utf8_lossy(&single.stderr)
    );

    // The union of the outputs is the job, each seq once, each in its shard.
    let mut seqs = Vec::new();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for k in 0..SHARDS {
        let summary = json(&d.join(format!("shard-{k}.json")));
        assert_eq!(summary["job_shard"]["index"], k);
        assert_eq!(summary["job_shard"]["count"], SHARDS);
        assert_eq!(summary["planned"], ITEMS / SHARDS);
        for r in records(&d.join(format!("shard-{k}.jsonl"))) {
            let seq = r["seq"].as_u64().unwrap();
            assert_eq!((seq - 1) % SHARDS, k, "seq {seq} in shard {k}'s output");
            let url = r["url"].as_str().unwrap();
            assert!(
                url.ends_with(&format!("/items/{seq}")),
                "{url} is not seq {seq}'s"
            );
            if !r["status"].is_null() {
                let us = (ms(&r["latency_ms"]) * 1000.0).round() as u64;
                hist.record(us.max(1)).unwrap();
            }
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=ITEMS).collect::<Vec<_>>(),
        "each seq of the job once"
    );

    // The merge: one process's counts, and the exact percentiles of every response.
    let mut c = fetchtop();
    c.arg("merge")
        .arg("--json")
        .arg("--check-outputs")
        .current_dir(d);
    for k in 0..SHARDS {
        c.arg(format!("shard-{k}.json"));
    }
    // The summaries name their outputs by the paths given to -o.
    let out = finish(&mut c).await;
    let m = merged(&out);
    assert!(out.status.success(), "{m}");
    assert_eq!(m["complete"], true);
    let one = json(&d.join("single.json"));
    for key in [
        "total",
        "done",
        "failed",
        "cancelled",
        "planned",
        "status",
        "errors",
        "http_versions",
    ] {
        assert_eq!(
            m[key], one[key],
            "{key}: merged {} vs one process {}",
            m[key], one[key]
        );
    }
    assert_eq!(m["seqs"]["missing"], 0);
    assert_eq!(m["seqs"]["repeated"], 0);
    assert_eq!(m["seqs"]["records"], ITEMS);
    let q = |p: f64| hist.value_at_quantile(p) as f64 / 1000.0;
    for (key, p) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
        let got = ms(&m["latency_ms"][key]);
        assert!(
            (got - q(p)).abs() < 1e-6,
            "{key}: merged {got} ms, records say {} ms",
            q(p)
        );
    }
    assert!((ms(&m["latency_ms"]["max"]) - hist.max() as f64 / 1000.0).abs() < 1e-6);
    // Another run of the same job sees the same server: its median is near.
    let (mp50, op50) = (ms(&m["latency_ms"]["p50"]), ms(&one["latency_ms"]["p50"]));
    assert!(
        mp50 >= 3.0 && op50 >= 3.0,
        "the server waits 3 ms: {mp50} {op50}"
    );
    assert!(
        mp50 < op50 * 10.0 && op50 < mp50 * 10.0,
        "medians {mp50} and {op50} ms"
    );

    // A shard left out is named, and its seqs are missing.
    let mut c = fetchtop();
    c.arg("merge").arg("--json").current_dir(d);
    c.args([
        "shard-0.json",
        "shard-2.json",
        "shard-0.jsonl",
        "shard-2.jsonl",
    ]);
    let out = finish(&mut c).await;
    assert_eq!(out.status.code(), Some(1), "an incomplete job exits 1");
    let m = merged(&out);
    assert_eq!(m["complete"], false);
    assert_eq!(m["shards"]["missing"], serde_json::json!([1]));
    assert_eq!(m["seqs"]["missing"], ITEMS / SHARDS);
    assert_eq!(m["seqs"]["missing_first"][0], 2);
    // An output given twice: every one of its seqs is repeated.
    let mut c = fetchtop();
    c.args(["merge", "--json"]).current_dir(d);
    c.args(["shard-0.json", "shard-1.json", "shard-2.json"]);
    c.args([
        "shard-0.jsonl",
        "shard-1.jsonl",
        "shard-2.jsonl",
        "shard-1.jsonl",
    ]);
    let out = finish(&mut c).await;
    assert_eq!(out.status.code(), Some(1));
    let m = merged(&out);
    assert_eq!(m["seqs"]["repeated"], ITEMS / SHARDS);
    assert_eq!(m["seqs"]["repeated_first"][0], 2);
    assert_eq!(m["seqs"]["missing"], 0);
    let mut c = fetchtop();
    c.arg("merge")
        .current_dir(d)
        .args(["shard-0.json", "shard-2.json", "shard-2.json"]);
    let out = finish(&mut c).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("missing    shard 1/3"), "{text}");
    assert!(text.contains("repeated   shard 2/3"), "{text}");

    // --resume per shard: its own file has everything; another shard's is refused.
    let mut c = job(d, "shard-1", &url);
    c.args(["--shard", "1/3", "--resume", "--json"]);
    let out = finish(&mut c).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["skipped"], ITEMS / SHARDS);
    assert_eq!(s["total"], 0);
    let mut c = fetchtop();
    c.args(["--no-tui", "-q", "--shard", "1/3", "--resume", "-o"])
        .arg(d.join("shard-0.jsonl"))
        .arg(&url);
    let out = finish(&mut c).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // The file's job line names its shard (a file without one is refused
    // by its seqs: "belongs to another shard").
    assert!(
        err.contains("the job shard differs: shard 0/3 there, shard 1/3 here"),
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn merge_refuses_what_is_not_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"total\": 1}").unwrap();
    let missing: PathBuf = dir.path().join("nope.json");
    for file in [&bad, &missing] {
        let out = finish(fetchtop().arg("merge").arg(file)).await;
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
