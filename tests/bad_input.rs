//! Bad input through the real binary: each bad flag, URL or template is a
//! one-line start-up error with exit status 2; each bad line of a list is a
//! failed item that names its line, while the run goes on.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::{JOB_LINE, server};
use tokio::process::Command;

/// Hang guard for one run of the binary.
const DEADLINE: Duration = Duration::from_secs(30);

async fn fetchtop(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("fetchtop starts");
    tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("fetchtop {args:?} did not end"))
        .expect("fetchtop runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_urls_and_templates_are_one_line_startup_errors() {
    // Nothing listens here: a run that got past start-up would fail its
    // item, not exit 2.
    let u = "http://127.0.0.1:9/items/1";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Templates: reversed, empty, half-empty, overflowing, enormous, two, unclosed.
        (
            vec!["http://127.0.0.1:9/{9..1}"],
            "start 9 is greater than end 1",
        ),
        (
            vec!["http://127.0.0.1:9/{..}"],
            "the start number is missing",
        ),
        (
            vec!["http://127.0.0.1:9/{5..}"],
            "the end number is missing",
        ),
        (
            vec!["http://127.0.0.1:9/{a..b}"],
            "is not a non-negative whole number",
        ),
        (
            vec!["http://127.0.0.1:9/{0..99999999999999999999}"],
            "is too large",
        ),
        (
            vec!["http://127.0.0.1:9/{0..18446744073709551615}"],
            "more than the 10000000000 a run accepts",
        ),
        (
            vec!["http://127.0.0.1:9/{1..2}/{3..4}"],
            "only one {a..b} range",
        ),
        (vec!["http://127.0.0.1:9/{1..5"], "unclosed range"),
        // URLs on the command line.
        (vec!["file:///etc/passwd"], "unsupported scheme \"file\""),
        (vec!["ftp://127.0.0.1/x"], "unsupported scheme \"ftp\""),
        (
            vec!["javascript:alert(1)"],
            "unsupported scheme \"javascript\"",
        ),
        (vec!["127.0.0.1:9/items/1"], "missing scheme"),
        (vec!["example.test/items/1"], "missing scheme"),
        (vec!["http://127.0.0.1:9/a b"], "contains whitespace"),
        (vec!["   "], "the URL is empty"),
        // Headers.
        (vec!["-H", "NoColon", u], "has no colon"),
        (
            vec!["-H", "X-A: a\nb", u],
            "control characters such as newlines",
        ),
        (vec!["-H", "X-A: a\rb", u], "control characters"),
        (vec!["-H", "Bad Name: x", u], "invalid header name"),
        (vec!["-H", ": x", u], "invalid header name"),
        // Limits.
        (vec!["-c", "1000001", u], "1000001 is not in 0..=1000000"),
        (vec!["-c", "-1", u], "unexpected argument '-1'"),
        (vec!["-c", "0", u], "-c 0 starts paused"),
        (vec!["--rate", "0", u], "it must be more than 0"),
        (vec!["--rate", "-5", u], "it must be more than 0"),
        (vec!["--rate", "fast", u], "give requests per second"),
        (vec!["--rate", "inf", u], "it must be more than 0"),
        (vec!["--retries", "101", u], "101 is not in 0..=100"),
        (vec!["--max-backoff", "0s", u], "must be more than zero"),
        (vec!["-t", "soon", u], "invalid duration"),
        // Files.
        (
            vec!["-i", "/nonexistent/list.txt"],
            "cannot read input file",
        ),
        (vec!["-i", ""], "a value is required for '--input <FILE>'"),
    ];
    for (args, says) in cases {
        let mut full = vec!["--no-tui", "-q"];
        full.extend(&args);
        let o = fetchtop(&full).await;
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: expected {says:?} in {err:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err:?}");
        assert!(err.starts_with("fetchtop: "), "{args:?}: {err:?}");
        assert!(!err.contains('\r'), "{args:?}: {err:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err:?}");
        assert!(o.stdout.is_empty(), "{args:?}: nothing ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_lines_fail_alone_with_their_line_numbers() {
    let srv = server(Duration::ZERO, 0.0).await;
    let good = |i: u32| srv.url(&format!("/items/{i}"));
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    let out = dir.path().join("out.jsonl");
    // (line bytes, expected error kind and text; None: a good line)
    let lines: Vec<(Vec<u8>, Option<&str>)> = vec![
        (good(1).into_bytes(), None),
        (
            b"http://127.0.0.1/\xff\xfe".to_vec(),
            Some("input: line is not valid UTF-8"),
        ),
        (good(2).into_bytes(), None),
        (
            b"http://127.0.0.1/a\0b".to_vec(),
            Some("input: line contains a NUL byte"),
        ),
        (
            format!("http://127.0.0.1/{}", "a".repeat(1024 * 1024)).into_bytes(),
            Some("input: line is longer than 65536 bytes"),
        ),
        (
            b"file:///etc/passwd".to_vec(),
            Some("invalid_url: unsupported scheme \"file\""),
        ),
        (
            b"ftp://127.0.0.1/x".to_vec(),
            Some("invalid_url: unsupported scheme \"ftp\""),
        ),
        (
            b"javascript:alert(1)".to_vec(),
            Some("invalid_url: unsupported scheme \"javascript\""),
        ),
        (
            format!("{} extra", good(3)).into_bytes(),
            Some("invalid_url: contains whitespace"),
        ),
        (
            b"127.0.0.1/items/1".to_vec(),
            Some("invalid_url: missing scheme"),
        ),
        (good(4).into_bytes(), None),
    ];
    let mut bytes = Vec::new();
    for (line, _) in &lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    std::fs::write(&list, bytes).unwrap();
    let o = fetchtop(&[
        "--no-tui",
        "-q",
        "--json",
        "-o",
        out.to_str().unwrap(),
        "-i",
        list.to_str().unwrap(),
    ])
    .await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut records: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.starts_with(JOB_LINE))
        .map(|l| serde_json::from_str(l).expect("whole JSON lines"))
        .collect();
    records.sort_by_key(|r| r["line"].as_u64());
    assert_eq!(records.len(), lines.len(), "one record per line");
    for (i, ((_, want), r)) in lines.iter().zip(&records).enumerate() {
        assert_eq!(r["line"].as_u64(), Some(i as u64 + 1), "{r}");
        match want {
            None => {
                assert_eq!(r["state"], "done", "line {}: {r}", i + 1);
                assert_eq!(r["status"], 200);
            }
            Some(says) => {
                assert_eq!(r["state"], "failed", "line {}: {r}", i + 1);
                let e = r["error"].as_str().unwrap_or_default();
                assert!(e.starts_with(says), "line {}: {e}", i + 1);
                assert!(e.len() < 1000, "line {}: the message is bounded", i + 1);
            }
        }
    }
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["done"], 3);
    assert_eq!(summary["failed"], 8);
    srv.shutdown().await;
}
