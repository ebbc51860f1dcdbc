//! The `-o` file of a run: created, or with `--resume` read, cut back to
//! whole lines and appended to; and finished (every record written and
//! flushed) on every way out.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use color_eyre::eyre::Report;

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

/// Creates `path`, or with `resume` reads what it holds (cutting a torn last
/// line, said on stderr unless `quiet`) and appends to it. Errors are one
/// line, for a start-up failure (exit 2).
pub fn open(path: Option<&Path>, resume: bool, quiet: bool) -> Result<OutputFile, String> {
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
            writer: Some(JsonlWriter::create(path).map_err(one_line)?),
            earlier: None,
            skip: None,
        });
    }
    let recorded = resume::prepare(path)?;
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
                "fetchtop: resume: cut a torn last line ({} bytes) from {}; its item runs again",
                recorded.cut,
                format::inert(&path.display().to_string())
            );
        }
    }
    Ok(OutputFile {
        writer: Some(JsonlWriter::append(path).map_err(one_line)?),
        earlier: Some(recorded.lines),
        skip: (!recorded.seqs.is_empty()).then(|| Arc::new(recorded.seqs)),
    })
}

/// Waits until every record is written and flushed; gives the path and the
/// line count, or why not. Call after the engine has ended.
pub async fn close(writer: Option<JsonlWriter>) -> Result<Option<(String, u64)>, Report> {
    let Some(w) = writer else {
        return Ok(None);
    };
    let path = w.path().display().to_string();
    match tokio::task::spawn_blocking(move || w.finish()).await {
        Ok(Ok(lines)) => Ok(Some((path, lines))),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Report::msg(format!("the output writer stopped: {e}"))),
    }
}
