//! Helpers shared by the integration tests: a demo server on loopback, an
//! engine run with its records collected, and polling with a deadline.
#![allow(dead_code)]

pub mod origin;
pub mod pki;

use std::time::Duration;

use fetchtop::demo::{DemoServer, ServerConfig};
use fetchtop::engine::source::Template;
use fetchtop::engine::{Engine, EngineConfig, EngineHandle, Record, Source, SourceSpec};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How the job line (the first line of an `-o` file) starts; records follow it.
pub const JOB_LINE: &str = "{\"kind\":\"job\"";

/// The record lines of JSONL text (the job line left out).
pub fn record_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.starts_with(JOB_LINE))
}

/// A demo server on 127.0.0.1 with a fixed latency and no injected errors.
pub async fn server(latency: Duration, error_rate: f64) -> DemoServer {
    fetchtop::sys::raise_fd_limit();
    DemoServer::start(ServerConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        latency_min: latency,
        latency_max: latency,
        error_rate,
        items: 1_000_000,
        ..ServerConfig::default()
    })
    .await
    .expect("demo server starts")
}

/// A template source over `/items/{1..n}` of `server`.
pub async fn items(server: &DemoServer, n: u64) -> Source {
    let url = server.url(&format!("/items/{{1..{n}}}"));
    let t = Template::parse(&url).unwrap().unwrap();
    Source::open(SourceSpec::Template(t), None).await.unwrap()
}

/// An engine run whose records are collected in memory.
pub struct Run {
    pub handle: EngineHandle,
    records: JoinHandle<Vec<Record>>,
}

impl Run {
    pub fn start(config: EngineConfig, source: Source) -> Run {
        let (tx, mut rx) = mpsc::channel(1024);
        let handle = Engine::spawn(config, source, Some(tx)).unwrap();
        let records = tokio::spawn(async move {
            let mut out = Vec::new();
            while let Some(r) = rx.recv().await {
                out.push(r);
            }
            out
        });
        Run { handle, records }
    }

    /// Waits (with a deadline) for the run to end; returns the final snapshot and the records.
    pub async fn finish(self, deadline: Duration) -> (fetchtop::snapshot::Snapshot, Vec<Record>) {
        let snap = tokio::time::timeout(deadline, self.handle.wait())
            .await
            .expect("run ends before the deadline")
            .unwrap();
        let records = self.records.await.unwrap();
        (snap, records)
    }
}

/// Fetches `urls` on one shard, `concurrency` at a time, with `request`
/// on `transport`; the records in seq order, one per URL.
pub async fn fetch_urls(
    urls: &[String],
    request: fetchtop::engine::RequestOptions,
    transport: fetchtop::engine::TransportChoice,
    concurrency: u64,
) -> Vec<Record> {
    let source = Source::from_reader(
        std::io::Cursor::new(urls.join("\n").into_bytes()),
        "test list",
        None,
    );
    let config = EngineConfig {
        concurrency,
        request,
        transport,
        shards: 1,
        ..EngineConfig::default()
    };
    let (_, mut records) = Run::start(config, source)
        .finish(Duration::from_secs(30))
        .await;
    records.sort_by_key(|r| r.seq);
    assert_eq!(records.len(), urls.len(), "one record per URL");
    records
}

/// Runs the fetchtop binary with `args` to its end (at most a minute),
/// stdin closed, its output kept.
pub async fn run_fetchtop(args: &[&str]) -> std::process::Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("fetchtop ends")
        .unwrap()
}

/// Polls `pred` every 10 ms until it holds; panics with `what` after `deadline`.
pub async fn wait_until(what: &str, deadline: Duration, mut pred: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + deadline;
    while !pred() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Config with a given limit and otherwise defaults.
pub fn config(concurrency: u64) -> EngineConfig {
    EngineConfig {
        concurrency,
        ..EngineConfig::default()
    }
}

/// A drawn screen as text, one line per row (for messages and `contains`).
pub fn screen_text(b: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            out.push_str(b[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
