//! `--resume`: what an earlier run already recorded in the `-o` file.
//!
//! The file is read once at start-up, line by line, keeping only the seq of
//! each record in a [`SeqSet`]; the engine then skips those items. A last
//! line without its newline was torn by a kill in the middle of a write: it
//! is cut off before anything is appended, so the item runs again and the
//! file keeps whole lines only.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::Path;

use serde::Deserialize;

use crate::engine::seqset::SeqSet;

/// What the earlier runs left in the output file.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Seqs of the items recorded.
    pub seqs: SeqSet,
    /// Whole lines kept.
    pub lines: u64,
    /// Bytes of a torn last line that were cut off.
    pub cut: u64,
}

/// The one field a resume needs; serde skips the rest of the line.
#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

/// Reads the records in `path` and cuts off a torn last line. A missing
/// file is an empty start. Errors are one line, for a start-up failure
/// (exit 2): a line that is not a fetchtop record means the file is not the
/// output of this job, and appending to it would be wrong.
pub fn prepare(path: &Path) -> Result<Recorded, String> {
    let shown = path.display();
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Recorded::default()),
        Err(e) => return Err(format!("cannot open {shown} to resume: {e}")),
    };
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(format!("cannot resume into {shown}: it is a directory"));
    }
    let mut reader = BufReader::with_capacity(256 * 1024, &file);
    let mut recorded = Recorded::default();
    let mut whole_end = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read {shown} to resume: {e}"))?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // Only the very last line can lack its newline: read_until stops there.
            recorded.cut = n as u64;
            break;
        }
        recorded.lines += 1;
        let record: SeqOnly = serde_json::from_slice(&line).map_err(|e| {
            format!(
                "cannot resume from {shown}: line {} is not a fetchtop record ({e}); give a new -o file or the output of this job",
                recorded.lines
            )
        })?;
        recorded.seqs.insert(record.seq);
        whole_end += n as u64;
    }
    drop(reader);
    if recorded.cut > 0 {
        cut_to(&file, whole_end)
            .map_err(|e| format!("cannot cut the torn last line of {shown}: {e}"))?;
    }
    Ok(recorded)
}

fn cut_to(file: &File, len: u64) -> std::io::Result<()> {
    file.set_len(len)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_seqs_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(
            &path,
            "{\"seq\":3,\"url\":\"http://x/\\u001b]52;c;AAA\\u0007\"}\n{\"seq\":1}\n{\"seq\":7,\"url\":\"ht",
        )
        .unwrap();
        let r = prepare(&path).unwrap();
        assert_eq!(r.lines, 2);
        assert_eq!(r.seqs.len(), 2);
        assert!(r.seqs.contains(3) && r.seqs.contains(1) && !r.seqs.contains(7));
        assert_eq!(r.cut, "{\"seq\":7,\"url\":\"ht".len() as u64);
        let left = std::fs::read_to_string(&path).unwrap();
        assert!(left.ends_with("{\"seq\":1}\n"), "{left:?}");
    }

    #[test]
    fn a_missing_file_is_a_fresh_start_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = prepare(&dir.path().join("new.jsonl")).unwrap();
        assert!(r.seqs.is_empty() && r.lines == 0 && r.cut == 0);
        let foreign = dir.path().join("notes.txt");
        std::fs::write(&foreign, "{\"seq\":1}\nhello\n").unwrap();
        let e = prepare(&foreign).unwrap_err();
        assert!(e.contains("line 2 is not a fetchtop record"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&foreign).unwrap(),
            "{\"seq\":1}\nhello\n"
        );
        let e = prepare(dir.path()).unwrap_err();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
    }
}
