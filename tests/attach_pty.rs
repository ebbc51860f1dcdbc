//! `fetchtop attach` over two running instances, in a real pseudo-terminal:
//! the merged counts appear, `]` doubles the limit on both (seen at their
//! own /snapshot), killing one shows it as lost while the other goes on,
//! and `q` detaches (the instance left keeps running), restoring the terminal.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::num::NonZeroU16;
use std::process::{Child as OsChild, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use serde_json::Value;

const ROWS: u16 = 45;
const COLS: u16 = 160;
const TOKEN: &str = "attach-test-token-0123456789";

/// An instance with `--metrics`, killed when the test ends.
struct Instance {
    child: OsChild,
    addr: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn instance(url: &str) -> Instance {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args([
            "--no-tui",
            "-q",
            "-c",
            "3",
            "-z",
            "120s",
            "--metrics",
            "127.0.0.1:0",
        ])
        .args(["--metrics-grace", "0s", "--control-token", TOKEN, url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fetchtop starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("fetchtop says where it serves")
            .unwrap();
        if let Some(w) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
        {
            break w.trim_start_matches("http://").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Instance { child, addr }
}

/// GET /snapshot over a plain socket (the test has no blocking HTTP client).
fn snapshot(addr: &str) -> Option<Value> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET /snapshot HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    serde_json::from_str(text.split_once("\r\n\r\n")?.1).ok()
}

fn wait_for_snapshot(addr: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = snapshot(addr);
        if let Some(s) = s.as_ref().filter(|s| pred(s)) {
            return s.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what} at {addr}: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Term {
    rx: Receiver<Vec<u8>>,
    parser: vt100::Parser,
}

impl Term {
    fn contents(&self) -> String {
        self.parser.screen().contents()
    }

    fn pump(&mut self, wait: Duration) {
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => self.parser.process(&bytes),
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(wait);
                return;
            }
        }
        while let Ok(bytes) = self.rx.try_recv() {
            self.parser.process(&bytes);
        }
    }

    fn wait_until(&mut self, what: &str, mut pred: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if pred(&self.contents()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- screen ---\n{}\n--------------",
                self.contents()
            );
            self.pump(Duration::from_millis(50));
        }
    }
}

#[test]
fn attach_merges_two_instances_steers_both_and_shows_a_lost_one() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(common::server(Duration::from_millis(20), 0.0));
    let url = server.url("/items/{1..1000000}");
    let first = instance(&url);
    let mut second = instance(&url);

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_fetchtop"));
    cmd.args([
        "attach",
        "--control-token",
        TOKEN,
        &first.addr,
        &format!("http://{}", second.addr),
    ]);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("FETCHTOP_CONTROL_TOKEN");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut writer = pty.master.take_writer().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut term = Term {
        rx,
        parser: vt100::Parser::new(
            NonZeroU16::new(ROWS).unwrap(),
            NonZeroU16::new(COLS).unwrap(),
            0,
        ),
    };

    // The merged view: both instances' in flight against their summed limits.
    term.wait_until("the merged view", |s| {
        s.contains("executor · 2 instances")
            && s.contains("6 in flight / limit 6")
            && s.contains(" done")
    });
    writer.write_all(b"]").unwrap();
    writer.flush().unwrap();
    for inst in [&first, &second] {
        wait_for_snapshot(&inst.addr, "limit 6", |s| s["limit"] == 6);
    }
    term.wait_until("limit 12 on screen", |s| s.contains("in flight / limit 12"));

    // One stops answering: shown as lost; the other goes on.
    let _ = second.child.kill();
    let _ = second.child.wait();
    term.wait_until("the lost instance", |s| {
        s.contains("LOST") && s.contains("1 lost")
    });
    let before = snapshot(&first.addr).unwrap()["counts"]["done"]
        .as_u64()
        .unwrap();
    wait_for_snapshot(&first.addr, "the other instance going on", |s| {
        s["counts"]["done"].as_u64().unwrap_or(0) > before && s["state"] == "running"
    });
    // Its row still shows it live, against its own doubled limit.
    let row = format!("{} ", first.addr);
    term.wait_until("the first instance's row", |s| {
        s.split(&row)
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|cell| cell.ends_with("/6"))
    });

    // q detaches; the instance is not stopped.
    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "attach did not leave after q\n{}",
            term.contents()
        );
        term.pump(Duration::from_millis(50));
    };
    assert!(status.success(), "attach exits 0: {status:?}");
    term.wait_until("the terminal restored", |_| true);
    let deadline = Instant::now() + Duration::from_secs(5);
    while term.parser.screen().alternate_screen() && Instant::now() < deadline {
        term.pump(Duration::from_millis(50));
    }
    assert!(
        !term.parser.screen().alternate_screen(),
        "back on the main screen"
    );
    let s = snapshot(&first.addr).expect("the instance still answers after attach left");
    assert_eq!(s["state"], "running");
    drop(first);
    rt.block_on(server.shutdown());
}
