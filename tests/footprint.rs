//! Memory footprint of a large job, run on demand (not in CI):
//! `cargo test --release --test footprint -- --ignored --nocapture`, or
//! `bench/footprint.sh`. It asserts no timing, only memory and completeness.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 1,000,000-request run; see bench/footprint.sh"]
async fn a_million_line_list_stays_under_100_mb() {
    let lines: u64 = std::env::var("FETCHTOP_FOOTPRINT_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let srv = server(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("urls.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&list).unwrap());
        for i in 1..=lines {
            writeln!(f, "{}", srv.url(&format!("/items/{i}"))).unwrap();
        }
    }
    let out = dir.path().join("out.jsonl");
    let started = std::time::Instant::now();
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args([
            "-i",
            list.to_str().unwrap(),
            "-c",
            "500",
            "-q",
            "--json",
            "-o",
            out.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rss = v["peak_rss_mb"].as_f64().unwrap();
    println!(
        "{lines} URLs from a list at c=500: {:.1}s, {:.0} req/s, peak RSS {rss:.1} MB, output {} lines",
        started.elapsed().as_secs_f64(),
        v["rps"].as_f64().unwrap(),
        v["output"]["lines"]
    );
    assert_eq!(v["total"].as_u64(), Some(lines));
    assert_eq!(v["done"].as_u64(), Some(lines));
    assert_eq!(v["output"]["lines"].as_u64(), Some(lines));
    assert!(rss < 100.0, "peak RSS {rss} MB");
    srv.shutdown().await;
}
