//! A sortable table: its columns declare their width, how to draw a cell
//! and which [`SortBy`] (if any) sorts them. The header marks the sorted
//! column and its direction; the sort key moves along the sortable
//! columns. The rows come sorted: the engine picks them in that order.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Cell, Row, Table, TableState};

use super::Theme;
use crate::engine::{SortBy, TableOrder};

/// One column.
pub struct Column<T> {
    /// Its header.
    pub title: &'static str,
    /// Its width.
    pub width: Constraint,
    /// Right-aligned (numbers), so the header is too.
    pub right: bool,
    /// What sorts it, if it can be sorted.
    pub sort: Option<SortBy>,
    /// Draws one row's cell, given the column's width in cells.
    pub cell: fn(&T, usize, &Theme) -> Cell<'static>,
}

/// The order after `order` on `s`: the next sortable column, in its own
/// natural direction.
pub fn next_order<T>(columns: &[Column<T>], order: TableOrder) -> TableOrder {
    let sortable: Vec<SortBy> = columns.iter().filter_map(|c| c.sort).collect();
    let at = sortable.iter().position(|&s| s == order.by);
    let by = match at {
        Some(i) => sortable[(i + 1) % sortable.len()],
        None => sortable.first().copied().unwrap_or_default(),
    };
    TableOrder {
        by,
        reversed: false,
    }
}

/// The header's mark for a sorted column: ▼ in its natural order (the
/// first row is the most of it), ▲ reversed.
fn mark(order: TableOrder, theme: &Theme) -> &'static str {
    match (order.reversed, theme.unicode) {
        (false, true) => "▼",
        (true, true) => "▲",
        (false, false) => "v",
        (true, false) => "^",
    }
}

/// A fixed column width, for the cells' own padding.
fn width_of(c: &Constraint, rest: u16) -> usize {
    match *c {
        Constraint::Length(n) => n as usize,
        _ => rest as usize,
    }
}

/// Draws `rows` (already in `order`) with `selected` highlighted.
#[allow(clippy::too_many_arguments)]
pub fn render<T>(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    columns: &[Column<T>],
    rows: &[&T],
    order: TableOrder,
    selected: Option<usize>,
    theme: &Theme,
) {
    let fixed: u16 = columns
        .iter()
        .map(|c| match c.width {
            Constraint::Length(n) => n + 1,
            _ => 1,
        })
        .sum();
    let rest = area.width.saturating_sub(2 + fixed);
    let widths: Vec<usize> = columns.iter().map(|c| width_of(&c.width, rest)).collect();
    let header = Row::new(columns.iter().zip(&widths).map(|(c, &w)| {
        let title = match c.sort {
            Some(s) if s == order.by => format!("{} {}", c.title, mark(order, theme)),
            _ => c.title.to_string(),
        };
        let w = w.saturating_sub(1);
        Cell::from(if c.right {
            format!("{title:>w$}")
        } else {
            title
        })
    }))
    .style(theme.label());
    let body: Vec<Row> = rows
        .iter()
        .map(|r| {
            Row::new(
                columns
                    .iter()
                    .zip(&widths)
                    .map(|(c, &w)| (c.cell)(r, w, theme)),
            )
        })
        .collect();
    let table = Table::new(body, columns.iter().map(|c| c.width))
        .header(header)
        .row_highlight_style(theme.selected())
        .block(block);
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column<u64>> {
        let cell: fn(&u64, usize, &Theme) -> Cell<'static> = |v, _, _| Cell::from(v.to_string());
        vec![
            Column {
                title: "id",
                width: Constraint::Length(5),
                right: true,
                sort: Some(SortBy::Id),
                cell,
            },
            Column {
                title: "note",
                width: Constraint::Length(5),
                right: false,
                sort: None,
                cell,
            },
            Column {
                title: "age",
                width: Constraint::Min(5),
                right: true,
                sort: Some(SortBy::Age),
                cell,
            },
        ]
    }

    #[test]
    fn the_sort_key_moves_along_the_sortable_columns_only() {
        let cols = columns();
        let age = TableOrder {
            by: SortBy::Age,
            reversed: true,
        };
        let next = next_order(&cols, age);
        assert_eq!((next.by, next.reversed), (SortBy::Id, false));
        assert_eq!(next_order(&cols, next).by, SortBy::Age);
        // A column the table lacks starts from the first sortable one.
        let bytes = TableOrder {
            by: SortBy::Bytes,
            reversed: false,
        };
        assert_eq!(next_order(&cols, bytes).by, SortBy::Id);
    }

    #[test]
    fn the_header_marks_the_sorted_column() {
        let backend = ratatui::backend::TestBackend::new(30, 5);
        let mut term = ratatui::Terminal::new(backend).expect("test terminal");
        let rows = [1u64, 2];
        let refs: Vec<&u64> = rows.iter().collect();
        let theme = Theme::default();
        term.draw(|f| {
            render(
                f,
                f.area(),
                Block::bordered(),
                &columns(),
                &refs,
                TableOrder::default(),
                Some(0),
                &theme,
            )
        })
        .expect("draw");
        let header: String = (0..30)
            .map(|x| term.backend().buffer()[(x, 1)].symbol().to_string())
            .collect();
        assert!(header.contains("age ▼"), "{header}");
        assert!(!header.contains("id ▼"), "{header}");
    }
}
