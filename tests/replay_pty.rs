//! `fetchtop replay` in a real pseudo-terminal: a recording made by the real
//! binary (a demo run on loopback) is played, sped up, sent to its end and
//! left with `q`, which restores the terminal. Every check polls with a
//! deadline; nothing about timing is asserted.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 40;
const COLS: u16 = 120;

struct Term {
    rx: Receiver<Vec<u8>>,
    parser: vt100::Parser,
}

impl Term {
    fn pump(&mut self) {
        match self.rx.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => self.parser.process(&bytes),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(50)),
        }
        while let Ok(bytes) = self.rx.try_recv() {
            self.parser.process(&bytes);
        }
    }

    fn wait_until(&mut self, what: &str, pred: impl Fn(&vt100::Screen) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pred(self.parser.screen()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- screen ---\n{}",
                self.parser.screen().contents()
            );
            self.pump();
        }
    }
}

fn footer(s: &vt100::Screen) -> String {
    s.contents().lines().last().unwrap_or("").to_owned()
}

#[test]
fn replay_plays_seeks_and_quits_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("demo.rec");
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_fetchtop"))
        .args(["demo", "--no-tui", "-q", "-c", "10", "-z", "3s", "--record"])
        .arg(&rec)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_fetchtop"));
    cmd.arg("replay");
    cmd.arg(&rec);
    cmd.env("TERM", "xterm-256color");
    cmd.env("LANG", "C.UTF-8");
    for var in ["LC_ALL", "LC_CTYPE", "NO_COLOR"] {
        cmd.env_remove(var);
    }
    let mut child = pty.slave.spawn_command(cmd).expect("spawn fetchtop replay");
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut keys = pty.master.take_writer().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
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

    term.wait_until("the first frame, paused", |s| {
        footer(s).contains("replay ⏸ 1× 00:00 / 00:03")
    });
    assert!(!footer(term.parser.screen()).contains("cancel"));
    keys.write_all(b" >").unwrap();
    keys.flush().unwrap();
    term.wait_until("playing at 2×", |s| footer(s).contains("replay ▶ 2×"));
    // End: the last frame, paused; the header shows the finished run.
    keys.write_all(b"G").unwrap();
    keys.flush().unwrap();
    term.wait_until("the end", |s| {
        footer(s).contains("⏸ 2× 00:03 / 00:03") && s.contents().contains("finished")
    });
    keys.write_all(b"q").unwrap();
    keys.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "replay did not quit on q");
        term.pump();
    };
    assert!(status.success(), "{status:?}");
    term.wait_until("the terminal restored", |s| {
        !s.alternate_screen() && !s.hide_cursor()
    });
}
