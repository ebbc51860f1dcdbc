//! Warnings: small checks over a snapshot, each saying something only when
//! something is wrong. The panel appears only when one of them speaks.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::component::{Component, View};
use super::executor::LAG_BAD_MS;
use super::{Theme, panel};
use crate::engine::{ErrorKind, Model};
use crate::format;
use crate::snapshot::{HistoryPoint, Snapshot};

/// Items that must have ended before rates are judged.
const MIN_SAMPLE: u64 = 50;

type Check = fn(&Snapshot) -> Option<String>;

/// Every check, in the order their warnings are shown.
const CHECKS: &[Check] = &[
    instances_in_trouble,
    input_broke_off,
    limit_capped,
    executor_blocked,
    high_error_rate,
    many_timeouts,
    saturated,
    threads_at_cap,
];

/// `fetchtop attach`: instances that stopped answering, or refused a command.
fn instances_in_trouble(snap: &Snapshot) -> Option<String> {
    let lost: Vec<&str> = snap
        .instances
        .iter()
        .filter(|i| i.lost)
        .map(|i| i.name.as_str())
        .collect();
    let refused: Vec<String> = snap
        .instances
        .iter()
        .filter_map(|i| i.command_error.as_ref().map(|e| format!("{} {e}", i.name)))
        .collect();
    let mut parts = Vec::new();
    if !lost.is_empty() {
        parts.push(format!(
            "lost: {} (no answer, retrying; the numbers shown are the last it gave)",
            lost.join(", ")
        ));
    }
    parts.extend(refused);
    (!parts.is_empty()).then(|| format::inert(&parts.join("; ")).into_owned())
}

/// What is wrong with the run now, in words; empty when all is well.
pub fn warnings(snap: &Snapshot) -> Vec<String> {
    CHECKS.iter().filter_map(|check| check(snap)).collect()
}

fn input_broke_off(snap: &Snapshot) -> Option<String> {
    let e = snap.source_error.as_ref()?;
    Some(format!("the input stopped early: {}", format::inert(e)))
}

/// Tasks waiting in the runtime's global queue, per worker, beyond which a
/// late heartbeat is put down to too much work rather than one blocked task.
const QUEUED_PER_WORKER: usize = 64;

/// The heartbeat fires late: some task runs without reaching an `.await`,
/// and every task waiting for that worker waits with it. When many tasks
/// are queued instead, the workers are simply overloaded, and it says so.
fn executor_blocked(snap: &Snapshot) -> Option<String> {
    let x = &snap.executor;
    if x.beats == 0 || x.lag_p99_ms < LAG_BAD_MS {
        return None;
    }
    let late = format!(
        "heartbeat late by {} p99, {} max over 5s",
        format::ms(x.lag_p99_ms),
        format::ms(x.lag_max_ms)
    );
    let blocking_inline = x.demo.as_ref().is_some_and(|d| d.blocking && !d.offload);
    if !blocking_inline && x.global_queue > x.workers.max(1) * QUEUED_PER_WORKER {
        return Some(format!(
            "the executor is overloaded: {} tasks wait for a worker ({late})",
            format::count(x.global_queue as u64)
        ));
    }
    let hint = if blocking_inline {
        format!(
            "; {} moves the blocking work to spawn_blocking",
            crate::keymap::key_for(crate::keymap::Action::Offload)
        )
    } else {
        String::new()
    };
    Some(format!(
        "the executor is blocked: a task is not yielding ({late}){hint}"
    ))
}

/// The threads model has as many threads as its cap: more concurrency only waits.
fn threads_at_cap(snap: &Snapshot) -> Option<String> {
    let x = &snap.executor;
    if x.model != Model::Threads || x.thread_cap == 0 || x.item_threads < x.thread_cap {
        return None;
    }
    Some(format!(
        "the threads model is at its cap of {} OS threads: a higher limit only queues",
        format::count(x.thread_cap)
    ))
}

fn limit_capped(snap: &Snapshot) -> Option<String> {
    let asked = snap.requested_limit?;
    Some(crate::format::capped_message(asked, snap.ceiling))
}

fn high_error_rate(snap: &Snapshot) -> Option<String> {
    let finished = snap.counts.finished();
    let failed = snap.counts.failed;
    if finished < MIN_SAMPLE || failed * 10 <= finished {
        return None;
    }
    let top = snap.errors.iter().find(|e| e.0 != ErrorKind::Cancelled);
    Some(format!(
        "high error rate: {:.0}% of requests failed{}",
        failed as f64 * 100.0 / finished as f64,
        top.map(|e| format!(", mostly {}", e.0.as_str()))
            .unwrap_or_default()
    ))
}

fn many_timeouts(snap: &Snapshot) -> Option<String> {
    let finished = snap.counts.finished();
    let timeouts = snap
        .errors
        .iter()
        .find(|e| e.0 == ErrorKind::Timeout)
        .map_or(0, |e| e.1);
    if timeouts < 10 || timeouts * 50 <= finished {
        return None;
    }
    Some(format!(
        "many timeouts: {} ({:.1}%): the server is slow to answer, or the timeout (-t) is short",
        format::count(timeouts),
        timeouts as f64 * 100.0 / finished.max(1) as f64
    ))
}

fn mean_rate(points: &[HistoryPoint]) -> f64 {
    points.iter().map(|p| p.finished as f64).sum::<f64>() / points.len().max(1) as f64
}

/// The limit was raised, in-flight filled it, and throughput did not follow:
/// the server is saturated and extra concurrency only makes requests queue.
fn saturated(snap: &Snapshot) -> Option<String> {
    let h = &snap.history;
    let now = h.get(h.len().checked_sub(5)?..)?;
    let limit = now.last()?.limit;
    let full = |p: &HistoryPoint| p.limit > 0 && p.in_flight * 10 >= p.limit * 9;
    if limit < 8 || !now.iter().all(|p| p.limit == limit && full(p)) {
        return None;
    }
    // An earlier stretch of five seconds at half the limit or less, also full.
    let earlier = h[..h.len() - 5].windows(5).rev().find(|w| {
        w.iter()
            .all(|p| p.limit * 2 <= limit && p.limit == w[0].limit && full(p))
    })?;
    let (then, rate_then, rate_now) = (earlier[0].limit, mean_rate(earlier), mean_rate(now));
    if rate_then <= 0.0 || rate_now >= rate_then * 1.15 {
        return None;
    }
    Some(format!(
        "limit {} gives no more throughput than {} did ({} vs {}): the server is saturated, extra requests only wait",
        format::count(limit),
        format::count(then),
        format::rate(rate_now),
        format::rate(rate_then)
    ))
}

/// The warnings panel: what is wrong, most important first. On a short
/// screen (`strip`) one line without borders.
pub struct Warnings<'a> {
    /// The warnings, as [`warnings`] and the thresholds give them.
    pub list: &'a [String],
    /// One line, no borders.
    pub strip: bool,
}

impl Component for Warnings<'_> {
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        if self.strip {
            render_strip(frame, area, self.list, view.theme);
        } else {
            render(frame, area, self.list, view.theme);
        }
    }
}

/// Renders the warnings panel (only called when there are warnings).
fn render(frame: &mut Frame, area: Rect, warnings: &[String], theme: &Theme) {
    let sym = if theme.unicode { "⚠ " } else { "! " };
    let lines: Vec<Line> = warnings
        .iter()
        .map(|w| Line::from(vec![Span::styled(sym, theme.warn()), Span::raw(w.clone())]))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(panel(" warnings ", theme)),
        area,
    );
}

/// The warnings as one line without borders, for short screens: the
/// first in full, and how many more there are.
fn render_strip(frame: &mut Frame, area: Rect, warnings: &[String], theme: &Theme) {
    let sym = if theme.unicode { "⚠ " } else { "! " };
    let Some(first) = warnings.first() else {
        return;
    };
    let more = match warnings.len() - 1 {
        0 => String::new(),
        n => format!("  (+{n} more)"),
    };
    // The count of the others must stay in view: the first gives way.
    let room = (area.width as usize).saturating_sub(2 + more.chars().count());
    let first: String = if first.chars().count() > room {
        let cut: String = first.chars().take(room.saturating_sub(1)).collect();
        format!("{cut}{}", theme.ellipsis())
    } else {
        first.clone()
    };
    let line = Line::from(vec![
        Span::styled(sym, theme.warn()),
        Span::styled(first, theme.warn()),
        Span::styled(more, theme.dim()),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::StateCounts;

    fn points(spec: &[(u64, u64, u64)]) -> Vec<HistoryPoint> {
        let mut t = 0;
        spec.iter()
            .flat_map(|&(secs, limit, rate)| (0..secs).map(move |_| (limit, rate)))
            .map(|(limit, rate)| {
                t += 1;
                HistoryPoint {
                    t_s: t,
                    finished: rate,
                    in_flight: limit,
                    limit,
                }
            })
            .collect()
    }

    #[test]
    fn a_healthy_run_has_no_warnings() {
        let snap = Snapshot {
            counts: StateCounts {
                done: 1000,
                failed: 20,
                ..StateCounts::default()
            },
            errors: vec![(ErrorKind::Http5xx, 20)],
            history: points(&[(10, 50, 2000), (10, 100, 3900)]),
            ..Snapshot::default()
        };
        assert!(warnings(&snap).is_empty(), "{:?}", warnings(&snap));
    }

    #[test]
    fn errors_timeouts_and_saturation_are_named() {
        let snap = Snapshot {
            counts: StateCounts {
                done: 700,
                failed: 300,
                ..StateCounts::default()
            },
            errors: vec![(ErrorKind::Timeout, 200), (ErrorKind::Http5xx, 100)],
            history: points(&[(10, 50, 2000), (10, 200, 2050)]),
            source_error: Some("read failed\u{1b}[2J".into()),
            ..Snapshot::default()
        };
        let w = warnings(&snap);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].contains("stopped early") && !w[0].contains('\u{1b}'));
        assert!(w[1].contains("30%") && w[1].contains("timeout"));
        assert!(w[2].contains("many timeouts: 200"));
        assert!(
            w[3].contains("limit 200") && w[3].contains("50"),
            "{}",
            w[3]
        );
    }

    #[test]
    fn a_blocked_executor_and_a_full_thread_cap_are_named() {
        use crate::snapshot::{DemoSwitches, ExecutorView};
        let mut snap = Snapshot {
            executor: ExecutorView {
                beats: 100,
                lag_p99_ms: 2.0,
                lag_max_ms: 4.0,
                ..ExecutorView::default()
            },
            ..Snapshot::default()
        };
        assert!(warnings(&snap).is_empty());
        snap.executor.lag_p99_ms = 120.0;
        snap.executor.demo = Some(DemoSwitches {
            blocking: true,
            ..DemoSwitches::default()
        });
        let w = warnings(&snap);
        assert!(
            w[0].starts_with("the executor is blocked: a task is not yielding")
                && w[0].contains("y moves"),
            "{w:?}"
        );
        snap.executor.demo = None;
        snap.executor.workers = 2;
        snap.executor.global_queue = 1000;
        assert!(warnings(&snap)[0].starts_with("the executor is overloaded: 1,000 tasks wait"));
        snap.executor.model = Model::Threads;
        snap.executor.thread_cap = 200;
        snap.executor.item_threads = 200;
        assert!(warnings(&snap)[1].contains("cap of 200"));
    }
}
