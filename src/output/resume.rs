//! `--resume`: what an earlier run already recorded in the `-o` file.
//!
//! The file is read once at start-up, line by line, keeping only the seq of
//! each record in a [`SeqSet`]; the engine then skips those items. A last
//! line without its newline was torn by a kill in the middle of a write: it
//! is cut off before anything is appended, so the item runs again and the
//! file keeps whole lines only.
//!
//! A job line (kind `"job"`, see [`super::job`]) says which job wrote the
//! file; a resume of another job is refused before anything is touched.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::Path;

use serde::Deserialize;

use super::job::JobIdentity;
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
    /// Whether the file says which job wrote it.
    pub job: JobCheck,
}

/// What the file said about the job that wrote it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum JobCheck {
    /// Nothing in it yet (or no file): this run writes the job line.
    #[default]
    Empty,
    /// Its job line names this job.
    Same,
    /// Records without a job line (an older fetchtop wrote it): the job
    /// cannot be checked.
    Unknown,
}

/// The fields a resume needs; serde skips the rest of the line.
#[derive(Deserialize)]
struct LineHead {
    seq: Option<u64>,
    kind: Option<String>,
}

/// Reads the records in `path` and cuts off a torn last line. A missing
/// file is an empty start. Errors are one line, for a start-up failure
/// (exit 2): a line that is not a fetchtop record means the file is not the
/// output of this job, and appending to it would be wrong.
pub fn prepare(path: &Path, job: &JobIdentity) -> Result<Recorded, String> {
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
    let mut line_no = 0u64;
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
        line_no += 1;
        let not_ours = |why: String| {
            format!(
                "cannot resume from {shown}: line {line_no} is not a fetchtop record ({why}); give a new -o file or the output of this job"
            )
        };
        let head: LineHead = serde_json::from_slice(&line).map_err(|e| not_ours(e.to_string()))?;
        match (head.kind.as_deref(), head.seq) {
            (Some("job"), _) => {
                let earlier = JobIdentity::from_line(&line).map_err(not_ours)?;
                if let Some(why) = job.mismatch(&earlier) {
                    return Err(format!(
                        "cannot resume into {shown}: it holds another job ({why}); give a new -o file, or the command that wrote it"
                    ));
                }
                if recorded.job == JobCheck::Empty {
                    recorded.job = JobCheck::Same;
                }
            }
            (_, Some(seq)) => {
                if recorded.job == JobCheck::Empty {
                    recorded.job = JobCheck::Unknown;
                }
                recorded.lines += 1;
                recorded.seqs.insert(seq);
            }
            (_, None) => return Err(not_ours("it has no seq".into())),
        }
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
    use crate::engine::SourceSpec;
    use crate::engine::source::Template;

    fn job(url: &str) -> JobIdentity {
        let spec = SourceSpec::Template(Template::parse(url).unwrap().unwrap());
        JobIdentity::new(&spec, None, "GET", None).unwrap()
    }

    #[test]
    fn reads_seqs_and_cuts_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        std::fs::write(
            &path,
            "{\"seq\":3,\"url\":\"http://x/\\u001b]52;c;AAA\\u0007\"}\n{\"seq\":1}\n{\"seq\":7,\"url\":\"ht",
        )
        .unwrap();
        let r = prepare(&path, &job("http://x/{1..9}")).unwrap();
        assert_eq!(r.lines, 2);
        assert_eq!(r.seqs.len(), 2);
        assert!(r.seqs.contains(3) && r.seqs.contains(1) && !r.seqs.contains(7));
        assert_eq!(r.cut, "{\"seq\":7,\"url\":\"ht".len() as u64);
        assert_eq!(r.job, JobCheck::Unknown);
        let left = std::fs::read_to_string(&path).unwrap();
        assert!(left.ends_with("{\"seq\":1}\n"), "{left:?}");
    }

    #[test]
    fn a_missing_file_is_a_fresh_start_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = prepare(&dir.path().join("new.jsonl"), &job("http://x/{1..9}")).unwrap();
        assert!(r.seqs.is_empty() && r.lines == 0 && r.cut == 0);
        let foreign = dir.path().join("notes.txt");
        std::fs::write(&foreign, "{\"seq\":1}\nhello\n").unwrap();
        let e = prepare(&foreign, &job("http://x/{1..9}")).unwrap_err();
        assert!(e.contains("line 2 is not a fetchtop record"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&foreign).unwrap(),
            "{\"seq\":1}\nhello\n"
        );
        let e = prepare(dir.path(), &job("http://x/{1..9}")).unwrap_err();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
    }

    #[test]
    fn a_file_of_another_job_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let first = job("http://x/{1..100}");
        let mut text = first.to_line();
        text.extend_from_slice(b"{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3,\"u");
        std::fs::write(&path, &text).unwrap();
        let e = prepare(&path, &job("http://x/{501..700}")).unwrap_err();
        assert!(
            e.contains("another job") && e.contains("{501..700} here"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
        // Not even the torn line was cut.
        assert_eq!(std::fs::read(&path).unwrap(), text);
        let r = prepare(&path, &first).unwrap();
        assert_eq!((r.job, r.lines, r.seqs.len()), (JobCheck::Same, 2, 2));
    }
}
