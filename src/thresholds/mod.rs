//! Thresholds (`--fail-if`, `--abort-if`): a condition on the whole run's
//! numbers that, when it holds, fails the run (exit status 3) or stops it.
//!
//! `parse.rs` reads an expression; this module measures it against a
//! [`Snapshot`], judges it, and watches a run for `--abort-if`.

mod parse;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

pub use parse::parse;

use crate::engine::{Command, ErrorKind};
use crate::format;
use crate::snapshot::Snapshot;

/// Exit status of a run that broke a threshold.
pub const EXIT_THRESHOLD: u8 = 3;

/// Default `--abort-after`: the first seconds of a run are noise for a
/// threshold (a handful of samples, cold connections and caches), and one
/// early error would otherwise be a 100% error rate that stops the run.
pub const DEFAULT_ABORT_AFTER: &str = "10s";

/// A latency percentile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// Largest.
    Max,
    /// Arithmetic mean.
    Mean,
}

/// What a threshold measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// A latency, in ms.
    Latency(Latency),
    /// Failed items over completed ones, a fraction.
    ErrorRate,
    /// Completed items per second over the run.
    Rps,
    /// Items that failed.
    Failed,
    /// Items that succeeded.
    Done,
    /// Items cancelled.
    Cancelled,
    /// Items completed (done or failed).
    Requests,
    /// Items that ended with this kind of error.
    Kind(ErrorKind),
    /// Responses with this status.
    Status(u16),
    /// Responses whose status is in this class (5 for 5xx).
    StatusClass(u16),
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One parsed threshold: it is breached when `metric op value` holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The expression as the user wrote it.
    pub text: String,
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// Against what, in the metric's unit (ms, a fraction, per second, a count).
    pub value: f64,
}

impl Threshold {
    /// The metric's value in `snap`, in the metric's unit.
    pub fn measure(&self, snap: &Snapshot) -> f64 {
        let c = &snap.counts;
        let completed = c.done + c.failed;
        match self.metric {
            Metric::Latency(l) => {
                let p = &snap.latency;
                match l {
                    Latency::P50 => p.p50,
                    Latency::P90 => p.p90,
                    Latency::P99 => p.p99,
                    Latency::P999 => p.p999,
                    Latency::Max => p.max,
                    Latency::Mean => p.mean,
                }
            }
            Metric::ErrorRate if completed == 0 => 0.0,
            Metric::ErrorRate => c.failed as f64 / completed as f64,
            Metric::Rps => {
                let secs = snap.elapsed.as_secs_f64();
                if secs > 0.0 {
                    completed as f64 / secs
                } else {
                    0.0
                }
            }
            Metric::Failed => c.failed as f64,
            Metric::Done => c.done as f64,
            Metric::Cancelled => c.cancelled as f64,
            Metric::Requests => completed as f64,
            Metric::Kind(k) => snap
                .errors
                .iter()
                .filter(|(kind, _)| *kind == k)
                .map(|(_, n)| *n as f64)
                .sum(),
            Metric::Status(code) => snap
                .status
                .iter()
                .filter(|(s, _)| *s == code)
                .map(|(_, n)| *n as f64)
                .sum(),
            Metric::StatusClass(class) => snap
                .status
                .iter()
                .filter(|(s, _)| s / 100 == class)
                .map(|(_, n)| *n as f64)
                .sum(),
        }
    }

    /// Whether the condition holds in `snap`.
    pub fn breached(&self, snap: &Snapshot) -> bool {
        self.op.holds(self.measure(snap), self.value)
    }

    /// A measured value in the metric's own words: `412ms`, `0.30%`, `950.0/s`, `3`.
    pub fn show(&self, v: f64) -> String {
        match self.metric {
            Metric::Latency(_) => format::ms(v),
            Metric::ErrorRate => format!("{:.2}%", v * 100.0),
            Metric::Rps => format!("{v:.1}/s"),
            _ => format::count(v as u64),
        }
    }

    /// The unit of [`Threshold::measure`], for the JSON summary.
    pub fn unit(&self) -> &'static str {
        match self.metric {
            Metric::Latency(_) => "ms",
            Metric::ErrorRate => "fraction",
            Metric::Rps => "per_s",
            _ => "count",
        }
    }
}

/// The thresholds a run was given.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// `--fail-if`: judged at the end.
    pub fail_if: Vec<Threshold>,
    /// `--abort-if`: watched during the run, after `abort_after`.
    pub abort_if: Vec<Threshold>,
    /// `--abort-after`: the warm-up before `--abort-if` is watched.
    pub abort_after: Duration,
}

impl Rules {
    /// No thresholds at all.
    pub fn is_empty(&self) -> bool {
        self.fail_if.is_empty() && self.abort_if.is_empty()
    }

    /// The breached thresholds in `snap`, in words, for the dashboard;
    /// `--abort-if` ones only once the warm-up is over.
    pub fn breached_now(&self, snap: &Snapshot) -> Vec<String> {
        let warm = snap.elapsed >= self.abort_after;
        self.fail_if
            .iter()
            .chain(self.abort_if.iter().filter(|_| warm))
            .filter(|t| t.breached(snap))
            .map(|t| format!("{} (now {})", t.text, t.show(t.measure(snap))))
            .collect()
    }

    /// Judges every threshold against the final snapshot.
    pub fn judge(&self, snap: &Snapshot, aborted: Option<Abort>) -> Report {
        let verdict = |t: &Threshold, kind: &'static str| {
            let v = t.measure(snap);
            Verdict {
                expression: t.text.clone(),
                kind,
                measured: (v * 1e6).round() / 1e6,
                shown: t.show(v),
                unit: t.unit(),
                passed: !t.breached(snap),
            }
        };
        let mut checks: Vec<Verdict> = self.fail_if.iter().map(|t| verdict(t, "fail-if")).collect();
        checks.extend(self.abort_if.iter().map(|t| {
            let mut v = verdict(t, "abort-if");
            // The one that stopped the run failed, whatever the end says.
            if aborted.as_ref().is_some_and(|a| a.expression == t.text) {
                v.passed = false;
            }
            v
        }));
        Report {
            passed: checks.iter().all(|c| c.passed) && aborted.is_none(),
            checks,
            aborted,
        }
    }
}

/// One threshold judged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The expression as written.
    pub expression: String,
    /// `fail-if` or `abort-if`.
    pub kind: &'static str,
    /// The value measured at the end of the run, in `unit`.
    pub measured: f64,
    /// The same, for people.
    #[serde(skip)]
    pub shown: String,
    /// `ms`, `fraction`, `per_s` or `count`.
    pub unit: &'static str,
    /// The condition did not hold.
    pub passed: bool,
}

/// An `--abort-if` that stopped the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Abort {
    /// The expression that was breached.
    pub expression: String,
    /// When, in seconds since the start.
    pub at_s: f64,
    /// What it measured then, in words.
    pub measured: String,
}

/// The thresholds block of the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Every threshold passed and none stopped the run.
    pub passed: bool,
    /// Each threshold, in the order given.
    pub checks: Vec<Verdict>,
    /// The `--abort-if` that stopped the run, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborted: Option<Abort>,
}

impl Report {
    /// Lines for the text summary.
    pub fn to_text(&self) -> String {
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        let mut t = format!(
            "  thresholds {}\n",
            if failed == 0 {
                format!("all {} passed", self.checks.len())
            } else {
                format!("{failed} of {} FAILED (exit status 3)", self.checks.len())
            }
        );
        for c in &self.checks {
            t += &format!(
                "             {} {:<24} measured {}{}\n",
                if c.passed { "ok  " } else { "FAIL" },
                format::inert(&c.expression),
                c.shown,
                if c.kind == "abort-if" {
                    " (--abort-if)"
                } else {
                    ""
                }
            );
        }
        if let Some(a) = &self.aborted {
            t += &format!(
                "             stopped at {:.1}s: {} was breached ({})\n",
                a.at_s,
                format::inert(&a.expression),
                a.measured
            );
        }
        t
    }
}

/// Watches the run for an `--abort-if` breach after the warm-up; on the
/// first, stops admitting (in-flight requests finish) and says which.
/// Ends with `None` when the run ends first.
pub async fn watch_aborts(
    rules: Rules,
    mut snapshots: watch::Receiver<Snapshot>,
    commands: mpsc::Sender<Command>,
) -> Option<Abort> {
    if rules.abort_if.is_empty() {
        return None;
    }
    while snapshots.changed().await.is_ok() {
        let found = {
            let snap = snapshots.borrow_and_update();
            if snap.state == crate::snapshot::RunState::Finished {
                return None;
            }
            if snap.elapsed < rules.abort_after {
                continue;
            }
            rules
                .abort_if
                .iter()
                .find(|t| t.breached(&snap))
                .map(|t| Abort {
                    expression: t.text.clone(),
                    at_s: (snap.elapsed.as_secs_f64() * 10.0).round() / 10.0,
                    measured: t.show(t.measure(&snap)),
                })
        };
        if let Some(abort) = found {
            tracing::warn!(threshold = %abort.expression, measured = %abort.measured, "--abort-if breached: stopping");
            let _ = commands.send(Command::Stop).await;
            return Some(abort);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Percentiles, StateCounts};

    fn snap() -> Snapshot {
        Snapshot {
            elapsed: Duration::from_secs(10),
            counts: StateCounts {
                done: 990,
                failed: 10,
                ..StateCounts::default()
            },
            latency: Percentiles {
                p50: 20.0,
                p99: 412.0,
                max: 900.0,
                ..Percentiles::default()
            },
            status: vec![(200, 990), (429, 4), (503, 6)],
            errors: vec![(ErrorKind::Http5xx, 6), (ErrorKind::Http429, 4)],
            ..Snapshot::default()
        }
    }

    fn t(s: &str) -> Threshold {
        parse(s).unwrap()
    }

    #[test]
    fn thresholds_measure_the_whole_run() {
        let s = snap();
        assert!(t("p99>300ms").breached(&s));
        assert!(!t("p99>0.5s").breached(&s));
        assert!(!t("p50>50ms").breached(&s));
        assert!(!t("error_rate>1%").breached(&s), "exactly 1% is not over");
        assert!(t("error_rate>=1%").breached(&s));
        assert!(t("rps<1000").breached(&s), "100/s");
        assert!(!t("rps<100").breached(&s));
        assert!(!t("timeouts>0").breached(&s));
        assert_eq!(t("status_5xx>0").measure(&s), 6.0);
        assert_eq!(t("status_429>0").measure(&s), 4.0);
        assert_eq!(t("http_429>0").measure(&s), 4.0);
        assert_eq!(t("requests>0").measure(&s), 1000.0);
    }

    #[test]
    fn the_report_says_what_failed() {
        let rules = Rules {
            fail_if: vec![t("p99>300ms"), t("error_rate>5%")],
            abort_if: vec![t("timeouts>0")],
            abort_after: Duration::from_secs(10),
        };
        let r = rules.judge(&snap(), None);
        assert!(!r.passed);
        assert_eq!(
            r.checks.iter().map(|c| c.passed).collect::<Vec<_>>(),
            [false, true, true]
        );
        assert_eq!(r.checks[0].measured, 412.0);
        let text = r.to_text();
        assert!(text.contains("1 of 3 FAILED"), "{text}");
        assert!(text.contains("FAIL p99>300ms"), "{text}");
        let passing = Rules {
            fail_if: vec![t("p99>1s")],
            ..Rules::default()
        };
        assert!(passing.judge(&snap(), None).passed);
        let aborted = Abort {
            expression: "timeouts>0".into(),
            at_s: 12.0,
            measured: "1".into(),
        };
        let r = rules.judge(&snap(), Some(aborted));
        assert!(!r.checks[2].passed, "the breach that stopped the run fails");
        assert!(r.to_text().contains("stopped at 12.0s"));
    }

    #[test]
    fn abort_thresholds_show_only_after_the_warm_up() {
        let rules = Rules {
            abort_if: vec![t("p99>300ms")],
            abort_after: Duration::from_secs(30),
            ..Rules::default()
        };
        assert!(rules.breached_now(&snap()).is_empty());
        let mut later = snap();
        later.elapsed = Duration::from_secs(31);
        assert_eq!(rules.breached_now(&later), ["p99>300ms (now 412ms)"]);
    }
}
