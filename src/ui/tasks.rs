//! The "top" for requests: the first requests in flight in the table's
//! order (the engine picks them by it), with a selection for cancel and
//! details.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Cell;

use super::component::{Component, View, steerable};
use super::table::{self, Column};
use super::theme::StateKind;
use super::{Theme, panel};
use crate::app::App;
use crate::engine::SortBy;
use crate::format;
use crate::keymap::{self, Action};
use crate::snapshot::{Snapshot, TaskView};

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

/// The table's columns, each with how it sorts.
pub const COLUMNS: &[Column<TaskView>] = &[
    Column {
        title: "id",
        width: Constraint::Length(9),
        right: true,
        sort: Some(SortBy::Id),
        cell: |t, w, _| Cell::from(format!("{:>w$}", t.id, w = w.saturating_sub(1))),
    },
    Column {
        title: "phase",
        width: Constraint::Length(12),
        right: false,
        sort: Some(SortBy::Phase),
        cell: |t, _, theme| {
            let (sym, style) = theme.state(StateKind::Phase(t.phase));
            Cell::from(Line::from(vec![
                Span::styled(format!("{sym} "), style),
                Span::raw(t.phase.as_str()),
            ]))
        },
    },
    Column {
        title: "age",
        width: Constraint::Length(9),
        right: true,
        sort: Some(SortBy::Age),
        cell: |t, w, _| Cell::from(format!("{:>w$}", age(t.age), w = w.saturating_sub(1))),
    },
    Column {
        title: "bytes",
        width: Constraint::Length(10),
        right: true,
        sort: Some(SortBy::Bytes),
        cell: |t, w, _| {
            Cell::from(format!(
                "{:>w$}",
                format::bytes(t.bytes),
                w = w.saturating_sub(1)
            ))
        },
    },
    Column {
        title: "url",
        width: Constraint::Min(10),
        right: false,
        sort: Some(SortBy::Url),
        cell: |t, w, theme| {
            Cell::from(format::middle_truncate(
                &format::inert(&t.url),
                w,
                theme.ellipsis(),
            ))
        },
    },
];

/// The in-flight table.
pub struct InFlight;

impl Component for InFlight {
    fn bindings(&self) -> &'static [keymap::Binding] {
        keymap::TABLE
    }

    fn available(&self, action: Action, snap: &Snapshot, app: &App) -> bool {
        let rows = snap.tasks.len();
        match action {
            Action::Up | Action::Down => rows > 1,
            Action::CancelSelected => rows > 0 && steerable(snap, app),
            Action::CancelAll => snap.in_flight > 0 && steerable(snap, app),
            Action::Details => rows > 0,
            _ => true,
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        render(frame, area, view.snap, view.app, view.theme);
    }
}

/// Renders the table; the selection was settled against these rows.
fn render(frame: &mut Frame, area: Rect, snap: &Snapshot, app: &App, theme: &Theme) {
    let rows = app.rows(snap);
    let selected = app
        .selected
        .and_then(|id| rows.iter().position(|t| t.id == id));
    let order = app.sort;
    let shown = if (snap.in_flight as usize) > rows.len() {
        // The rows are the engine's first of its order, which may lag the
        // one asked for (or, in a replay, be the recording's).
        if snap.table_order == order {
            format!(" · top {}", format::count(rows.len() as u64))
        } else {
            format!(" · {} shown", format::count(rows.len() as u64))
        }
    } else {
        String::new()
    };
    let title = format!(
        " in flight {}{shown} · sort: {}{} ",
        format::count(snap.in_flight),
        order.by.as_str(),
        if order.reversed { " (reversed)" } else { "" }
    );
    table::render(
        frame,
        area,
        panel(title, theme),
        COLUMNS,
        &rows,
        order,
        selected,
        theme,
    );
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
