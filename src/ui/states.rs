//! How many items are in each state, with a symbol for each.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::component::{Component, View};
use super::theme::StateKind;
use super::{Theme, panel};
use crate::engine::Phase;
use crate::format;
use crate::snapshot::Snapshot;

/// The states in display order with their counts.
pub(super) fn rows(snap: &Snapshot) -> [(StateKind, &'static str, u64); 8] {
    let c = &snap.counts;
    [
        (StateKind::Phase(Phase::Queued), "queued", c.queued),
        (
            StateKind::Phase(Phase::Connecting),
            "connecting",
            c.connecting,
        ),
        (StateKind::Phase(Phase::Waiting), "waiting", c.waiting),
        (StateKind::Phase(Phase::Receiving), "receiving", c.receiving),
        (StateKind::Phase(Phase::Retrying), "retrying", c.retrying),
        (StateKind::Done, "done", c.done),
        (StateKind::Failed, "failed", c.failed),
        (StateKind::Cancelled, "cancelled", c.cancelled),
    ]
}

/// The states panel: how many items are in each state.
pub struct States;

impl Component for States {
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        render(frame, area, view.snap, view.theme);
    }
}

/// Renders the states panel.
fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, theme: &Theme) {
    let width = area.width.saturating_sub(4) as usize;
    let all = rows(snap);
    // Borders take two lines. When the rest cannot hold every row, the
    // passing phases that are empty give way so the outcomes stay in view.
    let room = usize::from(area.height.saturating_sub(2));
    let mut spare = all.len().saturating_sub(room);
    let lines: Vec<Line> = all
        .into_iter()
        .filter(|(kind, _, n)| {
            let optional = matches!(
                kind,
                StateKind::Phase(Phase::Connecting | Phase::Retrying | Phase::Queued)
            );
            if spare > 0 && optional && *n == 0 {
                spare -= 1;
                return false;
            }
            true
        })
        .map(|(kind, name, n)| {
            let (sym, style) = theme.state(kind);
            let count = format::count(n);
            let pad = width.saturating_sub(name.len() + 2 + count.len()).max(1);
            let value = if n == 0 { theme.dim() } else { theme.value() };
            Line::from(vec![
                Span::styled(format!("{sym} "), style),
                Span::styled(name, theme.label()),
                Span::raw(" ".repeat(pad)),
                Span::styled(count, value),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(" states ", theme).padding(ratatui::widgets::Padding::horizontal(1))),
        area,
    );
}
