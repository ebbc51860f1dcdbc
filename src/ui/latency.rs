//! Latency: percentiles for the whole run and the last few seconds, beside a
//! histogram with log-spaced buckets (dropped when the panel is narrow).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::component::{self, Component, View};
use super::{Theme, panel};
use crate::format;
use crate::keymap;
use crate::snapshot::{HistogramBar, Percentiles, Snapshot};

/// Width of the percentile table.
const TABLE: u16 = 27;
/// The histogram needs at least this much beside the table.
const HISTOGRAM_MIN: u16 = 24;

/// Picks one percentile out of a set.
type Pick = fn(&Percentiles) -> f64;

fn value(p: &Percentiles, pick: Pick) -> String {
    if p.count == 0 {
        "-".into()
    } else {
        format::ms(pick(p))
    }
}

fn table<'a>(snap: &Snapshot, theme: &Theme) -> Vec<Line<'a>> {
    let rows: [(&str, Pick); 5] = [
        ("p50", |p| p.p50),
        ("p90", |p| p.p90),
        ("p99", |p| p.p99),
        ("p99.9", |p| p.p999),
        ("max", |p| p.max),
    ];
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<6}", ""), theme.label()),
        Span::styled(format!("{:>9}", "run"), theme.label()),
        Span::styled(format!("{:>10}", "last 5s"), theme.label()),
    ])];
    for (name, pick) in rows {
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<6}"), theme.label()),
            Span::styled(format!("{:>9}", value(&snap.latency, pick)), theme.value()),
            Span::styled(
                format!("{:>10}", value(&snap.latency_recent, pick)),
                theme.value(),
            ),
        ]));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("{:<6}", "n"), theme.label()),
        Span::styled(
            format!("{:>9}", format::count(snap.latency.count)),
            theme.dim(),
        ),
        Span::styled(
            format!("{:>10}", format::count(snap.latency_recent.count)),
            theme.dim(),
        ),
    ]));
    lines
}

/// Merges the snapshot's bars into at most `rows` rows.
pub(super) fn group(bars: &[HistogramBar], rows: usize) -> Vec<HistogramBar> {
    if rows == 0 || bars.is_empty() {
        return Vec::new();
    }
    let per = bars.len().div_ceil(rows);
    bars.chunks(per)
        .map(|c| HistogramBar {
            le_ms: c.last().map_or(0.0, |b| b.le_ms),
            count: c.iter().map(|b| b.count).sum(),
        })
        .collect()
}

fn histogram<'a>(
    source: &[HistogramBar],
    width: usize,
    rows: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let bars = group(source, rows);
    if bars.is_empty() {
        return vec![Line::styled("no responses yet", theme.dim())];
    }
    let max = bars.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    let label_w = 8;
    let count_w = 8;
    let bar_w = width.saturating_sub(label_w + count_w + 2);
    let (full, _) = theme.bar_cells();
    let le = if theme.unicode { '≤' } else { '<' };
    bars.iter()
        .map(|b| {
            let n = ((b.count as f64 / max as f64) * bar_w as f64).ceil() as usize;
            let n = if b.count > 0 { n.max(1) } else { 0 };
            Line::from(vec![
                Span::styled(format!("{le}{:>7}", format::ms(b.le_ms)), theme.label()),
                Span::raw(" "),
                Span::styled(full.repeat(n.min(bar_w)), theme.bar()),
                Span::raw(" ".repeat(bar_w - n.min(bar_w) + 1)),
                Span::styled(format!("{:>count_w$}", format::count(b.count)), theme.dim()),
            ])
        })
        .collect()
}

/// Renders the latency panel; `recent` picks the last seconds' histogram.
/// Says whether the histogram had room to be drawn.
/// The latency panel: percentiles, and the histogram when there is room.
pub struct Latency;

impl Component for Latency {
    fn bindings(&self) -> &'static [keymap::Binding] {
        keymap::LATENCY
    }

    fn available(&self, _action: keymap::Action, _snap: &Snapshot, app: &crate::app::App) -> bool {
        app.histogram_shown
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        render(frame, area, view.snap, view.app.recent_latency, view.theme);
    }
}

/// Whether a latency panel of this width has room for the histogram.
pub fn fits_histogram(area: Rect) -> bool {
    area.width.saturating_sub(2) >= TABLE + HISTOGRAM_MIN
}

fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, recent: bool, theme: &Theme) {
    let with_histogram = fits_histogram(area);
    let key = component::hint(keymap::LATENCY, true);
    let title = match (with_histogram, recent) {
        (false, _) => " latency ".to_string(),
        (true, true) => format!(" latency · histogram: last 5s ({key}) "),
        (true, false) => format!(" latency · histogram: whole run ({key}) "),
    };
    let block = panel(title, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if with_histogram {
        let [left, right] =
            Layout::horizontal([Constraint::Length(TABLE), Constraint::Min(HISTOGRAM_MIN)])
                .areas(inner);
        frame.render_widget(Paragraph::new(table(snap, theme)), left);
        let source = if recent {
            &snap.histogram_recent
        } else {
            &snap.histogram
        };
        let lines = histogram(source, right.width as usize, right.height as usize, theme);
        frame.render_widget(Paragraph::new(lines), right);
    } else {
        frame.render_widget(Paragraph::new(table(snap, theme)), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_keeps_every_count() {
        let bars: Vec<HistogramBar> = (1..=24)
            .map(|i| HistogramBar {
                le_ms: i as f64,
                count: i,
            })
            .collect();
        let g = group(&bars, 9);
        assert!(g.len() <= 9);
        assert_eq!(
            g.iter().map(|b| b.count).sum::<u64>(),
            (1..=24).sum::<u64>()
        );
        assert_eq!(g.last().unwrap().le_ms, 24.0);
        assert!(group(&bars, 0).is_empty());
    }
}
