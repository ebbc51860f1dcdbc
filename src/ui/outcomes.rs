//! Outcomes: status codes and error kinds with their counts.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::component::{Component, View};
use super::theme::StateKind;
use super::{Theme, panel};
use crate::engine::ErrorKind;
use crate::format;
use crate::snapshot::Snapshot;

fn row<'a>(
    name: String,
    n: u64,
    width: usize,
    style: ratatui::style::Style,
    theme: &Theme,
) -> Line<'a> {
    let count = format::count(n);
    let pad = width.saturating_sub(name.chars().count() + count.len());
    Line::from(vec![
        Span::styled(name, style),
        Span::raw(" ".repeat(pad.max(1))),
        Span::styled(count, theme.value()),
    ])
}

/// The outcomes panel: status codes, then error kinds.
pub struct Outcomes;

impl Component for Outcomes {
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        render(frame, area, view.snap, view.theme);
    }
}

/// Renders the outcomes panel: statuses first, then errors, cut to fit.
fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, theme: &Theme) {
    let width = area.width.saturating_sub(4) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if snap.status.is_empty() && snap.errors.is_empty() {
        lines.push(Line::styled("nothing has ended yet", theme.dim()));
    }
    for &(code, n) in &snap.status {
        lines.push(row(format!("{code}"), n, width, theme.status(code), theme));
    }
    let failures: Vec<_> = snap
        .errors
        .iter()
        .filter(|e| e.0 != ErrorKind::Cancelled)
        .collect();
    if !failures.is_empty() {
        let completed = (snap.counts.done + snap.counts.failed).max(1);
        let pct = snap.counts.failed as f64 * 100.0 / completed as f64;
        lines.push(Line::styled(format!("failed {pct:.1}%"), theme.label()));
        for &&(kind, n) in &failures {
            lines.push(row(kind.as_str().to_string(), n, width, theme.bad(), theme));
        }
    }
    if snap.counts.cancelled > 0 {
        let (_, style) = theme.state(StateKind::Cancelled);
        lines.push(row(
            "cancelled".into(),
            snap.counts.cancelled,
            width,
            style,
            theme,
        ));
    }
    if lines.len() > height && height > 0 {
        let hidden = lines.len() - (height - 1);
        lines.truncate(height - 1);
        lines.push(Line::styled(format!("+{hidden} more"), theme.dim()));
    }
    let block = panel(" outcomes ", theme).padding(ratatui::widgets::Padding::horizontal(1));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
