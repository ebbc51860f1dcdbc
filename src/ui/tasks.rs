//! The "top" for requests: the oldest requests in flight (as many as the
//! snapshot carries), sortable, with a selection for cancel and details.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::theme::StateKind;
use super::{Theme, panel};
use crate::app::App;
use crate::format;
use crate::snapshot::Snapshot;

const ID: u16 = 9;
const PHASE: u16 = 12;
const AGE: u16 = 9;
const BYTES: u16 = 10;

/// A compact age: `850ms`, `12.3s`, `4m05s`.
fn age(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format::span(d)
    }
}

/// Renders the table; the selection is settled against the rows shown.
pub fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, app: &mut App, theme: &Theme) {
    let rows = app.rows(snap);
    let selected = app.resolve_selection(&rows);
    let shown = if (snap.in_flight as usize) > rows.len() {
        format!(" · oldest {} shown", format::count(rows.len() as u64))
    } else {
        String::new()
    };
    let title = format!(
        " in flight {}{shown} · sort: {} ",
        format::count(snap.in_flight),
        app.sort.as_str()
    );
    let url_width = area.width.saturating_sub(2 + ID + PHASE + AGE + BYTES + 4) as usize;
    let body: Vec<Row> = rows
        .iter()
        .map(|t| {
            let (sym, style) = theme.state(StateKind::Phase(t.phase));
            let url = format::middle_truncate(&format::inert(&t.url), url_width, theme.ellipsis());
            Row::new(vec![
                Cell::from(format!("{:>8}", t.id)),
                Cell::from(Line::from(vec![
                    Span::styled(format!("{sym} "), style),
                    Span::raw(t.phase.as_str()),
                ])),
                Cell::from(format!("{:>8}", age(t.age))),
                Cell::from(format!("{:>9}", format::bytes(t.bytes))),
                Cell::from(url),
            ])
        })
        .collect();
    let header = Row::new(vec![
        Cell::from(format!("{:>8}", "id")),
        Cell::from("phase"),
        Cell::from(format!("{:>8}", "age")),
        Cell::from(format!("{:>9}", "bytes")),
        Cell::from("url"),
    ])
    .style(theme.label());
    let table = Table::new(
        body,
        [
            Constraint::Length(ID),
            Constraint::Length(PHASE),
            Constraint::Length(AGE),
            Constraint::Length(BYTES),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .row_highlight_style(theme.selected())
    .block(panel(title, theme));
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn ages_read_well() {
        assert_eq!(super::age(Duration::from_millis(850)), "850ms");
        assert_eq!(super::age(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(super::age(Duration::from_secs(245)), "4m05s");
    }
}
