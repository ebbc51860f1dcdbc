//! `--record FILE`: the run's timeline, written as it goes, and read back by
//! `fetchtop replay` and `fetchtop report`.
//!
//! Snapshots are taken [`format::RATE_HZ`] times a second into one zstd
//! stream that is flushed after every frame: each flush ends a block the
//! decoder can read on its own, so a process killed mid-run leaves a file
//! whose every whole frame reads back, and only the torn tail is lost.

pub mod format;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use color_eyre::eyre::{Report, WrapErr};
use tokio::sync::watch;
use zstd::stream::raw::CParameter;

pub use format::{Frame, Header, TABLE_ROWS, Thresholds};

use crate::snapshot::{RunState, Snapshot};
use crate::thresholds::Abort;

/// zstd's level: a frame is a few KiB of JSON, which this level takes
/// about a millisecond to compress (under 1% of a core at 5 frames a
/// second, where level 9 takes a tenth of that), for 8% less than level 9.
const LEVEL: i32 = 19;

/// zstd's window, as a power of two: 1 MiB.
const WINDOW_LOG: u32 = 20;

/// A recording being written.
pub struct Recorder {
    out: zstd::stream::write::Encoder<'static, BufWriter<File>>,
    path: PathBuf,
    framer: format::Framer,
    last: Option<std::time::Duration>,
    frames: u64,
    /// An `--abort-if` that stopped the run, not yet written.
    aborted: Option<Abort>,
    abort_written: bool,
}

impl Recorder {
    /// Creates the file and writes its header, before the run starts, so a
    /// bad path is a usage error.
    pub fn create(path: &Path, header: &Header) -> Result<Recorder, String> {
        let fail =
            |e: std::io::Error| format!("cannot write the recording {}: {e}", path.display());
        let file = File::create(path).map_err(fail)?;
        let mut raw = BufWriter::new(file);
        let line = serde_json::to_string(header).map_err(|e| fail(std::io::Error::other(e)))?;
        writeln!(raw, "{line}")
            .and_then(|()| raw.flush())
            .map_err(fail)?;
        let mut out = zstd::stream::write::Encoder::new(raw, LEVEL).map_err(fail)?;
        // A frame refers back to the few frames before it: a 1 MiB window
        // (hundreds of frames) holds them, and keeps the encoder's tables
        // (and the reader's memory) small at this level.
        for p in [
            CParameter::WindowLog(WINDOW_LOG),
            CParameter::HashLog(WINDOW_LOG - 2),
            CParameter::ChainLog(WINDOW_LOG - 2),
        ] {
            out.set_parameter(p).map_err(fail)?;
        }
        Ok(Recorder {
            out,
            path: path.to_owned(),
            framer: format::Framer::default(),
            last: None,
            frames: 0,
            aborted: None,
            abort_written: false,
        })
    }

    /// Writes one frame, and flushes it to the file.
    pub fn record(&mut self, snap: &Snapshot) -> std::io::Result<()> {
        let mut frame = self.framer.frame(snap).map_err(std::io::Error::other)?;
        if !self.abort_written {
            frame.aborted = self.aborted.clone();
            self.abort_written = frame.aborted.is_some();
        }
        let line = frame.to_line().map_err(std::io::Error::other)?;
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        // A flush ends a zstd block: what is written so far reads back
        // whatever happens to the process next.
        self.out.flush()?;
        self.last = Some(snap.elapsed);
        self.frames += 1;
        Ok(())
    }

    /// The `--abort-if` that stopped the run: written with the next frame.
    pub fn aborted(&mut self, abort: Abort) {
        if !self.abort_written {
            self.aborted = Some(abort);
        }
    }

    /// Ends the zstd frame and syncs the file. Returns the frames written.
    pub fn finish(self) -> std::io::Result<u64> {
        let raw = self.out.finish()?;
        let file = raw.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(self.frames)
    }

    /// Records the run's snapshots at [`format::RATE_HZ`] to its end (the
    /// last one always), and the `--abort-if` that stopped it, if one did:
    /// `aborted` says, and its sender is dropped once that is known (the
    /// last frame waits a second at most for it). Returns the frames written.
    pub async fn follow(
        mut self,
        mut snapshots: watch::Receiver<Snapshot>,
        mut aborted: watch::Receiver<Option<Abort>>,
    ) -> Result<u64, Report> {
        let path = self.path.clone();
        let context = || format!("cannot write the recording {}", path.display());
        let mut every = tokio::time::interval(Duration::from_secs(1) / format::RATE_HZ);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    let snap = snapshots.borrow().clone();
                    let ended = snap.state == RunState::Finished;
                    if ended {
                        self.settle(&mut aborted).await;
                    } else if let Some(a) = aborted.borrow().clone() {
                        self.aborted(a);
                    }
                    if self.last.is_none_or(|l| l != snap.elapsed) {
                        self.record(&snap).wrap_err_with(context)?;
                    }
                    if ended {
                        break;
                    }
                }
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        // The engine is gone: its last snapshot ends the recording.
                        let snap = snapshots.borrow().clone();
                        self.settle(&mut aborted).await;
                        if self.last.is_none_or(|l| l != snap.elapsed) {
                            self.record(&snap).wrap_err_with(context)?;
                        }
                        break;
                    }
                    let snap = snapshots.borrow_and_update().clone();
                    if snap.state == RunState::Finished {
                        self.settle(&mut aborted).await;
                        self.record(&snap).wrap_err_with(context)?;
                        break;
                    }
                }
            }
        }
        self.finish().wrap_err_with(context)
    }

    /// At the run's end: waits (a second at most) until whether an
    /// `--abort-if` stopped it is known, and keeps it for the last frame.
    async fn settle(&mut self, aborted: &mut watch::Receiver<Option<Abort>>) {
        let known = async { while aborted.changed().await.is_ok() {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), known).await;
        if let Some(a) = aborted.borrow().clone() {
            self.aborted(a);
        }
    }
}

/// The longest frame read (a first frame, the largest, is a few KiB).
const FRAME_MAX: u64 = 16 * 1024 * 1024;

/// The longest header line read.
const HEADER_MAX: u64 = 64 * 1024;

/// A recording being read, frame by frame, in constant memory.
pub struct Reader {
    /// The header line.
    pub header: Header,
    lines: BufReader<zstd::stream::read::Decoder<'static, BufReader<File>>>,
    unframer: format::Unframer,
    /// The `--abort-if` that stopped the run, once a frame read said so.
    pub aborted: Option<Abort>,
    /// The file ended inside a frame or a block (a recording cut short, as
    /// by a crash): the frames before it were all read.
    pub cut: bool,
}

impl Reader {
    /// Opens a recording and reads its header.
    pub fn open(path: &Path) -> Result<Reader, String> {
        let shown = path.display();
        let file =
            File::open(path).map_err(|e| format!("cannot open the recording {shown}: {e}"))?;
        let mut raw = BufReader::new(file);
        let mut first = String::new();
        let not_one = || format!("{shown} is not a fetchtop recording (made with --record)");
        // A header is a few hundred bytes: a file without a first line
        // soon is not a recording, and is not read into memory whole.
        match std::io::Read::take(&mut raw, HEADER_MAX).read_line(&mut first) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Err(not_one()),
            Err(e) => return Err(format!("cannot read the recording {shown}: {e}")),
        }
        let header: Header = serde_json::from_str(&first)
            .ok()
            .filter(|h: &Header| h.format == format::FORMAT)
            .ok_or_else(not_one)?;
        if header.version != format::VERSION {
            return Err(format!(
                "{shown} is a recording of version {} (this fetchtop reads version {})",
                header.version,
                format::VERSION
            ));
        }
        let decoder = zstd::stream::read::Decoder::with_buffer(raw)
            .map_err(|e| format!("cannot read the recording {shown}: {e}"))?;
        Ok(Reader {
            header,
            lines: BufReader::new(decoder),
            unframer: format::Unframer::default(),
            aborted: None,
            cut: false,
        })
    }

    /// The next snapshot, or None at the end (or where the file was cut).
    pub fn next_snapshot(&mut self) -> Option<Snapshot> {
        if self.cut {
            return None;
        }
        let mut line = String::new();
        // Frames are kilobytes: a far longer "line" is damage, not a frame.
        match std::io::Read::take(&mut self.lines, FRAME_MAX).read_line(&mut line) {
            Ok(0) => return None,
            // A torn frame at the end: everything before it counts.
            Ok(_) if !line.ends_with('\n') => {
                self.cut = true;
                return None;
            }
            Ok(_) => {}
            Err(_) => {
                self.cut = true;
                return None;
            }
        }
        let Some(frame) = Frame::from_line(&line) else {
            self.cut = true;
            return None;
        };
        if frame.aborted.is_some() {
            self.aborted.clone_from(&frame.aborted);
        }
        let Some(snap) = self.unframer.snapshot(frame) else {
            self.cut = true;
            return None;
        };
        Some(snap)
    }
}

impl Iterator for Reader {
    type Item = Snapshot;

    fn next(&mut self) -> Option<Snapshot> {
        self.next_snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_another_version_or_kind_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.rec");
        let mut header = Header::new("t".into(), vec![], vec![]);
        header.version = format::VERSION + 1;
        std::fs::write(&path, serde_json::to_string(&header).unwrap() + "\n").unwrap();
        let err = Reader::open(&path).err().unwrap();
        assert!(err.contains("version"), "{err}");
        std::fs::write(&path, "t_s,completed\n1,2\n").unwrap();
        let err = Reader::open(&path).err().unwrap();
        assert!(err.contains("not a fetchtop recording"), "{err}");
    }

    #[test]
    fn a_header_keeps_the_thresholds_and_one_without_them_reads() {
        let rules = crate::thresholds::Rules {
            fail_if: vec![crate::thresholds::parse("p99>300ms").unwrap()],
            abort_if: vec![crate::thresholds::parse("error_rate>1%").unwrap()],
            abort_after: Duration::from_secs(7),
        };
        let header = Header::new("t".into(), vec![], vec![]).with_thresholds(&rules);
        let line = serde_json::to_string(&header).unwrap();
        let back: Header = serde_json::from_str(&line).unwrap();
        let again = back.thresholds.rules().unwrap();
        assert_eq!(again.fail_if, rules.fail_if);
        assert_eq!(again.abort_if, rules.abort_if);
        assert_eq!(again.abort_after, rules.abort_after);
        // Written before thresholds were kept: none.
        let mut old: serde_json::Value = serde_json::from_str(&line).unwrap();
        old.as_object_mut().unwrap().remove("thresholds");
        let old: Header = serde_json::from_value(old).unwrap();
        assert!(old.thresholds.rules().unwrap().is_empty());
    }

    #[test]
    fn an_abort_is_written_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.rec");
        let mut rec = Recorder::create(&path, &Header::new("t".into(), vec![], vec![])).unwrap();
        let abort = Abort {
            expression: "requests>3".into(),
            at_s: 1.2,
            measured: "4".into(),
        };
        for ms in [200u64, 400, 600] {
            if ms == 400 {
                rec.aborted(abort.clone());
            }
            let snap = Snapshot {
                elapsed: Duration::from_millis(ms),
                ..Snapshot::default()
            };
            rec.record(&snap).unwrap();
        }
        rec.finish().unwrap();
        let mut reader = Reader::open(&path).unwrap();
        assert!(reader.next_snapshot().is_some());
        assert_eq!(reader.aborted, None);
        assert!(reader.next_snapshot().is_some());
        assert_eq!(reader.aborted.as_ref(), Some(&abort));
        assert_eq!(reader.by_ref().count(), 1);
        assert_eq!(reader.aborted, Some(abort));
    }

    #[test]
    fn a_recording_reads_back_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.rec");
        let mut rec = Recorder::create(&path, &Header::new("t".into(), vec![], vec![])).unwrap();
        for ms in [200u64, 400, 600] {
            let snap = Snapshot {
                elapsed: Duration::from_millis(ms),
                ..Snapshot::default()
            };
            rec.record(&snap).unwrap();
        }
        // Not finished: as a killed process leaves it; then a torn byte or two.
        drop(rec);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0x28, 0xb5]);
        std::fs::write(&path, bytes).unwrap();
        let mut reader = Reader::open(&path).unwrap();
        let got: Vec<u64> = reader
            .by_ref()
            .map(|s| s.elapsed.as_millis() as u64)
            .collect();
        assert_eq!(got, vec![200, 400, 600]);
        assert!(reader.cut);
    }
}
