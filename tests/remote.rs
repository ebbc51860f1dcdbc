//! `--metrics`: /control's bearer token (none, wrong, valid), a malformed
//! body, a command for a finished run; and a real Prometheus scraping three
//! job shards, asked through its HTTP API for the summed request rate and
//! the per-shard series.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const TOKEN: &str = "test-token-0123456789abcdef";

/// A fetchtop instance serving --metrics.
struct Instance {
    child: Child,
    base: String,
    /// The generated token and its file, when none was given.
    generated: Option<(String, PathBuf)>,
}

/// Starts fetchtop with `args` and `--metrics 127.0.0.1:0`, and reads from
/// its stderr where it serves (and the token it made).
async fn instance(args: &[&str]) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(["--no-tui", "-q", "--metrics", "127.0.0.1:0"])
        .args(args)
        .env_remove("FETCHTOP_CONTROL_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("fetchtop starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let wants_token = !args.contains(&"--control-token");
    let (mut base, mut generated) = (None, None);
    while base.is_none() || (wants_token && generated.is_none()) {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("fetchtop says where it serves")
            .unwrap()
            .unwrap_or_else(|| panic!("stderr ended early; base {base:?}"));
        if line.contains("serving /metrics") {
            assert!(line.contains("this machine only"), "{line}");
            base = line
                .split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
                .map(str::to_string);
        } else if let Some(rest) = line.strip_prefix("fetchtop: /control token: ") {
            let token = rest.split_whitespace().next().unwrap().to_string();
            let path = rest
                .split("also in ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .map(PathBuf::from)
                .expect("the token file is named");
            generated = Some((token, path));
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Instance {
        child,
        base: base.unwrap(),
        generated,
    }
}

impl Instance {
    /// Ends it as a user would (SIGTERM) and waits for it.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling a child this test started and still holds.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }

    async fn snapshot(&self) -> Value {
        let body = reqwest::get(format!("{}/snapshot", self.base))
            .await
            .expect("/snapshot answers")
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    async fn control(&self, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .post(format!("{}/control", self.base))
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("/control answers");
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Polls /snapshot until `pred` holds.
    async fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.snapshot().await;
            if pred(&s) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting for {what}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_needs_the_token_and_a_running_run() {
    let server = common::server(Duration::from_millis(20), 0.0).await;
    let url = server.url("/items/1");
    let fx = instance(&[
        "-c",
        "3",
        "-z",
        "6s",
        "--control-token",
        TOKEN,
        "--metrics-grace",
        "60s",
        &url,
    ])
    .await;
    assert!(fx.generated.is_none(), "a given token is not replaced");
    let s = fx.snapshot().await;
    assert_eq!(s["limit"], 3);
    assert_eq!(s["latency_histogram"]["format"], "hdrhistogram-v2+base64");
    let limit_cmd = r#"{"command":"set_limit","limit":9}"#;

    let (status, body) = fx.control(None, limit_cmd).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = fx
        .control(Some("test-token-0123456789abcdeX"), limit_cmd)
        .await;
    assert_eq!(status, 401);
    let (status, _) = fx.control(Some(&TOKEN[..TOKEN.len() - 1]), limit_cmd).await;
    assert_eq!(status, 401);
    let (status, body) = fx.control(Some(TOKEN), "{\"command\":\"set_limit\",").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not a command"),
        "{body}"
    );
    let (status, _) = fx
        .control(Some(TOKEN), r#"{"command":"set_limit","limit":-4}"#)
        .await;
    assert_eq!(status, 400);
    // Nothing above changed anything.
    let s = fx.snapshot().await;
    assert_eq!(
        (s["limit"].as_u64(), s["commands"].as_u64()),
        (Some(3), Some(0)),
        "{s}"
    );

    let (status, body) = fx.control(Some(TOKEN), limit_cmd).await;
    assert_eq!(status, 200, "{body}");
    fx.wait_for("limit 9", |s| s["limit"] == 9).await;
    let (status, _) = fx.control(Some(TOKEN), r#"{"command":"pause"}"#).await;
    assert_eq!(status, 200);
    fx.wait_for("paused", |s| s["paused"] == true).await;
    let (status, _) = fx.control(Some(TOKEN), r#"{"command":"resume"}"#).await;
    assert_eq!(status, 200);
    fx.wait_for("resumed", |s| s["paused"] == false).await;

    // The run ends (-z) and the endpoint stays for its grace period.
    let s = fx
        .wait_for("the end of the run", |s| s["state"] == "finished")
        .await;
    assert!(s["counts"]["done"].as_u64().unwrap() > 0, "{s}");
    let (status, body) = fx.control(Some(TOKEN), limit_cmd).await;
    assert_eq!(status, 409, "{body}");
    let metrics = reqwest::get(format!("{}/metrics", fx.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("fetchtop_finished{shard=\"0\"} 1"),
        "{metrics}"
    );
    let (status, _) = fx.control(Some(TOKEN), r#"{"command":"pause"}"#).await;
    assert_eq!(status, 409);
    fx.stop().await;
    server.shutdown().await;
}

/// The Prometheus binary, or why the test cannot run.
fn prometheus() -> Option<PathBuf> {
    let found = std::process::Command::new("prometheus")
        .arg("--version")
        .output();
    match found {
        Ok(out) if out.status.success() => Some(PathBuf::from("prometheus")),
        _ => {
            eprintln!(
                "SKIPPED: the prometheus binary is not installed (Debian package `prometheus`; .ci/run installs it)"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn query(prom: &str, q: &str) -> Value {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let resp = reqwest::get(format!("{prom}/api/v1/query?query={encoded}")).await;
    match resp {
        Ok(r) => match r.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        },
        Err(_) => Value::Null,
    }
}

fn results(v: &Value) -> Vec<Value> {
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn write_config(dir: &Path, targets: &[String]) -> PathBuf {
    let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fetchtop\n    static_configs:\n      - targets: [{}]\n",
        quoted.join(", ")
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_three_shards() {
    let Some(bin) = prometheus() else { return };
    let server = common::server(Duration::from_millis(5), 0.0).await;
    let url = server.url("/items/1");
    let mut shards = Vec::new();
    for k in 0..3 {
        let part = format!("{k}/3");
        shards.push(
            instance(&[
                "--shard",
                &part,
                "-c",
                "4",
                "--rate",
                "40",
                "-z",
                "25s",
                "--metrics-grace",
                "5s",
                &url,
            ])
            .await,
        );
    }
    // A generated token is written where only its owner can read it.
    let (token, path) = shards[0].generated.clone().expect("a generated token");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    }
    let (status, _) = shards[0]
        .control(Some(&token), r#"{"command":"set_rate","rate":40}"#)
        .await;
    assert_eq!(status, 200);

    let dir = tempfile::tempdir().unwrap();
    let targets: Vec<String> = shards
        .iter()
        .map(|s| s.base.trim_start_matches("http://").to_string())
        .collect();
    let config = write_config(dir.path(), &targets);
    let port = free_port();
    let mut prom = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    let prom_url = format!("http://127.0.0.1:{port}");

    // Three instances of 40 requests per second: about 120 in all.
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    let rate = loop {
        let v = query(&prom_url, "sum(rate(fetchtop_requests_total[4s]))").await;
        let up = results(&query(&prom_url, "sum(up{job=\"fetchtop\"})").await);
        let rate = results(&v)
            .first()
            .and_then(|r| r["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()));
        let all_up = up.first().and_then(|r| r["value"][1].as_str()) == Some("3");
        if let (Some(rate), true) = (rate, all_up)
            && rate > 60.0
        {
            break rate;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "no summed rate from Prometheus: {v}, up {up:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        (60.0..=180.0).contains(&rate),
        "summed rate {rate}/s, 120/s asked"
    );
    let series = results(&query(&prom_url, "fetchtop_requests_total").await);
    let mut labels: Vec<String> = series
        .iter()
        .map(|s| s["metric"]["shard"].as_str().unwrap_or("?").to_string())
        .collect();
    labels.sort();
    assert_eq!(labels, ["0", "1", "2"], "{series:?}");
    let buckets = results(
        &query(
            &prom_url,
            "sum by (le) (fetchtop_request_duration_seconds_bucket)",
        )
        .await,
    );
    assert_eq!(
        buckets.len(),
        16,
        "one series per fixed bucket: {buckets:?}"
    );
    // The classic text (what a client gets without asking for OpenMetrics)
    // passes Prometheus's own linter, shipped in the same package.
    let classic = reqwest::get(format!("{}/metrics", shards[1].base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        classic.contains("# TYPE fetchtop_requests_total counter"),
        "{classic}"
    );
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool comes with prometheus");
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = promtool.stdin.take().unwrap();
        stdin.write_all(classic.as_bytes()).await.unwrap();
    }
    let checked = promtool.wait_with_output().await.unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let _ = prom.kill().await;
    for s in shards {
        s.stop().await;
    }
    assert!(
        !path.exists(),
        "the token file goes with the run: {}",
        path.display()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_address_in_use_stops_fetchtop_before_it_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args([
            "--no-tui",
            "-q",
            "--metrics",
            &port.to_string(),
            "http://127.0.0.1:9/",
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot serve --metrics on 127.0.0.1:"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    drop(taken);
}
