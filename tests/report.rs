//! `--report` and `fetchtop report`, opened in a real headless Chromium (the
//! Debian package, installed by `.ci/run`): the page renders, every chart
//! is laid out, and the numbers in its DOM are the JSON summary's; a
//! report made from a recording shows the run's thresholds as the run
//! judged them.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::server;
use tokio::process::Command;

async fn run(args: &[&str]) -> Output {
    common::run_fetchtop(args).await
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The DOM after Chromium loaded the page and ran its script.
async fn dom(browser: &str, page: &Path, profile: &Path) -> String {
    let child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1100,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("chromium ends")
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The text of the element that starts at `open` (up to its closing `close`).
fn element<'a>(dom: &'a str, open: &str, close: &str) -> &'a str {
    let start = dom
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the DOM"));
    let rest = &dom[start..];
    &rest[..rest.find(close).unwrap_or(rest.len())]
}

/// The `data-key` cells of a table: (key, text).
fn cells(table: &str) -> Vec<(String, String)> {
    table
        .split("<td data-key=\"")
        .skip(1)
        .map(|c| {
            let (key, rest) = c.split_once("\">").unwrap();
            let value = &rest[..rest.find("</td>").unwrap()];
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn check_page(dom: &str, summary: &serde_json::Value) {
    // The page's script ran after layout: it counts the charts drawn with a size.
    assert!(
        dom.contains("data-charts=\"5\""),
        "{}",
        &dom[..dom.len().min(400)]
    );
    for id in [
        "chart-throughput",
        "chart-concurrency",
        "chart-latency",
        "chart-lag",
        "chart-histogram",
    ] {
        let fig = element(dom, &format!("<figure id=\"{id}\""), "</figure>");
        assert!(fig.contains("<svg"), "{id}");
        // Lines are polylines; the histogram's bars are rectangles (plus
        // the chart's background).
        let (mark, least) = if id == "chart-histogram" {
            ("<rect", 10)
        } else {
            ("<polyline", 1)
        };
        let marks = fig.matches(mark).count();
        assert!(marks >= least, "{id}: {marks} {mark}");
    }
    // Every summary number shown is the JSON summary's.
    let shown = cells(element(dom, "<table id=\"summary\"", "</table>"));
    assert!(shown.len() >= 15, "{shown:?}");
    for (key, text) in &shown {
        let mut want = summary;
        for part in key.split('.') {
            want = &want[part];
        }
        let got: f64 = text.parse().unwrap_or_else(|_| panic!("{key}: {text}"));
        assert_eq!(Some(got), want.as_f64(), "{key}");
    }
    for (table, field) in [("status", "status"), ("errors", "errors")] {
        let shown = cells(element(dom, &format!("<table id=\"{table}\""), "</table>"));
        let want = summary[field].as_object().unwrap();
        assert_eq!(shown.len(), want.len(), "{table}: {shown:?}");
        for (k, v) in shown {
            assert_eq!(
                Some(v.parse::<u64>().unwrap()),
                want[&k].as_u64(),
                "{table} {k}"
            );
        }
    }
}

/// The thresholds table and the abort line are the JSON summary's
/// `thresholds`: each row's expression, measured value and verdict, in order.
fn check_thresholds(dom: &str, want: &serde_json::Value) {
    let table = element(dom, "<table id=\"thresholds\"", "</table>");
    let body = &table[table.find("<tbody>").expect("a tbody") + "<tbody>".len()..];
    let rows: Vec<Vec<String>> = body
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').unwrap() + 1..];
                    text[..text.find("</td>").unwrap()].to_owned()
                })
                .collect()
        })
        .collect();
    let checks = want["checks"].as_array().unwrap();
    assert_eq!(rows.len(), checks.len(), "{table}");
    let html = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    for (row, check) in rows.iter().zip(checks) {
        assert_eq!(
            row[0],
            html(check["expression"].as_str().unwrap()),
            "{row:?}"
        );
        let measured: f64 = row[1].parse().unwrap();
        assert_eq!(Some(measured), check["measured"].as_f64(), "{row:?}");
        let verdict = if check["passed"].as_bool().unwrap() {
            "passed"
        } else {
            "failed"
        };
        assert_eq!(row[2], verdict, "{row:?}");
    }
    match want.get("aborted") {
        Some(a) => {
            let line = element(dom, "<p class=\"fail\">stopped by --abort-if", "</p>");
            let at = a["at_s"].as_f64().unwrap();
            let expected = format!(
                "stopped by --abort-if {} at {at} s",
                html(a["expression"].as_str().unwrap())
            );
            assert!(line.ends_with(&expected), "{line} / {expected}");
        }
        None => assert!(!dom.contains("stopped by --abort-if"), "no abort"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_renders_in_chromium_with_the_summary_numbers() {
    let Some(browser) = chromium() else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium; .ci/run does)");
        return;
    };
    let srv = server(Duration::from_millis(10), 0.1).await;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("run.html");
    let rec = dir.path().join("run.rec");
    let url = srv.url("/items/{1..1000000}");
    let out = run(&[
        "--no-tui",
        "-q",
        "--json",
        "-c",
        "8",
        "--rate",
        "400",
        "-z",
        "3s",
        "-H",
        "Authorization: Bearer sekrit-token",
        "--fail-if",
        "p99>10s",
        "--report",
        page.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        &url,
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["failed"].as_u64().unwrap() > 0, "{summary}");

    let profile = dir.path().join("profile");
    let d = dom(browser, &page, &profile).await;
    check_page(&d, &summary);
    let thresholds = element(&d, "<table id=\"thresholds\"", "</table>");
    assert!(
        thresholds.contains("p99&gt;10s") && thresholds.contains("passed"),
        "{thresholds}"
    );
    // Settings are shown, secrets not.
    let settings = element(&d, "<table id=\"settings\"", "</table>");
    assert!(settings.contains("authorization"), "{settings}");
    assert!(!d.contains("sekrit"), "a secret reached the report");

    // The same from the recording, afterwards.
    let again = dir.path().join("again.html");
    let out = run(&[
        "report",
        rec.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let d = dom(browser, &again, &profile).await;
    check_page(&d, &summary);
    check_thresholds(&d, &summary["thresholds"]);
    assert!(!d.contains("sekrit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_from_a_recording_judges_its_thresholds_as_the_run_did() {
    let Some(browser) = chromium() else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium; .ci/run does)");
        return;
    };
    let srv = server(Duration::from_millis(10), 0.1).await;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("run.html");
    let rec = dir.path().join("run.rec");
    let url = srv.url("/items/{1..1000000}");
    // Two --fail-if (one passes, one fails), and an --abort-if that stops
    // the run after a second or so, one that never holds.
    let out = run(&[
        "--no-tui",
        "-q",
        "--json",
        "-c",
        "8",
        "--rate",
        "400",
        "-z",
        "20s",
        "--fail-if",
        "p99>10s",
        "--fail-if",
        "error_rate<50%",
        "--abort-if",
        "timeouts>0",
        "--abort-if",
        "requests>300",
        "--abort-after",
        "1s",
        "--report",
        page.to_str().unwrap(),
        "--record",
        rec.to_str().unwrap(),
        &url,
    ])
    .await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = &summary["thresholds"];
    assert_eq!(want["checks"].as_array().unwrap().len(), 4, "{want}");
    assert_eq!(want["aborted"]["expression"], "requests>300", "{want}");
    assert!(summary["elapsed_s"].as_f64().unwrap() < 10.0, "{summary}");

    let profile = dir.path().join("profile");
    let d = dom(browser, &page, &profile).await;
    check_thresholds(&d, want);
    // The recording's header kept the thresholds, its frames the abort.
    let bytes = std::fs::read(&rec).unwrap();
    let head = String::from_utf8_lossy(&bytes[..bytes.iter().position(|&b| b == b'\n').unwrap()]);
    assert!(
        head.contains("\"abort_if\":[\"timeouts>0\",\"requests>300\"]"),
        "{head}"
    );
    let again = dir.path().join("again.html");
    let out = run(&[
        "report",
        rec.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let d = dom(browser, &again, &profile).await;
    check_page(&d, &summary);
    check_thresholds(&d, want);
}
