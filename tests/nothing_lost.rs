//! Nothing lost: every finished item is in the `-o` file whichever way the
//! run ends, `--resume` picks up after a SIGKILL at any moment, and
//! `--save-bodies` keeps each body under a name made from its seq.
//!
//! The real binary runs headless against a demo server on 127.0.0.1.

#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{JOB_LINE, server, wait_until};
use tokio::process::Command;

fn fetchtop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fetchtop"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.kill_on_drop(true);
    c
}

async fn output(child: tokio::process::Child) -> Output {
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("fetchtop ends")
        .expect("wait for fetchtop")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn signal(child: &tokio::process::Child, sig: libc::c_int) {
    let pid = child.id().expect("child is running") as libc::pid_t;
    // SAFETY: kill(2) with a pid we own and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Every line of `path`: whole, valid JSON; returns how often each seq appears.
fn seqs_in(path: &Path) -> HashMap<u64, u32> {
    let file = std::fs::read_to_string(path).expect("output file");
    assert!(
        file.is_empty() || file.ends_with('\n'),
        "a torn last line in {}",
        path.display()
    );
    let mut seen = HashMap::new();
    for (i, line) in file
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with(JOB_LINE))
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line:?}", i + 1));
        let seq = v["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("no seq: {line}"));
        *seen.entry(seq).or_insert(0) += 1;
    }
    seen
}

/// SIGTERM and SIGHUP abort a headless run like Ctrl-C: in-flight items are
/// recorded as cancelled, every line is whole, the summary counts them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_keep_every_finished_item() {
    let srv = server(Duration::from_millis(300), 0.0).await;
    for (name, sig) in [("SIGTERM", libc::SIGTERM), ("SIGHUP", libc::SIGHUP)] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let url = srv.url("/items/{1..100000}");
        let child = fetchtop()
            .args([
                "--json",
                "-q",
                "-c",
                "40",
                "-o",
                out.to_str().unwrap(),
                &url,
            ])
            .spawn()
            .unwrap();
        // Wait until some items have finished and more are in flight.
        wait_until("items finished", Duration::from_secs(30), || {
            std::fs::read_to_string(&out)
                .is_ok_and(|t| t.lines().filter(|l| !l.starts_with(JOB_LINE)).count() >= 40)
        })
        .await;
        signal(&child, sig);
        let o = output(child).await;
        assert_eq!(o.status.code(), Some(130), "{name}: {}", text(&o.stderr));
        let summary: serde_json::Value = serde_json::from_str(text(&o.stdout).trim())
            .unwrap_or_else(|e| panic!("{name}: {e}: {}", text(&o.stdout)));
        assert_eq!(summary["interrupted"], true, "{name}");
        let seen = seqs_in(&out);
        assert_eq!(
            seen.len() as u64,
            summary["total"].as_u64().unwrap(),
            "{name}: every finished item is in the file"
        );
        assert!(seen.values().all(|&n| n == 1), "{name}: each once");
        assert!(
            summary["cancelled"].as_u64().unwrap() > 0,
            "{name}: {summary}"
        );
        assert_eq!(summary["output"]["lines"], seen.len() as u64, "{name}");
    }
    srv.shutdown().await;
}

/// A run killed with SIGKILL at random moments and resumed each time ends
/// with every item in the file exactly once. A torn last line (written by
/// hand once, since a kill inside a write is rare) is cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_sigkill_at_random_points_keeps_every_item_once() {
    const N: u64 = 3000;
    const KILLS: u32 = 10;
    // About 5 s of work at -c 5 (3000 × 8 ms / 5), more than the 10 kill
    // points can take (at most 0.4 s each), so every kill lands mid-job.
    let srv = server(Duration::from_millis(8), 0.02).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let url = srv.url(&format!("/items/{{1..{N}}}"));
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut kills = 0;
    let mut torn_written = false;
    let mut runs = 0;
    let finished = loop {
        runs += 1;
        assert!(runs <= 60, "seed {seed}: no complete run after {runs} runs");
        if kills == 3 && !torn_written {
            // What a kill inside a write leaves: half a line, no newline.
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
            f.write_all(b"{\"seq\":1,\"url\":\"http://127.0.0.1/it")
                .unwrap();
            torn_written = true;
        }
        let child = fetchtop()
            .args(["--json", "-q", "-c", "5", "--resume", "-o"])
            .arg(&out)
            .arg(&url)
            .spawn()
            .unwrap();
        if kills < KILLS {
            let at = Duration::from_millis(rng.u64(20..400));
            let mut child = child;
            tokio::select! {
                status = child.wait() => {
                    // It finished before the kill point: not a kill, try again.
                    let status = status.unwrap();
                    assert!(status.success(), "seed {seed}: run {runs} failed: {status:?}");
                }
                () = tokio::time::sleep(at) => {
                    child.start_kill().unwrap();
                    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
                        .await
                        .expect("a killed child ends")
                        .unwrap();
                    use std::os::unix::process::ExitStatusExt;
                    if status.signal() == Some(libc::SIGKILL) {
                        kills += 1;
                    }
                }
            }
            continue;
        }
        let o = output(child).await;
        assert!(o.status.success(), "seed {seed}: {}", text(&o.stderr));
        break o;
    };
    let summary: serde_json::Value = serde_json::from_str(text(&finished.stdout).trim()).unwrap();
    let seen = seqs_in(&out);
    let dupes: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "seed {seed}: {} seqs written more than once, e.g. {:?}",
        dupes.len(),
        &dupes[..dupes.len().min(10)]
    );
    let missing: Vec<u64> = (1..=N).filter(|s| !seen.contains_key(s)).collect();
    assert!(
        missing.is_empty(),
        "seed {seed}: {} seqs missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(seen.len() as u64, N, "seed {seed}: nothing else");
    // The last run skipped what was there and fetched the rest.
    assert_eq!(
        summary["skipped"].as_u64().unwrap() + summary["total"].as_u64().unwrap(),
        N,
        "{summary}"
    );
    assert!(kills >= KILLS && torn_written);
    srv.shutdown().await;
}

/// `--resume` refuses a file that is not fetchtop output, and a run whose
/// file already holds everything fetches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_foreign_file_and_skips_a_finished_job() {
    let srv = server(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let url = srv.url("/items/{1..20}");
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "shopping list\n").unwrap();
    let o = output(
        fetchtop()
            .args(["--resume", "-o", foreign.to_str().unwrap(), &url])
            .spawn()
            .unwrap(),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not a fetchtop record"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "shopping list\n"
    );

    let out = dir.path().join("out.jsonl");
    for round in 0..2 {
        let o = output(
            fetchtop()
                .args(["--resume", "-o", out.to_str().unwrap(), &url])
                .spawn()
                .unwrap(),
        )
        .await;
        assert!(o.status.success(), "{}", text(&o.stderr));
        let t = text(&o.stdout);
        if round == 1 {
            assert!(t.contains("20 skipped (already in the output)"), "{t}");
            assert!(t.contains("(0 lines, after 20 from earlier runs)"), "{t}");
        }
    }
    assert_eq!(seqs_in(&out).len(), 20);
    srv.shutdown().await;
}

/// Bodies land in DIR/SEQ.body, whatever the URL says; a DIR that is a file
/// is refused at start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_bodies_names_files_from_the_seq() {
    let srv = server(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let bodies = dir.path().join("bodies");
    let list = dir.path().join("urls.txt");
    // A URL that tries to climb out of the directory.
    std::fs::write(
        &list,
        format!(
            "{}\n{}\n",
            srv.url("/items/1"),
            srv.url("/items/2/../../../../etc/x?f=../../y")
        ),
    )
    .unwrap();
    let o = output(
        fetchtop()
            .args([
                "--save-bodies",
                bodies.to_str().unwrap(),
                "-i",
                list.to_str().unwrap(),
            ])
            .spawn()
            .unwrap(),
    )
    .await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&bodies)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["1.body", "2.body"]);
    let one: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bodies.join("1.body")).unwrap()).unwrap();
    assert_eq!(one["id"], 1);

    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let o = output(
        fetchtop()
            .args([
                "--save-bodies",
                file.to_str().unwrap(),
                &srv.url("/items/1"),
            ])
            .spawn()
            .unwrap(),
    )
    .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not a directory"),
        "{}",
        text(&o.stderr)
    );
    srv.shutdown().await;
}

/// The engine skips exactly the seqs it is given, counts them, and fetches
/// the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_skips_the_given_seqs_and_counts_them() {
    use std::sync::Arc;

    use fetchtop::engine::seqset::SeqSet;

    let srv = server(Duration::ZERO, 0.0).await;
    let mut skip = SeqSet::new();
    for seq in (2..=200).step_by(2) {
        skip.insert(seq);
    }
    let config = fetchtop::engine::EngineConfig {
        skip: Some(Arc::new(skip)),
        ..common::config(10)
    };
    let run = common::Run::start(config, common::items(&srv, 201).await);
    let (snap, records) = run.finish(Duration::from_secs(60)).await;
    let mut seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    seqs.sort_unstable();
    let odd: Vec<u64> = (1..=199).step_by(2).chain([201]).collect();
    assert_eq!(seqs, odd);
    assert_eq!(snap.skipped, 100);
    assert_eq!(snap.settled(), 201);
    assert_eq!(snap.dispatched, 101);
    srv.shutdown().await;
}

/// The file names the job that wrote it: a resume with another template or
/// another list is refused (exit 2, one line, the file untouched); a file
/// from before job lines resumes as it used to, with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_another_job_and_warns_on_an_old_file() {
    let srv = server(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let run = |args: Vec<String>| {
        let mut c = fetchtop();
        c.args(["--json", "-q"]).args(args);
        output(c.spawn().unwrap())
    };
    let s = |x: &str| x.to_string();
    let first = srv.url("/items/{1..100}");
    let o = run(vec![s("-o"), out.display().to_string(), first.clone()]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let before = std::fs::read(&out).unwrap();
    let job: serde_json::Value =
        serde_json::from_str(text(&before).lines().next().unwrap()).unwrap();
    assert_eq!(job["kind"], "job");
    assert_eq!(job["source"]["template"], first);
    assert_eq!(job["method"], "GET");

    // The case: {501..700} over a {1..100} file would have skipped 501-600.
    let other = srv.url("/items/{501..700}");
    for args in [
        vec![s("--resume"), s("-o"), out.display().to_string(), other],
        vec![
            s("--resume"),
            s("-o"),
            out.display().to_string(),
            s("-d"),
            s("x"),
            first.clone(),
        ],
    ] {
        let o = run(args.clone()).await;
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("it holds another job"), "{err}");
        assert!(o.stdout.is_empty(), "nothing ran");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            before,
            "the file is untouched"
        );
    }

    // A list: the same file resumes; one changed (same path) is another job.
    let list = dir.path().join("urls.txt");
    let lines: String = (1..=30)
        .map(|i| srv.url(&format!("/items/{i}")) + "\n")
        .collect();
    std::fs::write(&list, &lines).unwrap();
    let listed = dir.path().join("list.jsonl");
    let list_args = || {
        vec![
            s("--resume"),
            s("-o"),
            listed.display().to_string(),
            s("-i"),
            list.display().to_string(),
        ]
    };
    let o = run(list_args()).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(list_args()).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["skipped"], 30, "{summary}");
    let kept = std::fs::read(&listed).unwrap();
    std::fs::write(&list, lines.replace("/items/30", "/items/31")).unwrap();
    let o = run(list_args()).await;
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("another job") && err.contains("list"), "{err}");
    assert_eq!(std::fs::read(&listed).unwrap(), kept);

    // A file an older fetchtop wrote: records only.
    let old = dir.path().join("old.jsonl");
    let records: String = text(&before)
        .lines()
        .filter(|l| !l.starts_with(JOB_LINE))
        .take(40)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&old, &records).unwrap();
    let mut c = fetchtop();
    c.args(["--json", "--resume", "-o", old.to_str().unwrap(), &first]);
    let o = output(c.spawn().unwrap()).await;
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning") && err.contains("has no job line"),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["skipped"], 40, "{summary}");
    assert_eq!(summary["total"], 60, "{summary}");
    assert_eq!(seqs_in(&old).len(), 100);
    srv.shutdown().await;
}
