//! The footer: the keys the active components offer now, and the latest
//! notice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use super::component;
use super::component::{Component, Offer, View};
use crate::app::App;
use crate::keymap::Action;
use crate::snapshot::{RunState, Snapshot};

/// Keys that stay in the footer however narrow it gets.
fn always(o: &Offer) -> bool {
    o.binding.has(Action::Help) || o.binding.has(Action::Quit)
}

fn entry_width(o: &Offer) -> usize {
    // " {keys}" + " {what} "
    o.binding.label().chars().count() + o.short.chars().count() + 3
}

/// The footer's entries that fit in `room` columns: the components' order,
/// dropping from the end (but never help and quit) until they fit.
fn fitting(mut entries: Vec<Offer>, room: usize) -> Vec<Offer> {
    let width = |e: &[Offer]| e.iter().map(entry_width).sum::<usize>();
    while width(&entries) > room {
        match entries.iter().rposition(|b| !always(b)) {
            Some(i) => {
                entries.remove(i);
            }
            None => break,
        }
    }
    entries
}

/// The footer line.
pub struct Footer;

impl Component for Footer {
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        render(frame, area, view.app, view.snap, view.theme);
    }
}

/// Renders the footer line.
fn render(frame: &mut Frame, area: Rect, app: &App, snap: &Snapshot, theme: &Theme) {
    let notice = match (app.notice(), &app.replay) {
        // A replay's position stays in view; a notice goes before it.
        (Some(n), Some(r)) => Some(format!("{n} · {r}")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(r)) => Some(r.clone()),
        (None, None) if app.quitting && snap.state != RunState::Finished => {
            Some(App::stopping_text())
        }
        (None, None) => None,
    };
    let width = area.width as usize;
    let room = notice
        .as_ref()
        .map_or(width, |n| width.saturating_sub(n.chars().count() + 2));
    let mut spans: Vec<Span> = Vec::new();
    for o in fitting(component::footer(snap, app), room) {
        spans.push(Span::styled(format!(" {}", o.binding.label()), theme.key()));
        spans.push(Span::styled(format!(" {} ", o.short), theme.label()));
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
        let snap = Snapshot {
            in_flight: 1,
            ..Snapshot::default()
        };
        let all = component::footer(&snap, &App::default());
        assert_eq!(fitting(all.clone(), 500).len(), all.len());
        for room in [80, 60, 30, 10] {
            let kept = fitting(all.clone(), room);
            assert!(kept.iter().any(|o| o.binding.has(Action::Quit)));
            assert!(kept.iter().any(|o| o.binding.has(Action::Help)));
            let width: usize = kept.iter().map(entry_width).sum();
            assert!(width <= room || kept.len() == 2, "{room}: {}", kept.len());
            let positions: Vec<usize> = kept
                .iter()
                .map(|e| {
                    all.iter()
                        .position(|a| std::ptr::eq(a.binding, e.binding))
                        .expect("kept from all")
                })
                .collect();
            assert!(
                positions.windows(2).all(|w| w[0] < w[1]),
                "the components' order is kept"
            );
        }
    }
}
