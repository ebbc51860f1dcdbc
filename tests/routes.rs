//! Where connections go, run through the binary as a user would:
//! `--unix-socket`, `--resolve` and `--connect-to` (the URL's host stays
//! in the `Host` header and the TLS name), and the one-line errors with
//! exit status 2 for every new flag's bad values.

mod common;

use std::process::{Command, Output};

use common::origin;
use common::pki::Ca;

fn fetchtop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(["--no-tui", "-q"])
        .args(args)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .unwrap()
}

/// Runs the binary off the test's runtime (its servers keep serving).
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fetchtop(&args)
    })
    .await
    .unwrap()
}

fn records(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    common::record_lines(&text)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_carries_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let log = origin::unix(&socket).await;
    let out = dir.path().join("out.jsonl");
    for transport in ["auto", "reqwest"] {
        let o = run(vec![
            "--unix-socket".into(),
            socket.display().to_string(),
            "--transport".into(),
            transport.into(),
            "http://api.local/items/{1..3}".into(),
            "-o".into(),
            out.display().to_string(),
        ])
        .await;
        assert!(
            o.status.success(),
            "{transport}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let recs = records(&out);
        assert_eq!(recs.len(), 3);
        assert!(
            recs.iter()
                .all(|r| r["state"] == "done" && r["status"] == 200),
            "{recs:?}"
        );
    }
    let seen = log.all();
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|s| s.host == "api.local"), "{seen:?}");
    let mut paths: Vec<_> = seen.iter().map(|s| s.path.clone()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths, ["/items/1", "/items/2", "/items/3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_and_connect_to_keep_the_name_and_change_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, plain_log) = origin::http().await;
    let ca = Ca::new(dir.path(), "routes");
    let leaf = ca.server("api", &["api.example.test"], false);
    let (tls, tls_log) = origin::https(origin::Tls {
        chain: leaf.chain,
        key: leaf.key,
        client_ca: None,
        h2: false,
    })
    .await;
    let out = dir.path().join("out.jsonl");
    let o = run(vec![
        "--resolve".into(),
        format!("api.example.test:{}:127.0.0.1", plain.port()),
        format!("http://api.example.test:{}/r", plain.port()),
        "-o".into(),
        out.display().to_string(),
    ])
    .await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(records(&out)[0]["status"], 200);
    assert_eq!(
        plain_log.all()[0].host,
        format!("api.example.test:{}", plain.port())
    );
    // https: the certificate is checked against the URL's name, not the address.
    for transport in ["auto", "reqwest"] {
        let o = run(vec![
            "--cacert".into(),
            ca.pem.display().to_string(),
            "--transport".into(),
            transport.into(),
            "--resolve".into(),
            format!("api.example.test:{}:127.0.0.1", tls.port()),
            format!("https://api.example.test:{}/tls", tls.port()),
            "-o".into(),
            out.display().to_string(),
        ])
        .await;
        assert!(
            o.status.success(),
            "{transport}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(records(&out)[0]["status"], 200, "{transport}");
    }
    // --connect-to moves a host and port to another.
    let o = run(vec![
        "--cacert".into(),
        ca.pem.display().to_string(),
        "--connect-to".into(),
        format!("api.example.test:443:127.0.0.1:{}", tls.port()),
        "https://api.example.test/moved".into(),
        "-o".into(),
        out.display().to_string(),
    ])
    .await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(records(&out)[0]["status"], 200);
    let last = tls_log.all().pop().unwrap();
    assert_eq!(
        (last.host.as_str(), last.path.as_str()),
        ("api.example.test", "/moved")
    );
}

#[test]
fn bad_values_are_one_line_errors_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "bad");
    let a = ca.client("a", "a");
    let b = ca.client("b", "b");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--cacert".into(), "/nonexistent/ca.pem".into()],
            "--cacert /nonexistent/ca.pem",
        ),
        (
            vec!["--cacert".into(), not_pem.display().to_string()],
            "no certificate in it",
        ),
        (
            vec![
                "--cert".into(),
                a.cert_pem.display().to_string(),
                "--key".into(),
                b.key_pem.display().to_string(),
            ],
            "the key does not match the certificate",
        ),
        (
            vec!["-x".into(), "ftp://proxy:21".into()],
            "unsupported proxy scheme \"ftp\"",
        ),
        (
            vec!["--proxy".into(), "http://u:hunter2@".into()],
            "no proxy host",
        ),
        (
            vec!["--resolve".into(), "api.test:443".into()],
            "no address",
        ),
        (vec!["--connect-to".into(), "a:1:b".into()], "four fields"),
        (
            vec!["--unix-socket".into(), "/nonexistent/sock".into()],
            "/nonexistent/sock",
        ),
        (
            vec!["--http2".into(), "--http1.1".into()],
            "cannot be used with",
        ),
        (
            vec![
                "--connect-to".into(),
                "a:1:b:2".into(),
                "--transport".into(),
                "reqwest".into(),
            ],
            "--connect-to needs the lean transport",
        ),
    ];
    for (args, says) in cases {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push("http://127.0.0.1:9/x");
        let o = fetchtop(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
