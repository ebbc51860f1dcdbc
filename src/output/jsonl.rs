//! `-o FILE`: one JSON line per finished item, written by one thread.
//!
//! A plain OS thread rather than a tokio task: file writes block, and the
//! engine's workers should never wait on a disk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::sync::mpsc::{self, error::TryRecvError};

use crate::engine::Record;

/// Records queued for the writer before the engine waits for it.
const QUEUE: usize = 4096;

/// A running JSONL writer. Send records to [`JsonlWriter::sender`]; drop every
/// sender, then call [`JsonlWriter::finish`] to flush and learn the line count.
pub struct JsonlWriter {
    sender: mpsc::Sender<Record>,
    thread: JoinHandle<Result<u64>>,
    path: PathBuf,
}

impl JsonlWriter {
    /// Creates (truncates) `path` and starts the writer thread. Fails at once
    /// when the file cannot be created, so a bad `-o` is a start-up error.
    pub fn create(path: &Path) -> Result<JsonlWriter> {
        let file = File::create(path)
            .wrap_err_with(|| format!("cannot create output file {}", path.display()))?;
        JsonlWriter::start(path, file)
    }

    /// Opens `path` for appending (creating it if need be) and starts the
    /// writer thread: `--resume` adds to what an earlier run wrote.
    pub fn append(path: &Path) -> Result<JsonlWriter> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .wrap_err_with(|| format!("cannot open output file {} to append", path.display()))?;
        JsonlWriter::start(path, file)
    }

    fn start(path: &Path, file: File) -> Result<JsonlWriter> {
        let (sender, rx) = mpsc::channel(QUEUE);
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("fetchtop-jsonl".into())
            .spawn(move || {
                write_all(rx, BufWriter::with_capacity(256 * 1024, file))
                    .wrap_err_with(|| format!("cannot write output file {shown}"))
            })
            .wrap_err("cannot start the output writer")?;
        Ok(JsonlWriter {
            sender,
            thread,
            path: path.to_path_buf(),
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

    /// Waits until every record sent has been written and flushed; returns
    /// the number of lines. Call after the engine has ended (its senders dropped).
    pub fn finish(self) -> Result<u64> {
        drop(self.sender);
        self.thread
            .join()
            .map_err(|_| eyre!("the output writer crashed"))?
    }
}

/// Writes lines until every sender is gone. Flushes whenever the queue runs
/// dry, so a quiet run's file is always current, and a busy one writes in
/// large blocks.
fn write_all<W: Write>(mut rx: mpsc::Receiver<Record>, mut out: W) -> Result<u64> {
    let mut lines = 0u64;
    loop {
        let record = match rx.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => {
                out.flush()?;
                match rx.blocking_recv() {
                    Some(r) => r,
                    None => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
        lines += 1;
    }
    out.flush()?;
    Ok(lines)
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
        let w = JsonlWriter::create(&path).unwrap();
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

    #[test]
    fn unwritable_path_fails_at_creation() {
        let err = JsonlWriter::create(Path::new("/nonexistent-dir/out.jsonl"))
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("/nonexistent-dir/out.jsonl"));
    }
}
