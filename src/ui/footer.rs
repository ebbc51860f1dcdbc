//! The footer: the main keys (from the key table) and the latest notice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::App;
use crate::keymap;
use crate::snapshot::{RunState, Snapshot};

/// Renders the footer line.
pub fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let mut spans: Vec<Span> = Vec::new();
    for (keys, what) in keymap::footer() {
        spans.push(Span::styled(format!(" {keys}"), theme.key()));
        spans.push(Span::styled(format!(" {what} "), theme.label()));
    }
    let notice = match app.notice() {
        Some(n) => Some(n.to_string()),
        None if app.quitting && snap.state != RunState::Finished => {
            Some("stopping: waiting for in-flight requests (q again to abort)".into())
        }
        None => None,
    };
    let keys_width: usize = spans.iter().map(Span::width).sum();
    if let Some(n) = notice {
        // The notice wins over the keys when both do not fit.
        let room = (area.width as usize).saturating_sub(n.chars().count() + 2);
        if keys_width > room {
            let mut kept = 0;
            spans.retain(|s| {
                kept += s.width();
                kept <= room
            });
        }
        let used: usize = spans.iter().map(Span::width).sum();
        let pad = (area.width as usize).saturating_sub(used + n.chars().count() + 1);
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(n, theme.warn()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
