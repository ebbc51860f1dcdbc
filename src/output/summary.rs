//! The end-of-run summary, as text for people or one JSON object for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::Model;
use crate::format;
use crate::snapshot::{Percentiles, Snapshot};

/// Latency percentiles in the summary, in milliseconds (rounded to µs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

/// The text summary's latency line (newline included).
pub(crate) fn latency_line(l: &LatencyMs) -> String {
    format!(
        "  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
        format::ms(l.p50),
        format::ms(l.p90),
        format::ms(l.p99),
        format::ms(l.p999),
        format::ms(l.max)
    )
}

/// A text summary line of counts (`  status     200: 9,801  503: 99`),
/// each key after `prefix`; nothing when there are none.
pub(crate) fn counts_line(label: &str, counts: &BTreeMap<String, u64>, prefix: &str) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(k, n)| format!("{prefix}{k}: {}", format::count(*n)))
        .collect();
    format!("  {label:<10} {}\n", parts.join("  "))
}

/// Rounded to 3 decimals (µs, for a figure in ms), as the summary shows figures.
pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl From<Percentiles> for LatencyMs {
    fn from(p: Percentiles) -> Self {
        LatencyMs {
            p50: round3(p.p50),
            p90: round3(p.p90),
            p99: round3(p.p99),
            p999: round3(p.p999),
            max: round3(p.max),
        }
    }
}

/// What a run did, from its final snapshot. `total == done + failed + cancelled`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Items that ended.
    pub total: u64,
    /// Items fetched successfully.
    pub done: u64,
    /// Items that failed (errors and error statuses).
    pub failed: u64,
    /// Items cancelled.
    pub cancelled: u64,
    /// Items not fetched because the output file already held them (`--resume`).
    pub skipped: u64,
    /// Run time in seconds.
    pub elapsed_s: f64,
    /// Items completed (done or failed; cancellations are not the target's
    /// work) per second over the run.
    pub rps: f64,
    /// Body bytes received.
    pub bytes: u64,
    /// Latency of items that got a response.
    pub latency_ms: LatencyMs,
    /// Count per HTTP status code.
    pub status: BTreeMap<String, u64>,
    /// Count per error kind.
    pub errors: BTreeMap<String, u64>,
    /// Answers per HTTP version spoken ("1.1", "2").
    pub http_versions: BTreeMap<String, u64>,
    /// Most requests in flight at once.
    pub max_in_flight: u64,
    /// Items the source held, when known; more than `total` when the run was stopped early.
    pub planned: Option<u64>,
    /// The run was interrupted (Ctrl-C or a signal).
    pub interrupted: bool,
    /// Why the source ended early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_error: Option<String>,
    /// The JSONL file written, and its line count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputFile>,
    /// Peak resident memory of fetchtop, in MB (Linux).
    pub peak_rss_mb: Option<f64>,
    /// How the dashboard kept up, when it was on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dashboard: Option<FrameStats>,
    /// How the run was executed, and how the executor fared.
    pub executor: ExecutorSummary,
    /// `--adaptive`: every change of the limit it made (when it was on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveSummary>,
    /// `--sweep`: the steps and the knee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSummary>,
    /// `--fail-if` and `--abort-if`, judged (when any were given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<crate::thresholds::Report>,
    /// The part of a job over many processes this run was (`--shard K/N`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_shard: Option<crate::engine::job_shard::JobShard>,
    /// The latency histogram itself, losslessly, for `fetchtop merge`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<crate::remote::wire::LosslessHistogram>,
}

/// Frames the dashboard drew.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FrameStats {
    /// Frames drawn.
    pub frames: u64,
    /// Frames per second from the first frame to the last.
    pub fps: f64,
    /// Longest time between two frames, in milliseconds.
    pub longest_gap_ms: f64,
    /// Slowest key press to the frame showing the engine's answer, in
    /// milliseconds (keys that send the engine a command).
    pub key_to_screen_ms_max: Option<f64>,
}

/// The executor's side of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExecutorSummary {
    /// The execution model at the end of the run.
    pub model: Model,
    /// Shards: event loops, each on an OS thread of its own.
    pub workers: usize,
    /// Each shard's share of the run (in flight is 0 at the end).
    pub shards: Vec<crate::snapshot::ShardView>,
    /// 99th percentile of the heartbeat's lag over the run, in ms.
    pub lag_ms_p99: f64,
    /// Largest heartbeat lag of the run, in ms.
    pub lag_ms_max: f64,
    /// Most OS threads of the process seen during the run (read from the OS; Linux).
    pub os_threads_peak: Option<u64>,
}

/// What `--adaptive` did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdaptiveSummary {
    /// Still on when the run ended (a limit set by hand turns it off).
    pub on_at_end: bool,
    /// `--adaptive-max`.
    pub max: u64,
    /// `--target-p99`, in ms.
    pub target_p99_ms: Option<f64>,
    /// The limit at the end.
    pub final_limit: u64,
    /// Changes older than those listed, no longer kept.
    pub dropped: u64,
    /// Each change: time, from, to, why.
    pub changes: Vec<crate::snapshot::LimitChange>,
}

/// What `--sweep` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepSummary {
    /// The lowest limit tried.
    pub min: u64,
    /// The highest limit it could try.
    pub max: u64,
    /// The smallest limit within a few percent of the best throughput.
    pub knee: Option<u64>,
    /// Why the sweep ended.
    pub ended: Option<String>,
    /// Each step measured.
    pub steps: Vec<crate::snapshot::SweepStep>,
}

/// The `-o` file of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputFile {
    /// Path as given.
    pub path: String,
    /// Lines written by this run.
    pub lines: u64,
    /// Lines an earlier run left in the file (`--resume`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earlier: Option<u64>,
}

impl Summary {
    /// Sums up a final snapshot.
    pub fn from_snapshot(s: &Snapshot) -> Summary {
        let elapsed_s = s.elapsed.as_secs_f64();
        let total = s.counts.finished();
        Summary {
            total,
            done: s.counts.done,
            failed: s.counts.failed,
            cancelled: s.counts.cancelled,
            skipped: s.skipped,
            elapsed_s: round3(elapsed_s),
            rps: if elapsed_s > 0.0 {
                round3((s.counts.done + s.counts.failed) as f64 / elapsed_s)
            } else {
                0.0
            },
            bytes: s.bytes,
            latency_ms: s.latency.into(),
            status: s.status.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            http_versions: s
                .http_versions
                .iter()
                .map(|(v, n)| (v.to_string(), *n))
                .collect(),
            errors: s
                .errors
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), *n))
                .collect(),
            max_in_flight: s.max_in_flight,
            planned: s.total,
            interrupted: false,
            source_error: s.source_error.clone(),
            output: None,
            peak_rss_mb: crate::sys::peak_rss_bytes().map(|b| round3(b as f64 / 1e6)),
            dashboard: None,
            executor: ExecutorSummary {
                model: s.executor.model,
                workers: s.executor.workers,
                shards: s.executor.shards.clone(),
                lag_ms_p99: round3(s.executor.lag_run_p99_ms),
                lag_ms_max: round3(s.executor.lag_run_max_ms),
                os_threads_peak: s.executor.os_threads_peak,
            },
            adaptive: (s.adaptive.on || !s.adaptive.changes.is_empty()).then(|| AdaptiveSummary {
                on_at_end: s.adaptive.on,
                max: s.adaptive.max,
                target_p99_ms: s.adaptive.target_p99_ms,
                final_limit: s.limit,
                dropped: s.adaptive.dropped,
                changes: s.adaptive.changes.iter().cloned().collect(),
            }),
            sweep: s.sweep.as_ref().map(|w| SweepSummary {
                min: w.min,
                max: w.max,
                knee: w.knee,
                ended: w.ended.clone(),
                steps: w.steps.to_vec(),
            }),
            thresholds: None,
            job_shard: None,
            latency_histogram: s
                .latency_histogram
                .as_deref()
                .map(crate::remote::wire::LosslessHistogram::encode),
        }
    }

    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        // A struct of numbers, strings and maps with string keys always serializes.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A few aligned lines for people.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let how = if self.interrupted {
            "interrupted"
        } else {
            "finished"
        };
        let _ = writeln!(t, "fetchtop {how} after {:.1}s", self.elapsed_s);
        let _ = writeln!(
            t,
            "  items      {} (done {}, failed {}, cancelled {}){}{}",
            format::count(self.total),
            format::count(self.done),
            format::count(self.failed),
            format::count(self.cancelled),
            if self.skipped > 0 {
                format!(
                    ", {} skipped (already in the output)",
                    format::count(self.skipped)
                )
            } else {
                String::new()
            },
            match self.planned {
                Some(p) if p > self.total + self.skipped => format!(
                    ", {} not started",
                    format::count(p - self.total - self.skipped)
                ),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            t,
            "  rate       {} req/s, {} received, at most {} in flight",
            format::count(self.rps.round() as u64),
            format::bytes(self.bytes),
            format::count(self.max_in_flight)
        );
        let l = &self.latency_ms;
        if self.status.is_empty() {
            let _ = writeln!(t, "  latency    no responses");
        } else {
            t += &latency_line(l);
        }
        t += &counts_line("status", &self.status, "");
        t += &counts_line("http", &self.http_versions, "HTTP/");
        t += &counts_line("errors", &self.errors, "");
        let x = &self.executor;
        let per_shard = if x.shards.len() > 1 {
            let counts: Vec<String> = x.shards.iter().map(|s| format::count(s.finished)).collect();
            format!(" ({} items)", counts.join(" | "))
        } else {
            String::new()
        };
        let _ = writeln!(
            t,
            "  executor   {}, {} shard{}{per_shard}, heartbeat lag p99 {} max {}{}",
            x.model.as_str(),
            x.workers,
            if x.workers == 1 { "" } else { "s" },
            format::ms(x.lag_ms_p99),
            format::ms(x.lag_ms_max),
            x.os_threads_peak
                .map(|n| format!(", OS threads peak {n}"))
                .unwrap_or_default()
        );
        if let Some(o) = &self.output {
            let earlier = match o.earlier {
                Some(n) => format!(", after {} from earlier runs", format::count(n)),
                None => String::new(),
            };
            let _ = writeln!(
                t,
                "  output     {} ({} lines{earlier})",
                format::inert(&o.path),
                format::count(o.lines)
            );
        }
        if let Some(e) = &self.source_error {
            let _ = writeln!(t, "  input      stopped early: {}", format::inert(e));
        }
        if let Some(a) = &self.adaptive {
            let _ = writeln!(
                t,
                "  adaptive   {} changes, limit {} at the end{}",
                a.changes.len() as u64 + a.dropped,
                format::count(a.final_limit),
                if a.on_at_end { "" } else { " (turned off)" }
            );
        }
        if let Some(s) = &self.sweep {
            let _ = writeln!(
                t,
                "  sweep      knee {}{}",
                s.knee.map_or("not found".into(), format::count),
                s.ended
                    .as_ref()
                    .map(|e| format!(" ({})", format::inert(e)))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                t,
                "             {:>7} {:>10} {:>9} {:>9} {:>7} {:>6}",
                "limit", "req/s", "p50", "p99", "errors", "held"
            );
            for st in &s.steps {
                let _ = writeln!(
                    t,
                    "             {:>7} {:>10.1} {:>9} {:>9} {:>7} {:>5.1}s{}{}",
                    format::count(st.limit),
                    st.rps,
                    format::ms(st.p50_ms),
                    format::ms(st.p99_ms),
                    format::count(st.errors),
                    st.secs,
                    if st.steady { "" } else { " (not steady)" },
                    if Some(st.limit) == s.knee {
                        "  ← knee"
                    } else {
                        ""
                    }
                );
            }
        }
        if let Some(r) = &self.thresholds {
            t += &r.to_text();
        }
        if let Some(part) = self.job_shard {
            let _ = writeln!(
                t,
                "  job shard  {part} (fetchtop merge makes one result of the shards' --summary-file)"
            );
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::ErrorKind;
    use crate::snapshot::{ExecutorView, StateCounts};

    fn snapshot() -> Snapshot {
        Snapshot {
            elapsed: Duration::from_secs(2),
            counts: StateCounts {
                done: 90,
                failed: 8,
                cancelled: 2,
                ..StateCounts::default()
            },
            status: vec![(200, 90), (503, 8)],
            errors: vec![(ErrorKind::Http5xx, 8), (ErrorKind::Cancelled, 2)],
            latency: Percentiles {
                p50: 1.23456,
                p90: 2.0,
                p99: 3.0,
                p999: 4.0,
                max: 5.0,
                ..Percentiles::default()
            },
            total: Some(1000),
            executor: ExecutorView {
                workers: 2,
                shards: vec![
                    crate::snapshot::ShardView {
                        id: 0,
                        finished: 600,
                        ..Default::default()
                    },
                    crate::snapshot::ShardView {
                        id: 1,
                        finished: 400,
                        ..Default::default()
                    },
                ],
                lag_run_p99_ms: 1.5,
                lag_run_max_ms: 70.0,
                os_threads_peak: Some(9),
                ..ExecutorView::default()
            },
            ..Snapshot::default()
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        let s = Summary::from_snapshot(&snapshot());
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["total"], 100);
        assert_eq!(v["done"], 90);
        assert_eq!(v["failed"], 8);
        assert_eq!(v["cancelled"], 2);
        assert_eq!(v["rps"], 49.0, "cancelled items are not throughput");
        assert_eq!(v["latency_ms"]["p50"], 1.235);
        assert_eq!(v["status"]["503"], 8);
        assert_eq!(v["errors"]["http_5xx"], 8);
        assert_eq!(v["planned"], 1000);
        assert_eq!(v["executor"]["model"], "async");
        assert_eq!(v["executor"]["workers"], 2);
        assert_eq!(v["executor"]["shards"][1]["finished"], 400);
        assert_eq!(v["executor"]["lag_ms_p99"], 1.5);
        assert_eq!(v["executor"]["lag_ms_max"], 70.0);
        assert_eq!(v["executor"]["os_threads_peak"], 9);
        assert!(!s.to_json().contains('\n'));
    }

    #[test]
    fn text_names_everything() {
        let t = Summary::from_snapshot(&snapshot()).to_text();
        assert!(t.contains("done 90, failed 8, cancelled 2"), "{t}");
        assert!(t.contains("900 not started"), "{t}");
        assert!(t.contains("503: 8"), "{t}");
        assert!(t.contains("http_5xx: 8"), "{t}");
        assert!(
            t.contains("executor   async, 2 shards (600 | 400 items)"),
            "{t}"
        );
    }

    #[test]
    fn a_resumed_run_counts_what_it_skipped() {
        let mut snap = snapshot();
        snap.skipped = 850;
        snap.source_error = Some("read failed \u{1b}]52;c;QUFB\u{7}".into());
        let mut s = Summary::from_snapshot(&snap);
        s.output = Some(OutputFile {
            path: "out.jsonl".into(),
            lines: 100,
            earlier: Some(850),
        });
        let t = s.to_text();
        assert!(
            t.contains("850 skipped (already in the output), 50 not started"),
            "{t}"
        );
        assert!(
            t.contains("(100 lines, after 850 from earlier runs)"),
            "{t}"
        );
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
        assert!(!t.contains("job shard"), "{t}");
        s.job_shard = crate::engine::job_shard::JobShard::new(1, 3).ok();
        assert!(s.to_text().contains("job shard  1/3"), "{}", s.to_text());
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["skipped"], 850);
        assert_eq!(v["output"]["earlier"], 850);
    }
}
