//! `--timeseries FILE`: one row per second of the run, for people who plot
//! in their own tools. Written as the run goes from the engine's per-second
//! aggregates ([`Snapshot::seconds`]), so memory does not grow with the run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Report, WrapErr};
use serde::Serialize;
use tokio::sync::watch;

use crate::engine::ErrorKind;
use crate::snapshot::{RunState, SecondStats, Snapshot};

/// How the rows are written, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, a header line first, one column per error kind.
    Csv,
    /// One JSON object per line (`.jsonl`), only the error kinds seen.
    Jsonl,
}

impl Format {
    /// JSON lines for `.jsonl` (any case), CSV for anything else.
    pub fn for_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("jsonl") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// The time series file being written.
pub struct TimeSeries {
    out: BufWriter<File>,
    path: PathBuf,
    format: Format,
    /// The last whole second written.
    last: u64,
    rows: u64,
}

/// One row, as the JSON lines carry it.
#[derive(Serialize)]
struct Row {
    t_s: f64,
    completed: u64,
    rps: f64,
    failed: u64,
    cancelled: u64,
    responses: u64,
    in_flight: u64,
    limit: u64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: BTreeMap<&'static str, u64>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Row {
    fn of(s: &SecondStats) -> Row {
        let p = s.latency;
        Row {
            // A whole second ends at t_s; the one in progress ends now.
            t_s: round3(s.t_s.saturating_sub(1) as f64 + s.span_s),
            completed: s.completed,
            rps: if s.span_s > 0.0 {
                round3(s.completed as f64 / s.span_s)
            } else {
                0.0
            },
            failed: s.failed,
            cancelled: s.cancelled,
            responses: s.responses,
            in_flight: s.in_flight,
            limit: s.limit,
            p50_ms: round3(p.p50),
            p90_ms: round3(p.p90),
            p99_ms: round3(p.p99),
            max_ms: round3(p.max),
            errors: ErrorKind::ALL
                .iter()
                .map(|&k| (k.as_str(), s.errors[k.index()]))
                .filter(|&(_, n)| n > 0)
                .collect(),
        }
    }

    fn csv(&self, s: &SecondStats) -> String {
        let mut line = format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            self.t_s,
            self.completed,
            self.rps,
            self.failed,
            self.cancelled,
            self.responses,
            self.in_flight,
            self.limit,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        );
        for k in ErrorKind::ALL {
            line.push(',');
            line.push_str(&s.errors[k.index()].to_string());
        }
        line
    }
}

/// The CSV header: the fixed columns, then one per error kind.
pub fn csv_header() -> String {
    let mut h = String::from(
        "t_s,completed,rps,failed,cancelled,responses,in_flight,limit,p50_ms,p90_ms,p99_ms,max_ms",
    );
    for k in ErrorKind::ALL {
        h.push(',');
        h.push_str(k.as_str());
    }
    h
}

impl TimeSeries {
    /// Creates (or truncates) the file before the run starts, so a bad path
    /// is a usage error and not a lost series.
    pub fn create(path: &Path) -> Result<TimeSeries, String> {
        let fail = |e: std::io::Error| {
            format!("cannot write the time series file {}: {e}", path.display())
        };
        let file = File::create(path).map_err(fail)?;
        let format = Format::for_path(path);
        let mut out = BufWriter::new(file);
        if format == Format::Csv {
            writeln!(out, "{}", csv_header())
                .and_then(|()| out.flush())
                .map_err(fail)?;
        }
        Ok(TimeSeries {
            out,
            path: path.to_owned(),
            format,
            last: 0,
            rows: 0,
        })
    }

    fn row(&mut self, s: &SecondStats) -> std::io::Result<()> {
        let row = Row::of(s);
        let line = match self.format {
            Format::Csv => row.csv(s),
            Format::Jsonl => serde_json::to_string(&row).map_err(std::io::Error::other)?,
        };
        writeln!(self.out, "{line}")?;
        self.rows += 1;
        Ok(())
    }

    /// Writes the whole seconds of `snap` not written yet, and flushes them.
    pub fn write_new(&mut self, snap: &Snapshot) -> std::io::Result<()> {
        for s in &snap.seconds {
            if s.t_s > self.last {
                self.row(s)?;
                self.last = s.t_s;
            }
        }
        self.out.flush()
    }

    /// Writes what is left at the end of the run: the whole seconds not
    /// written yet and the last, partial one. Returns the rows written.
    pub fn finish(mut self, snap: &Snapshot) -> std::io::Result<u64> {
        self.write_new(snap)?;
        let now = snap.second_now;
        if now.span_s > 0.0 && now.t_s > self.last {
            self.row(&now)?;
        }
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(self.rows)
    }

    /// Follows the run's snapshots to its end, writing each second as it
    /// closes. Returns the rows written.
    pub async fn follow(mut self, mut snapshots: watch::Receiver<Snapshot>) -> Result<u64, Report> {
        let path = self.path.clone();
        let context = || format!("cannot write the time series file {}", path.display());
        while snapshots.changed().await.is_ok() {
            let snap = snapshots.borrow_and_update().clone();
            if snap.state == RunState::Finished {
                return self.finish(&snap).wrap_err_with(context);
            }
            self.write_new(&snap).wrap_err_with(context)?;
        }
        let snap = snapshots.borrow().clone();
        self.finish(&snap).wrap_err_with(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(Format::for_path(Path::new("a.csv")), Format::Csv);
        assert_eq!(Format::for_path(Path::new("a.JSONL")), Format::Jsonl);
        assert_eq!(Format::for_path(Path::new("series")), Format::Csv);
    }

    #[test]
    fn a_csv_row_has_a_value_for_every_column() {
        let mut s = SecondStats {
            t_s: 3,
            span_s: 0.5,
            completed: 10,
            ..SecondStats::default()
        };
        s.errors[ErrorKind::Timeout.index()] = 2;
        let row = Row::of(&s);
        assert_eq!(row.t_s, 2.5);
        assert_eq!(row.rps, 20.0);
        let line = row.csv(&s);
        assert_eq!(line.split(',').count(), csv_header().split(',').count());
        let header: Vec<String> = csv_header().split(',').map(str::to_owned).collect();
        let at = header.iter().position(|h| h == "timeout").unwrap();
        assert_eq!(line.split(',').nth(at), Some("2"));
    }
}
