//! `fetchtop merge FILE...`: the summaries of a job's shards (written with
//! `--summary-file`) into one, with exact percentiles (their lossless
//! histograms added, never their percentiles averaged), and, when asked,
//! a check of their JSONL outputs: every seq of the job once.
//!
//! Memory: the histograms are fixed-size; the seq check holds two bitmaps
//! in proportion to the job's span of seqs (about 125 KB a million).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use crate::cli::MergeArgs;
use crate::engine::job_shard::JobShard;
use crate::engine::seqset::SeqSet;
use crate::format;
use crate::launch::Failure;
use crate::output::summary::{self, LatencyMs, round3};
use crate::remote::wire::{HistogramSum, LosslessHistogram};

/// Most missing or repeated seqs listed by number (the counts are whole).
const SEQS_LISTED: usize = 20;

/// The fields of a shard's summary that merge.
#[derive(Debug, Deserialize)]
struct ShardSummary {
    done: u64,
    failed: u64,
    cancelled: u64,
    #[serde(default)]
    skipped: u64,
    elapsed_s: f64,
    bytes: u64,
    status: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    /// Absent from summaries written before versions were counted.
    #[serde(default)]
    http_versions: BTreeMap<String, u64>,
    max_in_flight: u64,
    planned: Option<u64>,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    output: Option<OutputRef>,
    #[serde(default)]
    job_shard: Option<JobShard>,
    #[serde(default)]
    latency_histogram: Option<LosslessHistogram>,
}

#[derive(Debug, Deserialize)]
struct OutputRef {
    path: PathBuf,
}

/// The shards of the job, as the summaries name them.
#[derive(Debug, Serialize, PartialEq)]
pub struct ShardsReport {
    /// N.
    pub count: u64,
    /// The K of each summary given, ascending, once each.
    pub present: Vec<u64>,
    /// Shards with no summary.
    pub missing: Vec<u64>,
    /// Shards given more than once (their numbers are counted once).
    pub repeated: Vec<u64>,
}

/// What the JSONL outputs held.
#[derive(Debug, Serialize, PartialEq)]
pub struct SeqsReport {
    /// The files read.
    pub files: Vec<String>,
    /// Records read.
    pub records: u64,
    /// The job's seqs were 1 to this.
    pub job_items: u64,
    /// Seqs of the job no file holds.
    pub missing: u64,
    /// The first of them.
    pub missing_first: Vec<u64>,
    /// Seqs held more than once.
    pub repeated: u64,
    /// The first of them.
    pub repeated_first: Vec<u64>,
}

/// The merged summary. Counts are the shards' sums; `elapsed_s` is the
/// longest shard's; `max_in_flight` the sum of their peaks (an upper bound).
#[derive(Debug, Serialize)]
pub struct Merged {
    /// Items that ended.
    pub total: u64,
    /// Done.
    pub done: u64,
    /// Failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Skipped as already recorded.
    pub skipped: u64,
    /// The longest shard's run time.
    pub elapsed_s: f64,
    /// (done + failed) / elapsed_s.
    pub rps: f64,
    /// Body bytes.
    pub bytes: u64,
    /// Exact percentiles of every shard's responses.
    pub latency_ms: LatencyMs,
    /// Per status code.
    pub status: BTreeMap<String, u64>,
    /// Per error kind.
    pub errors: BTreeMap<String, u64>,
    /// Per HTTP version spoken.
    pub http_versions: BTreeMap<String, u64>,
    /// Sum of the shards' peaks.
    pub max_in_flight: u64,
    /// Items the job held, when every shard knew its share.
    pub planned: Option<u64>,
    /// Some shard was interrupted.
    pub interrupted: bool,
    /// Which shards were there.
    pub shards: ShardsReport,
    /// The seq check, when outputs were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seqs: Option<SeqsReport>,
    /// Every shard there, and with outputs checked every seq once.
    pub complete: bool,
    /// The merged histogram, lossless, so merges can be merged again.
    pub latency_histogram: LosslessHistogram,
}

/// Runs `fetchtop merge`: exit 0 when the job is complete, 1 when a shard
/// or a seq is missing or repeated, 2 for a file that cannot be used.
pub fn run(args: &MergeArgs) -> Result<ExitCode, Failure> {
    let (outputs, summaries): (Vec<&PathBuf>, Vec<&PathBuf>) = args
        .files
        .iter()
        .partition(|p| p.extension().is_some_and(|e| e == "jsonl"));
    if summaries.is_empty() {
        return Err(Failure::Usage(
            "merge needs the shards' summaries (*.json, from --summary-file)".into(),
        ));
    }
    let read: Vec<ShardSummary> = summaries
        .iter()
        .map(|p| read_summary(p))
        .collect::<Result<_, _>>()
        .map_err(Failure::Usage)?;
    let mut outputs: Vec<PathBuf> = outputs.into_iter().cloned().collect();
    if args.check_outputs {
        for (s, path) in read.iter().zip(&summaries) {
            match &s.output {
                Some(o) => outputs.push(o.path.clone()),
                None => {
                    return Err(Failure::Usage(format!(
                        "--check-outputs: {} names no -o file",
                        path.display()
                    )));
                }
            }
        }
    }
    let merged = merge(&read, &outputs).map_err(Failure::Usage)?;
    let text = if args.json {
        serde_json::to_string(&merged).unwrap_or_default() + "\n"
    } else {
        to_text(&merged)
    };
    print!("{text}");
    Ok(if merged.complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_summary(path: &Path) -> Result<ShardSummary, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a fetchtop summary ({e}); give the --summary-file of each shard",
            path.display()
        )
    })
}

/// Merges summaries, checking `outputs` seq by seq when there are any.
fn merge(shards: &[ShardSummary], outputs: &[PathBuf]) -> Result<Merged, String> {
    let parts: Vec<JobShard> = shards
        .iter()
        .map(|s| s.job_shard.unwrap_or_default())
        .collect();
    let count = parts[0].count;
    if let Some(other) = parts.iter().find(|p| p.count != count) {
        return Err(format!(
            "these summaries are of different splits ({}/{count} and {other}): give the shards of one job",
            parts[0].index
        ));
    }
    let mut present = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    for p in &parts {
        if !present.insert(p.index) {
            repeated.insert(p.index);
        }
    }
    let missing: Vec<u64> = (0..count).filter(|k| !present.contains(k)).collect();
    let mut sum = HistogramSum::new();
    for (s, p) in shards.iter().zip(&parts) {
        match &s.latency_histogram {
            Some(h) => sum.add(&h.decode().map_err(|e| format!("shard {p}: {e}"))?)?,
            // Nothing to add from a shard that got no response at all.
            None if s.status.is_empty() => {}
            None => {
                return Err(format!(
                    "the summary of shard {p} has no latency_histogram (written by an older fetchtop?)"
                ));
            }
        }
    }
    let add_maps = |pick: fn(&ShardSummary) -> &BTreeMap<String, u64>| {
        let mut out = BTreeMap::new();
        for s in shards {
            for (k, n) in pick(s) {
                *out.entry(k.clone()).or_insert(0) += n;
            }
        }
        out
    };
    let total_of = |f: fn(&ShardSummary) -> u64| shards.iter().map(f).sum::<u64>();
    let (done, failed, cancelled) = (
        total_of(|s| s.done),
        total_of(|s| s.failed),
        total_of(|s| s.cancelled),
    );
    let elapsed_s = shards.iter().map(|s| s.elapsed_s).fold(0.0, f64::max);
    let planned = if missing.is_empty() && repeated.is_empty() {
        shards.iter().map(|s| s.planned).sum::<Option<u64>>()
    } else {
        None
    };
    let seqs = if outputs.is_empty() {
        None
    } else {
        Some(check_outputs(outputs, planned)?)
    };
    let complete = missing.is_empty()
        && repeated.is_empty()
        && seqs
            .as_ref()
            .is_none_or(|s| s.missing == 0 && s.repeated == 0);
    Ok(Merged {
        total: done + failed + cancelled,
        done,
        failed,
        cancelled,
        skipped: total_of(|s| s.skipped),
        elapsed_s: round3(elapsed_s),
        rps: if elapsed_s > 0.0 {
            round3((done + failed) as f64 / elapsed_s)
        } else {
            0.0
        },
        bytes: total_of(|s| s.bytes),
        latency_ms: sum.percentiles().into(),
        status: add_maps(|s| &s.status),
        errors: add_maps(|s| &s.errors),
        http_versions: add_maps(|s| &s.http_versions),
        max_in_flight: total_of(|s| s.max_in_flight),
        planned,
        interrupted: shards.iter().any(|s| s.interrupted),
        shards: ShardsReport {
            count,
            present: present.into_iter().collect(),
            missing,
            repeated: repeated.into_iter().collect(),
        },
        seqs,
        complete,
        latency_histogram: LosslessHistogram::encode(sum.histogram()),
    })
}

/// The one field of a record the check needs.
#[derive(Deserialize)]
struct SeqOnly {
    /// `"job"` on the line that names the job (the first of an `-o` file).
    kind: Option<String>,
    seq: Option<u64>,
}

/// Reads every record's seq; the job's seqs are 1 to `planned` when known,
/// else 1 to the highest seen.
fn check_outputs(files: &[PathBuf], planned: Option<u64>) -> Result<SeqsReport, String> {
    let (mut seen, mut twice) = (SeqSet::new(), SeqSet::new());
    let (mut records, mut highest) = (0u64, 0u64);
    let mut line = Vec::new();
    for path in files {
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
        let mut line_no = 0u64;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("cannot read {shown}: {e}"))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let not_ours =
                |why: String| format!("{shown}: line {line_no} is not a fetchtop record ({why})");
            let r: SeqOnly = serde_json::from_slice(&line).map_err(|e| not_ours(e.to_string()))?;
            let seq = match (r.kind.as_deref(), r.seq) {
                (Some("job"), _) => continue,
                (_, Some(seq)) => seq,
                (_, None) => return Err(not_ours("it has no seq".into())),
            };
            records += 1;
            highest = highest.max(seq);
            if !seen.insert(seq) {
                twice.insert(seq);
            }
        }
    }
    let job_items = planned.unwrap_or(highest);
    let (mut missing, mut missing_first) = (0u64, Vec::new());
    for seq in 1..=job_items {
        if !seen.contains(seq) {
            missing += 1;
            if missing_first.len() < SEQS_LISTED {
                missing_first.push(seq);
            }
        }
    }
    Ok(SeqsReport {
        files: files.iter().map(|p| p.display().to_string()).collect(),
        records,
        job_items,
        missing,
        missing_first,
        repeated: twice.len(),
        repeated_first: twice.iter().take(SEQS_LISTED).collect(),
    })
}

fn listed(seqs: &[u64], all: u64) -> String {
    let shown: Vec<String> = seqs.iter().map(u64::to_string).collect();
    let more = if all > seqs.len() as u64 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}

/// A few aligned lines for people.
fn to_text(m: &Merged) -> String {
    let mut t = String::new();
    let sh = &m.shards;
    let _ = writeln!(
        t,
        "fetchtop merge: {} of {} shard{}, {}",
        sh.present.len(),
        sh.count,
        if sh.count == 1 { "" } else { "s" },
        if m.complete { "complete" } else { "INCOMPLETE" }
    );
    if !sh.missing.is_empty() {
        let ks: Vec<String> = sh
            .missing
            .iter()
            .map(|k| format!("{k}/{}", sh.count))
            .collect();
        let _ = writeln!(t, "  missing    shard {}", ks.join(", "));
    }
    if !sh.repeated.is_empty() {
        let ks: Vec<String> = sh
            .repeated
            .iter()
            .map(|k| format!("{k}/{}", sh.count))
            .collect();
        let _ = writeln!(
            t,
            "  repeated   shard {} (given more than once; counted each time)",
            ks.join(", ")
        );
    }
    let _ = writeln!(
        t,
        "  items      {} (done {}, failed {}, cancelled {}){}",
        format::count(m.total),
        format::count(m.done),
        format::count(m.failed),
        format::count(m.cancelled),
        m.planned
            .map(|p| format!(" of {} planned", format::count(p)))
            .unwrap_or_default()
    );
    let _ = writeln!(
        t,
        "  rate       {} req/s over {:.1}s (the longest shard), {} received",
        format::count(m.rps.round() as u64),
        m.elapsed_s,
        format::bytes(m.bytes)
    );
    t += &summary::latency_line(&m.latency_ms);
    t += &summary::counts_line("status", &m.status, "");
    t += &summary::counts_line("http", &m.http_versions, "HTTP/");
    t += &summary::counts_line("errors", &m.errors, "");
    if let Some(s) = &m.seqs {
        let missing = if s.missing == 0 {
            "none missing".to_string()
        } else {
            format!(
                "{} missing ({})",
                format::count(s.missing),
                listed(&s.missing_first, s.missing)
            )
        };
        let repeated = if s.repeated == 0 {
            "none repeated".to_string()
        } else {
            format!(
                "{} repeated ({})",
                format::count(s.repeated),
                listed(&s.repeated_first, s.repeated)
            )
        };
        let _ = writeln!(
            t,
            "  seqs       1..{} checked in {} file{}: {missing}, {repeated}",
            s.job_items,
            s.files.len(),
            if s.files.len() == 1 { "" } else { "s" }
        );
    }
    t
}
