//! The footer: the main keys (from the key table) and the latest notice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::app::App;
use crate::keymap;
use crate::snapshot::{RunState, Snapshot};

/// Keys that stay in the footer however narrow it gets.
const ALWAYS: [&str; 2] = ["?", "q"];

fn entry_width(keys: &str, what: &str) -> usize {
    // " {keys}" + " {what} "
    keys.chars().count() + what.chars().count() + 3
}

/// The footer's entries that fit in `room` columns: the key table's order,
/// dropping from the end (but never help and quit) until they fit.
fn fitting(room: usize, replay: bool) -> Vec<(&'static str, &'static str)> {
    let mut entries: Vec<_> = if replay {
        keymap::replay_footer().collect()
    } else {
        keymap::footer().collect()
    };
    let width = |e: &[(&str, &str)]| e.iter().map(|(k, w)| entry_width(k, w)).sum::<usize>();
    while width(&entries) > room {
        match entries.iter().rposition(|(k, _)| !ALWAYS.contains(k)) {
            Some(i) => {
                entries.remove(i);
            }
            None => break,
        }
    }
    entries
}

/// Renders the footer line.
pub fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let notice = match (app.notice(), &app.replay) {
        // A replay's position stays in view; a notice goes before it.
        (Some(n), Some(r)) => Some(format!("{n} · {r}")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(r)) => Some(r.clone()),
        (None, None) if app.quitting && snap.state != RunState::Finished => {
            Some("stopping: waiting for in-flight requests (q again to abort)".into())
        }
        (None, None) => None,
    };
    let width = area.width as usize;
    let room = notice
        .as_ref()
        .map_or(width, |n| width.saturating_sub(n.chars().count() + 2));
    let mut spans: Vec<Span> = Vec::new();
    for (keys, what) in fitting(room, app.replay.is_some()) {
        spans.push(Span::styled(format!(" {keys}"), theme.key()));
        spans.push(Span::styled(format!(" {what} "), theme.label()));
    }
    if let Some(n) = notice {
        let used: usize = spans.iter().map(Span::width).sum();
        let pad = width.saturating_sub(used + n.chars().count() + 1);
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(n, theme.warn()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_footers_keep_help_and_quit() {
        let all: Vec<_> = keymap::footer().collect();
        assert_eq!(fitting(500, false), all);
        for room in [80, 60, 30, 10] {
            let kept = fitting(room, false);
            assert!(kept.iter().any(|e| e.0 == "q") && kept.iter().any(|e| e.0 == "?"));
            let width: usize = kept.iter().map(|(k, w)| entry_width(k, w)).sum();
            assert!(width <= room || kept.len() == 2, "{room}: {kept:?}");
            let positions: Vec<usize> = kept
                .iter()
                .map(|e| all.iter().position(|a| a == e).unwrap())
                .collect();
            assert!(
                positions.windows(2).all(|w| w[0] < w[1]),
                "the table's order is kept"
            );
        }
    }
}
