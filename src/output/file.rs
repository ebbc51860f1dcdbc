//! The `-o` file of a run: created, or with `--resume` read, cut back to
//! whole lines and appended to; and finished (every record written and
//! flushed) on every way out.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::Report;

use super::job::JobIdentity;
use super::jsonl::WriteFailure;
use super::resume::JobCheck;
use super::{JsonlWriter, resume};
use crate::engine::seqset::SeqSet;
use crate::format;

/// The `-o` file, ready for the engine's records.
pub struct OutputFile {
    /// The writer, when there is an `-o` file.
    pub writer: Option<JsonlWriter>,
    /// `--resume`: lines an earlier run left in the file.
    pub earlier: Option<u64>,
    /// `--resume`: the seqs those lines hold, which this run skips.
    pub skip: Option<Arc<SeqSet>>,
}

/// Creates `path` with `job`'s line first, or with `resume` reads what it
/// holds (refusing another job's file, cutting a torn last line, said on
/// stderr unless `quiet`) and appends to it. Errors are one line, for a
/// start-up failure (exit 2).
pub fn open(
    path: Option<&Path>,
    resume: bool,
    quiet: bool,
    job: &JobIdentity,
) -> Result<OutputFile, String> {
    let Some(path) = path else {
        return Ok(OutputFile {
            writer: None,
            earlier: None,
            skip: None,
        });
    };
    let one_line = |e: Report| format!("{e:#}");
    if !resume {
        return Ok(OutputFile {
            writer: Some(JsonlWriter::create(path, Some(job.to_line())).map_err(one_line)?),
            earlier: None,
            skip: None,
        });
    }
    let recorded = resume::prepare(path, job)?;
    let shown = path.display().to_string();
    let shown = format::inert(&shown);
    if recorded.job == JobCheck::Unknown {
        tracing::warn!("resume: the output file has no job line; its job cannot be checked");
        if !quiet {
            let _ = writeln!(
                std::io::stderr(),
                "fetchtop: warning: {shown} has no job line (an older fetchtop wrote it), so it cannot be checked to be this job's: give the same source as before"
            );
        }
    }
    tracing::info!(
        lines = recorded.lines,
        seqs = recorded.seqs.len(),
        "resuming: the items already in the output file are skipped"
    );
    if recorded.cut > 0 {
        tracing::warn!(bytes = recorded.cut, "resume: cut a torn last line");
        if !quiet {
            // Best effort: stderr may be gone.
            let _ = writeln!(
                std::io::stderr(),
                "fetchtop: resume: cut a torn last line ({} bytes) from {shown}; its item runs again",
                recorded.cut,
            );
        }
    }
    Ok(OutputFile {
        // A file with nothing in it yet gets its job line now.
        writer: Some(
            JsonlWriter::append(
                path,
                (recorded.job == JobCheck::Empty).then(|| job.to_line()),
            )
            .map_err(one_line)?,
        ),
        earlier: Some(recorded.lines),
        skip: (!recorded.seqs.is_empty()).then(|| Arc::new(recorded.seqs)),
    })
}

/// Waits until every record is written and flushed; gives the path and the
/// record count, or why not (with the records safely written). Call after
/// the engine has ended.
pub async fn close(writer: Option<JsonlWriter>) -> Result<Option<(String, u64)>, WriteFailure> {
    let Some(w) = writer else {
        return Ok(None);
    };
    let path = w.path().display().to_string();
    match tokio::task::spawn_blocking(move || w.finish()).await {
        Ok(Ok(lines)) => Ok(Some((path, lines))),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(WriteFailure {
            error: Report::msg(format!("the output writer stopped: {e}")),
            safe: 0,
        }),
    }
}
