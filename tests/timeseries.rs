//! `--timeseries` on the real binary against a demo server this test starts
//! on loopback: one row per second of the run, and totals that agree with
//! the JSON summary, as CSV and as JSON lines.

mod common;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;

use common::server;

async fn run(args: &[&str]) -> Output {
    common::run_fetchtop(args).await
}

fn summary(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

/// The CSV rows as maps from column to value.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, f64>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{l}");
            header
                .iter()
                .zip(cells)
                .map(|(h, c)| ((*h).to_owned(), c.parse::<f64>().unwrap()))
                .collect()
        })
        .collect()
}

/// The columns that are not error kinds.
const FIXED: [&str; 12] = [
    "t_s",
    "completed",
    "rps",
    "failed",
    "cancelled",
    "responses",
    "in_flight",
    "limit",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
];

fn sum(rows: &[BTreeMap<String, f64>], col: &str) -> u64 {
    rows.iter().map(|r| r[col]).sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_csv_row_per_second_and_totals_agree_with_the_summary() {
    // 20 ms answers, a fifth of them 500s: errors in most seconds.
    let srv = server(Duration::from_millis(20), 0.2).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.csv");
    let url = srv.url("/items/{1..100000}");
    let out = run(&[
        "--no-tui",
        "-q",
        "--json",
        "-c",
        "10",
        "--rate",
        "300",
        "-z",
        "3500ms",
        "--timeseries",
        path.to_str().unwrap(),
        &url,
    ])
    .await;
    let s = summary(&out);
    let rows = csv_rows(&std::fs::read_to_string(&path).unwrap());

    // One row per second begun: 1, 2, 3, then the last part-second.
    let elapsed = s["elapsed_s"].as_f64().unwrap();
    assert_eq!(rows.len() as f64, elapsed.ceil(), "{rows:?}");
    for (i, r) in rows.iter().enumerate().take(rows.len() - 1) {
        assert_eq!(r["t_s"], (i + 1) as f64);
    }
    let last = rows.last().unwrap()["t_s"];
    assert!((last - elapsed).abs() < 0.01, "{last} vs {elapsed}");

    // Totals: what the rows add up to is what the summary counted.
    let done = s["done"].as_u64().unwrap();
    let failed = s["failed"].as_u64().unwrap();
    assert!(done > 300, "{s}");
    assert!(failed > 0, "{s}");
    assert_eq!(sum(&rows, "completed"), done + failed);
    assert_eq!(sum(&rows, "failed"), failed);
    assert_eq!(sum(&rows, "cancelled"), s["cancelled"].as_u64().unwrap());
    let kinds = s["errors"].as_object().unwrap();
    assert!(!kinds.is_empty());
    for (kind, n) in kinds {
        assert_eq!(sum(&rows, kind), n.as_u64().unwrap(), "{kind}");
    }
    // And the kinds it did not see are 0 in every row.
    let kind_columns = rows[0].keys().filter(|k| !FIXED.contains(&k.as_str()));
    for kind in kind_columns {
        if !kinds.contains_key(kind) {
            assert_eq!(sum(&rows, kind), 0, "{kind}");
        }
    }

    // Each second's latency is of that second's answers: about 20 ms, and
    // the slowest of any second is the run's slowest (to the histograms'
    // precision).
    for r in &rows[..rows.len() - 1] {
        assert!((19.0..200.0).contains(&r["p50_ms"]), "{r:?}");
        assert!(
            r["p50_ms"] <= r["p90_ms"] && r["p90_ms"] <= r["p99_ms"] && r["p99_ms"] <= r["max_ms"]
        );
        assert_eq!(r["limit"], 10.0);
        assert!(r["rps"] > 50.0 && r["rps"] < 400.0, "{r:?}");
    }
    let max = rows.iter().map(|r| r["max_ms"]).fold(0.0, f64::max);
    let run_max = s["latency_ms"]["max"].as_f64().unwrap();
    assert!(
        (max - run_max).abs() <= run_max * 0.01,
        "{max} vs {run_max}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_by_its_extension_and_a_bad_path_is_a_usage_error() {
    let srv = server(Duration::from_millis(5), 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let url = srv.url("/items/{1..300}");
    let out = run(&[
        "--no-tui",
        "-q",
        "--json",
        "-c",
        "20",
        "--timeseries",
        path.to_str().unwrap(),
        &url,
    ])
    .await;
    let s = summary(&out);
    let text = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len() as f64, s["elapsed_s"].as_f64().unwrap().ceil());
    let completed: u64 = rows.iter().map(|r| r["completed"].as_u64().unwrap()).sum();
    assert_eq!(completed, 300);
    assert!(
        rows.iter()
            .all(|r| r["errors"].as_object().unwrap().is_empty())
    );

    let bad = dir.path().join("no/such/dir/run.csv");
    let out = run(&[
        "--no-tui",
        "-q",
        "--timeseries",
        bad.to_str().unwrap(),
        &url,
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("time series file") && err.lines().count() == 1,
        "{err}"
    );
}
