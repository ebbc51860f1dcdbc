//! Popups over the dashboard: the key help, and one request in full.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::component::{self, Component, View};
use super::{Theme, pair, panel};
use crate::app::App;
use crate::format;
use crate::keymap::{self, Action};
use crate::snapshot::Snapshot;

/// A `width` × `height` rectangle in the middle of `area`, clipped to it.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The key help, over the dashboard.
pub struct HelpPopup;

impl Component for HelpPopup {
    fn bindings(&self) -> &'static [keymap::Binding] {
        keymap::POPUP
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        help(frame, area, view.snap, view.app, view.theme);
    }
}

/// The selected request in full, over the dashboard.
pub struct DetailsPopup;

impl Component for DetailsPopup {
    fn bindings(&self) -> &'static [keymap::Binding] {
        keymap::POPUP
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        details(frame, area, view.snap, view.app, view.theme);
    }
}

/// The key help: every binding the active components offer, those that
/// do nothing now dimmed, built from the same table as the handler and the
/// footer.
fn help(frame: &mut Frame, area: Rect, snap: &Snapshot, app: &App, theme: &Theme) {
    let offers = component::offers(snap, app);
    let entries: Vec<(String, &str, bool)> = offers
        .iter()
        .filter(|o| !o.binding.has(Action::Close))
        .map(|o| (o.binding.full_label(), o.binding.help, o.available))
        .collect();
    let key_w = entries
        .iter()
        .map(|e| e.0.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let mut lines: Vec<Line> = entries
        .iter()
        .map(|(k, h, available)| {
            let (key_style, text_style) = if *available {
                (theme.key(), ratatui::style::Style::default())
            } else {
                (theme.dim(), theme.dim())
            };
            Line::from(vec![
                Span::styled(format!("{k:<key_w$}"), key_style),
                Span::styled(*h, text_style),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "{} or {} closes this help · dimmed: nothing to do now",
            keymap::key_for(Action::Close),
            keymap::key_for(Action::Help)
        ),
        theme.dim(),
    ));
    let width = lines.iter().map(Line::width).max().unwrap_or(40) as u16 + 4;
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(panel(" keys ", theme)), rect);
}

/// The selected request in full (its URL unabridged).
fn details(frame: &mut Frame, area: Rect, snap: &Snapshot, app: &App, theme: &Theme) {
    let task = app
        .selected
        .and_then(|id| snap.tasks.iter().find(|t| t.id == id));
    let lines: Vec<Line> = match task {
        None => vec![Line::styled(
            "no request selected: it has ended, or nothing is in flight",
            theme.dim(),
        )],
        Some(t) => {
            let mut lines = vec![
                Line::from(pair("id        ", t.id.to_string(), theme)),
                Line::from(pair("phase     ", t.phase.as_str().to_string(), theme)),
                Line::from(pair(
                    "age       ",
                    format!("{:.3}s", t.age.as_secs_f64()),
                    theme,
                )),
                Line::from(pair("received  ", format::bytes(t.bytes), theme)),
                Line::from(pair(
                    "url       ",
                    format::inert(&t.url).into_owned(),
                    theme,
                )),
            ];
            if !app.headers.is_empty() {
                // Already redacted and made inert by redact::headers.
                lines.push(Line::from(pair(
                    "headers   ",
                    app.headers.join(" · "),
                    theme,
                )));
            }
            lines.push(Line::raw(""));
            let offers = component::offers(snap, app);
            let hint: Vec<String> = [Action::CancelSelected, Action::Close]
                .iter()
                .filter_map(|&a| offers.iter().find(|o| o.available && o.binding.has(a)))
                .map(|o| format!("{} {}", o.binding.label(), o.binding.short))
                .collect();
            lines.push(Line::styled(hint.join(" · "), theme.dim()));
            lines
        }
    };
    let height = if app.headers.is_empty() { 11 } else { 13 };
    let rect = centered(area, area.width.saturating_sub(8).min(100), height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(" request ", theme)),
        rect,
    );
}
