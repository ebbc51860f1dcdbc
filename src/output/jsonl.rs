//! `-o FILE`: one JSON line per finished item, written by one thread.
//!
//! A plain OS thread rather than a tokio task: file writes block, and the
//! engine's workers should never wait on a disk.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use color_eyre::eyre::{Report, WrapErr, eyre};
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio_util::sync::CancellationToken;

use crate::engine::Record;

/// Records queued for the writer before the engine waits for it.
const QUEUE: usize = 4096;

/// Bytes gathered before they are written out in one go.
const BLOCK: usize = 256 * 1024;

/// A write to the output file failed: the run must stop, and only the
/// records known to be whole in the file count.
#[derive(Debug)]
pub struct WriteFailure {
    /// What failed, with the path.
    pub error: Report,
    /// Records wholly written before the failure (counted from the bytes
    /// the OS accepted, so never one that is not in the file).
    pub safe: u64,
}

/// A running JSONL writer. Send records to [`JsonlWriter::sender`]; drop every
/// sender, then call [`JsonlWriter::finish`] to flush and learn the line count.
pub struct JsonlWriter {
    sender: mpsc::Sender<Record>,
    thread: JoinHandle<Result<u64, WriteFailure>>,
    path: PathBuf,
    failed: CancellationToken,
}

impl JsonlWriter {
    /// Creates (truncates) `path` and starts the writer thread, which
    /// writes `header` (the job line) first. Fails at once when the file
    /// cannot be created, so a bad `-o` is a start-up error.
    pub fn create(path: &Path, header: Option<Vec<u8>>) -> color_eyre::Result<JsonlWriter> {
        let file = File::create(path)
            .wrap_err_with(|| format!("cannot create output file {}", path.display()))?;
        JsonlWriter::start(path, file, header)
    }

    /// Opens `path` for appending (creating it if need be) and starts the
    /// writer thread: `--resume` adds to what an earlier run wrote.
    pub fn append(path: &Path, header: Option<Vec<u8>>) -> color_eyre::Result<JsonlWriter> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .wrap_err_with(|| format!("cannot open output file {} to append", path.display()))?;
        JsonlWriter::start(path, file, header)
    }

    fn start(path: &Path, file: File, header: Option<Vec<u8>>) -> color_eyre::Result<JsonlWriter> {
        let (sender, rx) = mpsc::channel(QUEUE);
        let shown = path.display().to_string();
        let failed = CancellationToken::new();
        let signal = failed.clone();
        let thread = std::thread::Builder::new()
            .name("fetchtop-jsonl".into())
            .spawn(move || {
                let result = write_all(rx, file, header);
                // Before the report is built: a report may capture a
                // backtrace, which takes a while, and the run must stop now.
                if result.is_err() {
                    signal.cancel();
                }
                result.map_err(|(e, safe)| WriteFailure {
                    error: Report::msg(format!("cannot write output file {shown}: {e}")),
                    safe,
                })
            })
            .wrap_err("cannot start the output writer")?;
        Ok(JsonlWriter {
            sender,
            thread,
            path: path.to_path_buf(),
            failed,
        })
    }

    /// A sender for the engine's sink.
    pub fn sender(&self) -> mpsc::Sender<Record> {
        self.sender.clone()
    }

    /// The output path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Cancelled the moment a write fails (the writer then stops taking
    /// records): the run should stop too.
    pub fn failed(&self) -> CancellationToken {
        self.failed.clone()
    }

    /// Waits until every record sent has been written and flushed; returns
    /// the number of records. Call after the engine has ended (its senders dropped).
    pub fn finish(self) -> Result<u64, WriteFailure> {
        drop(self.sender);
        self.thread.join().unwrap_or_else(|_| {
            Err(WriteFailure {
                error: eyre!("the output writer crashed"),
                safe: 0,
            })
        })
    }
}

/// Writes lines until every sender is gone: gathers them into blocks and
/// writes a block when it is full or the queue runs dry, so a quiet run's
/// file is always current and a busy one writes in large blocks. On an
/// error, gives the records whole in the file, counted from the bytes the
/// OS took.
fn write_all(
    mut rx: mpsc::Receiver<Record>,
    mut out: impl Write,
    header: Option<Vec<u8>>,
) -> Result<u64, (std::io::Error, u64)> {
    if let Some(h) = header {
        write_block(&mut out, &h).map_err(|(e, _)| (e, 0))?;
    }
    let mut safe = 0u64;
    let mut block = Vec::with_capacity(BLOCK);
    let mut pending = 0u64;
    loop {
        let record = match rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => {
                write_out(&mut out, &mut block, &mut pending, &mut safe)?;
                match rx.blocking_recv() {
                    Some(r) => r,
                    None => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        // A record of strings, numbers and JSON values always serializes.
        if serde_json::to_writer(&mut block, &record).is_ok() {
            block.push(b'\n');
            pending += 1;
        }
        if block.len() >= BLOCK {
            write_out(&mut out, &mut block, &mut pending, &mut safe)?;
        }
    }
    write_out(&mut out, &mut block, &mut pending, &mut safe)?;
    Ok(safe)
}

/// Writes the gathered block; on success its `pending` records are safe,
/// on failure those whose newline the OS took.
fn write_out(
    out: &mut dyn Write,
    block: &mut Vec<u8>,
    pending: &mut u64,
    safe: &mut u64,
) -> Result<(), (std::io::Error, u64)> {
    if let Err((e, written)) = write_block(out, block) {
        let whole = block[..written].iter().filter(|b| **b == b'\n').count() as u64;
        return Err((e, *safe + whole));
    }
    *safe += *pending;
    *pending = 0;
    block.clear();
    Ok(())
}

/// `write_all`, telling how many bytes the OS took before an error.
fn write_block(out: &mut dyn Write, bytes: &[u8]) -> Result<(), (std::io::Error, usize)> {
    let mut done = 0;
    while done < bytes.len() {
        match out.write(&bytes[done..]) {
            Ok(0) => return Err((ErrorKind::WriteZero.into(), done)),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err((e, done)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::record::ItemState;

    fn record(seq: u64) -> Record {
        Record {
            seq,
            url: Arc::from(format!("http://x/{seq}\n\u{1b}[31m").as_str()),
            state: ItemState::Done,
            status: Some(200),
            http: None,
            latency_us: 1500,
            ttfb_us: Some(1000),
            bytes: 10,
            decoded_bytes: None,
            encoding: None,
            attempts: 1,
            error: None,
            line: None,
            body: None,
            body_base64: None,
            fields: None,
        }
    }

    #[test]
    fn writes_every_record_as_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let w = JsonlWriter::create(&path, None).unwrap();
        let tx = w.sender();
        for seq in 1..=1000 {
            tx.blocking_send(record(seq)).unwrap();
        }
        drop(tx);
        assert_eq!(w.finish().unwrap(), 1000);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert!(text.ends_with('\n'));
        for (i, line) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["seq"], i as u64 + 1);
            // Control characters from outside stay data: escaped, never raw.
            assert!(v["url"].as_str().unwrap().contains('\u{1b}'));
            assert!(!line.contains('\u{1b}'));
        }
    }

    /// Takes `room` bytes, then fails as a full disk does.
    struct FillsUp {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for FillsUp {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room - self.taken.len()).min(1000);
            if n == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_counts_only_the_whole_lines_it_took() {
        let (tx, rx) = mpsc::channel(QUEUE);
        for seq in 1..=500 {
            tx.try_send(record(seq)).unwrap();
        }
        drop(tx);
        let mut out = FillsUp {
            taken: Vec::new(),
            room: 10_000,
        };
        let header = b"{\"kind\":\"job\"}\n".to_vec();
        let (e, safe) = write_all(rx, &mut out, Some(header)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28));
        let whole = out.taken.iter().filter(|b| **b == b'\n').count() as u64;
        // The job line is not a record.
        assert_eq!(safe, whole - 1);
        assert!(safe > 0 && safe < 500, "{safe}");
    }

    #[test]
    fn unwritable_path_fails_at_creation() {
        let err = JsonlWriter::create(Path::new("/nonexistent-dir/out.jsonl"), None)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("/nonexistent-dir/out.jsonl"));
    }
}
