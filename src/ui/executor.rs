//! Executor health: the heartbeat's lag (now, p99 and max over the last
//! 5 s, and a sparkline), the runtime's workers and tasks, the process's OS
//! threads and memory, the execution model and, in demos, the blocking switches.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::component::{self, Component, View};
use super::{Theme, pair, panel};
use crate::engine::Model;
use crate::format;
use crate::keymap;
use crate::snapshot::{ExecutorView, Snapshot};

/// Lag at or above this is drawn as bad (and warned about).
pub const LAG_BAD_MS: f64 = 50.0;
/// Lag at or above this is drawn as a warning.
const LAG_WARN_MS: f64 = 10.0;
/// The sparkline's scale never goes below this, so a healthy runtime's
/// sub-millisecond jitter draws as a flat line.
const SPARK_FLOOR_US: u64 = 20_000;

/// The executor panel; `roomy` gives the demo switches a line of their own.
pub struct Executor {
    /// Three lines rather than two.
    pub roomy: bool,
}

/// The panel as a taker of keys (its size does not change them).
pub const KEYS: Executor = Executor { roomy: false };

impl Component for Executor {
    fn bindings(&self) -> &'static [keymap::Binding] {
        keymap::EXECUTOR
    }

    fn available(&self, _action: keymap::Action, snap: &Snapshot, app: &crate::app::App) -> bool {
        snap.executor.demo.is_some() && component::steerable(snap, app)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        // A replay cannot switch a demo's work: its title offers no keys.
        let keys = view.app.replay.is_none();
        render(frame, area, view.snap, self.roomy, keys, view.theme);
    }
}

/// Rows the panel needs: borders and two or three lines.
pub fn height(roomy: bool) -> u16 {
    if roomy { 5 } else { 4 }
}

fn lag_style(ms: f64, theme: &Theme) -> Style {
    if ms >= LAG_BAD_MS {
        theme.bad()
    } else if ms >= LAG_WARN_MS {
        theme.warn()
    } else {
        theme.value()
    }
}

/// The last `width` points as a one-line bar chart, scaled to the largest
/// (at least [`SPARK_FLOOR_US`]), always `width` cells: before the first
/// points (a young run, a wide screen) the line is flat, as a lag of 0 draws.
pub fn sparkline(points: &[u64], width: usize, unicode: bool) -> String {
    let levels: &[char] = if unicode {
        &['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']
    } else {
        &['_', '.', ':', '-', '=', '+', '*', '#']
    };
    let shown = &points[points.len().saturating_sub(width)..];
    let top = shown.iter().copied().max().unwrap_or(0).max(SPARK_FLOOR_US);
    std::iter::repeat_n(&0, width - shown.len())
        .chain(shown)
        .map(|&v| {
            let i = (v as f64 / top as f64 * (levels.len() - 1) as f64).round() as usize;
            levels[i.min(levels.len() - 1)]
        })
        .collect()
}

/// Below this inner width the panel uses its short texts.
const WIDE: usize = 120;

fn model_text(x: &ExecutorView, wide: bool) -> String {
    if !wide {
        return match x.model {
            Model::Threads => format!(
                "threads {}/{}",
                format::count(x.item_threads),
                format::count(x.thread_cap)
            ),
            Model::Sequential => "sequential (1 at a time)".into(),
            Model::Async => "async".into(),
        };
    }
    match x.model {
        Model::Async => "async: a tokio task per item".into(),
        Model::Threads => format!(
            "threads: {} of at most {} OS threads",
            format::count(x.item_threads),
            format::count(x.thread_cap)
        ),
        Model::Sequential => "sequential: one item at a time".into(),
    }
}

fn workers_text(x: &ExecutorView, wide: bool) -> String {
    let shards = x.shards.len().max(x.workers).max(1);
    let running = x.active_shards.clamp(1, shards);
    match (shards, wide) {
        (1, true) => "1 shard: one event loop runs every task".into(),
        (1, false) => "1 shard".into(),
        (n, true) if running < n => {
            format!("{n} shards (event loops, one per thread), {running} running")
        }
        (n, true) => format!("{n} shards (event loops, one per thread)"),
        (n, false) if running < n => format!("{n} shards, {running} running"),
        (n, false) => format!("{n} shards"),
    }
}

/// Each shard's requests in flight, coloured by its own heartbeat lag, so a
/// stuck event loop stands out beside the others; shards not running yet
/// are dimmed.
fn shards_segment(x: &ExecutorView, theme: &Theme) -> Option<Vec<Span<'static>>> {
    if x.shards.len() < 2 {
        return None;
    }
    let mut seg = vec![Span::styled("per shard ", theme.label())];
    for (i, s) in x.shards.iter().enumerate() {
        if i > 0 {
            seg.push(Span::styled("|", theme.dim()));
        }
        let style = if s.id >= x.active_shards.max(1) && s.in_flight == 0 {
            theme.dim()
        } else {
            lag_style(s.lag_max_ms, theme)
        };
        seg.push(Span::styled(format::count(s.in_flight), style));
    }
    seg.push(Span::styled(" in flight", theme.dim()));
    Some(seg)
}

/// `fetchtop attach`: each instance's in flight against its limit, coloured
/// by its lag; a lost one says so (its numbers are its last ones).
fn instances_segment(snap: &Snapshot, theme: &Theme) -> Option<Vec<Span<'static>>> {
    if snap.instances.is_empty() {
        return None;
    }
    let mut seg = vec![Span::styled("per instance ", theme.label())];
    for (i, inst) in snap.instances.iter().enumerate() {
        if i > 0 {
            seg.push(Span::styled(" · ", theme.dim()));
        }
        let name = inst
            .job_shard
            .as_ref()
            .map_or_else(|| inst.name.clone(), |k| format!("{} [{k}]", inst.name));
        seg.push(Span::styled(
            format!("{} ", format::inert(&name)),
            theme.dim(),
        ));
        if inst.lost {
            seg.push(Span::styled("LOST (retrying)", theme.bad()));
        } else if inst.finished {
            seg.push(Span::styled("finished", theme.dim()));
        } else {
            seg.push(Span::styled(
                format!(
                    "{}/{}",
                    format::count(inst.in_flight),
                    format::count(inst.limit)
                ),
                lag_style(inst.lag_ms, theme),
            ));
        }
    }
    Some(seg)
}

/// Renders the panel; `roomy` gives the demo switches a line of their own.
fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, roomy: bool, keys: bool, theme: &Theme) {
    let x = &snap.executor;
    let inner = area.width.saturating_sub(2) as usize;
    let wide = inner >= WIDE;
    let title = if snap.instances.is_empty() {
        format!(
            " executor · {} · {} ",
            model_text(x, wide),
            workers_text(x, wide)
        )
    } else {
        let n = snap.instances.len();
        let lost = snap.instances.iter().filter(|i| i.lost).count();
        format!(
            " executor · {n} instance{}{} ",
            if n == 1 { "" } else { "s" },
            if lost > 0 {
                format!(", {lost} lost")
            } else {
                String::new()
            }
        )
    };
    let mut block = panel(title, theme);
    if x.demo.is_some() && keys {
        let keys = format!(" {} ", component::hint(keymap::EXECUTOR, !wide));
        block = block.title_top(Line::from(Span::styled(keys, theme.key())).right_aligned());
    }

    let mut lag = vec![Span::styled("heartbeat lag ", theme.label())];
    for (label, v) in [
        ("now ", x.lag_now_ms),
        (" p99 ", x.lag_p99_ms),
        (" max ", x.lag_max_ms),
    ] {
        lag.push(Span::styled(label, theme.label()));
        lag.push(Span::styled(format::ms(v), lag_style(v, theme)));
    }
    lag.push(Span::styled(" (5s)  ", theme.dim()));
    let used: usize = lag.iter().map(|s| s.width()).sum();
    let spark_width = inner.saturating_sub(used);
    if spark_width >= 8 {
        lag.push(Span::styled(
            sparkline(&x.lag_history_us, spark_width, theme.unicode),
            lag_style(x.lag_max_ms, theme),
        ));
    }

    // Segments in order of importance; a narrow panel keeps those that fit.
    let mut segments: Vec<Vec<Span>> = Vec::new();
    match instances_segment(snap, theme) {
        Some(seg) => segments.push(seg),
        None => segments.extend(shards_segment(x, theme)),
    }
    if let Some(n) = x.os_threads {
        let mut seg = pair("OS threads ", format::count(n), theme);
        if let Some(peak) = x.os_threads_peak {
            seg.push(Span::styled(
                format!(" (peak {})", format::count(peak)),
                theme.dim(),
            ));
        }
        segments.push(seg);
    }
    if let Some(rss) = x.rss_bytes {
        segments.push(pair("RSS ", format::bytes(rss), theme));
    }
    if let (Some(d), false) = (&x.demo, roomy) {
        // No line of its own: the switch state joins this one.
        let state = match (d.blocking, d.offload) {
            (false, _) => "off",
            (true, _) if x.model == Model::Threads => "in threads",
            (true, false) => "inline",
            (true, true) => "spawn_blocking",
        };
        segments.push(pair("blocking ", state.into(), theme));
    }
    segments.push(pair("tasks ", format::count(x.alive_tasks as u64), theme));
    if let Some(busy) = x.busy {
        segments.push(pair("busy ", format!("{:.0}%", busy * 100.0), theme));
    }
    segments.push(pair("queue ", format::count(x.global_queue as u64), theme));
    if let Some(parks) = x.parks_per_s {
        segments.push(pair(
            "parks ",
            format!("{}/s", format::count(parks.round() as u64)),
            theme,
        ));
    }
    let mut os: Vec<Span> = Vec::new();
    let mut used = 0;
    for seg in segments {
        let sep = if os.is_empty() { 0 } else { 3 };
        let w: usize = seg.iter().map(|s| s.width()).sum();
        if used + sep + w > inner {
            break;
        }
        if sep > 0 {
            os.push(Span::styled(" · ", theme.dim()));
        }
        os.extend(seg);
        used += sep + w;
    }

    let mut lines = vec![Line::from(lag), Line::from(os)];
    if let (Some(d), true) = (&x.demo, roomy) {
        let state = match (d.blocking, d.offload) {
            (false, _) => Span::styled("off", theme.dim()),
            (true, _) if x.model == Model::Threads => Span::styled(
                "on, in each item's own OS thread (preempted: blocks nobody else)",
                theme.good(),
            ),
            (true, false) => Span::styled("on, inside the task (blocks its worker)", theme.bad()),
            (true, true) => Span::styled("on, through spawn_blocking", theme.good()),
        };
        lines.push(Line::from(vec![
            Span::styled("blocking work ", theme.label()),
            state,
            Span::styled(
                format!(" · {} · done {}", d.work, format::count(d.blocked_items)),
                theme.dim(),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_named_and_counted() {
        let one = ExecutorView {
            workers: 1,
            active_shards: 1,
            ..ExecutorView::default()
        };
        assert_eq!(
            workers_text(&one, true),
            "1 shard: one event loop runs every task"
        );
        assert!(shards_segment(&one, &Theme::default()).is_none());
        let shard = |id, in_flight| crate::snapshot::ShardView {
            id,
            in_flight,
            ..Default::default()
        };
        let two = ExecutorView {
            workers: 2,
            active_shards: 1,
            shards: vec![shard(0, 25), shard(1, 0)],
            ..ExecutorView::default()
        };
        assert_eq!(workers_text(&two, false), "2 shards, 1 running");
        let text: String = shards_segment(&two, &Theme::default())
            .unwrap()
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(text, "per shard 25|0 in flight");
    }

    #[test]
    fn the_sparkline_is_flat_when_healthy_and_tall_when_stalled() {
        let calm = sparkline(&[300, 500, 800, 400], 10, true);
        assert_eq!(calm, "▁▁▁▁▁▁▁▁▁▁");
        let stall = sparkline(&[500, 200_000, 500], 10, true);
        assert_eq!(stall, "▁▁▁▁▁▁▁▁█▁");
        let ascii = sparkline(&[0, 200_000], 10, false);
        assert!(ascii.is_ascii() && ascii.ends_with('#'));
        assert_eq!(sparkline(&[1; 50], 8, true).chars().count(), 8);
        // Fewer points than cells: flat at the start, the points at the end.
        assert_eq!(sparkline(&[200_000, 200_000], 6, true), "▁▁▁▁██");
        assert_eq!(sparkline(&[], 4, false), "____");
    }
}
