//! The headless progress line, printed about once a second on stderr.

use crate::format;
use crate::snapshot::Snapshot;

/// One line describing where the run is; no colour or cursor codes.
pub fn line(s: &Snapshot) -> String {
    // Items an earlier run recorded (--resume) count towards progress.
    let finished = s.settled();
    let mut out = format!("[{}] ", format::clock(s.elapsed));
    match (s.total, s.duration) {
        (Some(total), _) if total > 0 => {
            let pct = finished as f64 * 100.0 / total as f64;
            out += &format!(
                "{}/{} ({pct:.1}%)",
                format::count(finished),
                format::count(total)
            );
        }
        (_, Some(d)) => {
            out += &format!(
                "{} done, {} of {}",
                format::count(finished),
                format::span(s.elapsed.min(d)),
                format::span(d)
            )
        }
        _ => out += &format!("{} done", format::count(finished)),
    }
    out += &format!(
        " · {} · in flight {}/{}",
        format::rate(s.rate_recent),
        format::count(s.in_flight),
        format::count(s.effective_limit())
    );
    if s.latency.count > 0 {
        out += &format!(
            " · p50 {} p99 {}",
            format::ms(s.latency_recent_or_all().p50),
            format::ms(s.latency_recent_or_all().p99)
        );
    }
    out += &format!(" · errors {}", format::count(s.counts.failed));
    if s.counts.cancelled > 0 {
        out += &format!(" · cancelled {}", format::count(s.counts.cancelled));
    }
    if s.skipped > 0 {
        out += &format!(" · skipped {}", format::count(s.skipped));
    }
    if s.paused {
        out += " · paused";
    }
    if let Some(eta) = s.eta() {
        out += &format!(" · ETA {}", format::span(eta));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::snapshot::{Percentiles, StateCounts};

    #[test]
    fn shows_progress_rate_latency_and_eta() {
        let s = Snapshot {
            elapsed: Duration::from_secs(65),
            total: Some(1000),
            counts: StateCounts {
                done: 240,
                failed: 10,
                ..StateCounts::default()
            },
            rate_recent: 50.0,
            in_flight: 12,
            limit: 50,
            latency: Percentiles {
                p50: 12.0,
                p99: 99.0,
                count: 250,
                ..Percentiles::default()
            },
            ..Snapshot::default()
        };
        let l = line(&s);
        assert!(l.starts_with("[01:05] 250/1,000 (25.0%)"), "{l}");
        assert!(l.contains("50.0/s"), "{l}");
        assert!(l.contains("in flight 12/50"), "{l}");
        assert!(l.contains("p50 12.0ms p99 99.0ms"), "{l}");
        assert!(l.contains("errors 10"), "{l}");
        assert!(l.contains("ETA 15s"), "{l}");
        assert!(!l.chars().any(|c| c.is_control()), "{l:?}");
    }

    #[test]
    fn a_resumed_run_counts_skipped_items_as_settled() {
        let s = Snapshot {
            elapsed: Duration::from_secs(10),
            total: Some(1000),
            skipped: 700,
            counts: StateCounts {
                done: 100,
                ..StateCounts::default()
            },
            rate_recent: 20.0,
            ..Snapshot::default()
        };
        let l = line(&s);
        assert!(l.contains("800/1,000 (80.0%)"), "{l}");
        assert!(l.contains("skipped 700"), "{l}");
        // 200 left at 20/s: the skipped items are not work left to do.
        assert!(l.contains("ETA 10s"), "{l}");
    }

    #[test]
    fn duration_and_unknown_totals() {
        let mut s = Snapshot {
            elapsed: Duration::from_secs(12),
            duration: Some(Duration::from_secs(30)),
            counts: StateCounts {
                done: 5000,
                ..StateCounts::default()
            },
            paused: true,
            limit: 50,
            ..Snapshot::default()
        };
        let l = line(&s);
        assert!(l.contains("5,000 done, 12s of 30s"), "{l}");
        assert!(l.contains("in flight 0/0") && l.contains("paused"), "{l}");
        assert!(!l.contains("ETA"), "{l}");
        s.duration = None;
        assert!(line(&s).contains("] 5,000 done ·"), "{}", line(&s));
    }
}
