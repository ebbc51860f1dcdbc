//! The order of the in-flight table. A reader asks for one
//! ([`Command::SetTableOrder`](super::command::Command::SetTableOrder)); the
//! shards pick their top rows by it and the control plane merges them by
//! it, so the rows a snapshot carries are the first of that order among
//! everything in flight, not the oldest few re-sorted.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::snapshot::TaskView;

/// A column the table can be sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Task id, lowest first.
    Id,
    /// Phase, the furthest along first (then the oldest).
    Phase,
    /// Age, the oldest first: what is stuck shows at the top.
    #[default]
    Age,
    /// Body bytes received, the most first.
    Bytes,
    /// URL, in byte order.
    Url,
}

impl SortBy {
    /// The column's name, as the table's header writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Id => "id",
            SortBy::Phase => "phase",
            SortBy::Age => "age",
            SortBy::Bytes => "bytes",
            SortBy::Url => "url",
        }
    }
}

/// A sort column and its direction. `reversed` flips the column's natural
/// order (for age: the newest first). Ties go to the lower id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableOrder {
    /// The column.
    pub by: SortBy,
    /// The other way round.
    #[serde(default)]
    pub reversed: bool,
}

impl TableOrder {
    /// Compares two rows: `Less` is the one listed first.
    pub fn compare(&self, a: &TaskView, b: &TaskView) -> Ordering {
        let natural = match self.by {
            SortBy::Id => a.id.cmp(&b.id),
            SortBy::Phase => (b.phase as u8)
                .cmp(&(a.phase as u8))
                .then(b.age.cmp(&a.age)),
            SortBy::Age => b.age.cmp(&a.age),
            SortBy::Bytes => b.bytes.cmp(&a.bytes),
            SortBy::Url => a.url.cmp(&b.url),
        };
        let ordered = if self.reversed {
            natural.reverse()
        } else {
            natural
        };
        ordered.then(a.id.cmp(&b.id))
    }

    /// Whether the order is the registry's own (ids grow with dispatch
    /// time), so the top rows are read off one end without a scan.
    pub fn by_dispatch(&self) -> bool {
        matches!(self.by, SortBy::Id | SortBy::Age)
    }

    /// Keeps the first `max` of `rows` in this order, sorted: O(n) to pick
    /// them, then O(max log max) to sort them.
    pub fn top(&self, rows: &mut Vec<TaskView>, max: usize) {
        if rows.len() > max && max > 0 {
            rows.select_nth_unstable_by(max - 1, |a, b| self.compare(a, b));
        }
        rows.truncate(max);
        rows.sort_unstable_by(|a, b| self.compare(a, b));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::record::Phase;

    fn row(id: u64, age_ms: u64, bytes: u64, phase: Phase) -> TaskView {
        TaskView {
            id,
            phase,
            url: Arc::from(format!("http://x/{}", 100_000 - id).as_str()),
            age: Duration::from_millis(age_ms),
            bytes,
        }
    }

    fn ids(rows: &[TaskView]) -> Vec<u64> {
        rows.iter().map(|t| t.id).collect()
    }

    #[test]
    fn each_column_sorts_its_own_way_and_ties_go_to_the_lower_id() {
        let rows = vec![
            row(1, 300, 0, Phase::Waiting),
            row(2, 200, 50, Phase::Receiving),
            row(3, 100, 10, Phase::Receiving),
            row(4, 100, 50, Phase::Waiting),
        ];
        let order = |by, reversed| {
            let mut r = rows.clone();
            TableOrder { by, reversed }.top(&mut r, 10);
            ids(&r)
        };
        assert_eq!(order(SortBy::Age, false), vec![1, 2, 3, 4]);
        assert_eq!(order(SortBy::Age, true), vec![3, 4, 2, 1]);
        assert_eq!(order(SortBy::Bytes, false), vec![2, 4, 3, 1]);
        assert_eq!(order(SortBy::Phase, false), vec![2, 3, 1, 4]);
        assert_eq!(order(SortBy::Id, true), vec![4, 3, 2, 1]);
        assert_eq!(order(SortBy::Url, false), vec![4, 3, 2, 1]);
    }

    #[test]
    fn top_keeps_the_first_rows_of_the_order_not_the_first_rows_given() {
        let mut rows: Vec<TaskView> = (1..=1000)
            .map(|id| row(id, 5000 - id, id % 97, Phase::Receiving))
            .collect();
        TableOrder {
            by: SortBy::Bytes,
            reversed: false,
        }
        .top(&mut rows, 5);
        assert!(rows.iter().all(|t| t.bytes == 96), "{:?}", ids(&rows));
        assert_eq!(ids(&rows), vec![96, 193, 290, 387, 484]);
    }
}
