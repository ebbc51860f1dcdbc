//! The recording file: a header line of JSON, then a zstd stream of JSON
//! lines, one per snapshot ("frames").
//!
//! A frame carries the snapshot without its rolling lists (the history,
//! the seconds, the adaptive changes); those travel as what is new since
//! the frame before and the length the list had, so a frame costs about the
//! same at minute 50 as at minute 1 and the reader rebuilds the lists
//! exactly.

use serde::{Deserialize, Serialize};

use crate::snapshot::{HistoryPoint, LimitChange, SecondStats, Snapshot};

/// What the header line's `format` says.
pub const FORMAT: &str = "fetchtop-recording";

/// The version of the frames' layout; a reader refuses others.
pub const VERSION: u32 = 1;

/// Snapshots recorded per second.
pub const RATE_HZ: u32 = 5;

/// Rows of the in-flight table kept in a frame: the oldest requests, as
/// many as a tall terminal shows; the table is most of a frame's size.
pub const TASK_ROWS: usize = 20;

/// The first line of a recording, uncompressed, so `head -1` tells what
/// the file is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The frames' layout, [`VERSION`].
    pub version: u32,
    /// The fetchtop that wrote it.
    pub fetchtop: String,
    /// Snapshots per second.
    pub rate_hz: u32,
    /// How the rest of the file is compressed.
    pub compression: String,
    /// What was fetched.
    pub target: String,
    /// The run's extra request headers, secrets redacted (for the details popup).
    pub headers: Vec<String>,
}

impl Header {
    /// The header of a recording written now.
    pub fn new(target: String, headers: Vec<String>) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            fetchtop: env!("CARGO_PKG_VERSION").into(),
            rate_hz: RATE_HZ,
            compression: "zstd".into(),
            target,
            headers,
        }
    }
}

/// New entries of a rolling list, and the length the list had.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tail<T> {
    /// Entries added since the frame before, oldest first.
    pub new: Vec<T>,
    /// The list's length in the snapshot.
    pub len: usize,
}

/// One frame of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The snapshot, its rolling lists left empty.
    pub snap: Snapshot,
    /// [`Snapshot::history`].
    pub history: Tail<HistoryPoint>,
    /// [`Snapshot::seconds`].
    pub seconds: Tail<SecondStats>,
    /// The adaptive controller's changes.
    pub changes: Tail<LimitChange>,
}

/// The entries of `now` that `before` did not end with: `now` is `before`
/// with some dropped at the front and some added at the back, and `key`
/// tells entries apart (they grow along the list).
fn added<T: Clone, K: PartialOrd>(before: &[T], now: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    match before.last() {
        Some(last) => {
            let last = key(last);
            now.iter().filter(|e| key(e) > last).cloned().collect()
        }
        None => now.to_vec(),
    }
}

/// Appends a tail to a rebuilt list and trims it to the recorded length.
fn rebuild<T: Clone>(list: &mut Vec<T>, tail: &Tail<T>) {
    list.extend(tail.new.iter().cloned());
    let extra = list.len().saturating_sub(tail.len);
    list.drain(..extra);
}

impl Frame {
    /// The frame for `snap`, the snapshot recorded before it being `before`.
    pub fn of(snap: &Snapshot, before: Option<&Snapshot>) -> Frame {
        let empty = Snapshot::default();
        let before = before.unwrap_or(&empty);
        let changes_before = before.adaptive.dropped + before.adaptive.changes.len() as u64;
        let changes_now = snap.adaptive.dropped + snap.adaptive.changes.len() as u64;
        let fresh = usize::try_from(changes_now.saturating_sub(changes_before)).unwrap_or(0);
        let changes = &snap.adaptive.changes;
        let mut bare = snap.clone();
        bare.tasks.truncate(TASK_ROWS);
        bare.history = Vec::new();
        bare.seconds = Vec::new();
        bare.adaptive.changes = Default::default();
        Frame {
            snap: bare,
            history: Tail {
                new: added(&before.history, &snap.history, |p| p.t_s),
                len: snap.history.len(),
            },
            seconds: Tail {
                new: added(&before.seconds, &snap.seconds, |p| p.t_s),
                len: snap.seconds.len(),
            },
            changes: Tail {
                new: changes
                    .iter()
                    .skip(changes.len().saturating_sub(fresh))
                    .cloned()
                    .collect(),
                len: changes.len(),
            },
        }
    }

    /// The snapshot this frame stands for, the one read before it being
    /// `before` (whose rolling lists it continues).
    pub fn into_snapshot(self, before: Option<&Snapshot>) -> Snapshot {
        let mut snap = self.snap;
        let (mut history, mut seconds, mut changes) = match before {
            Some(b) => (
                b.history.clone(),
                b.seconds.clone(),
                b.adaptive.changes.iter().cloned().collect::<Vec<_>>(),
            ),
            None => Default::default(),
        };
        rebuild(&mut history, &self.history);
        rebuild(&mut seconds, &self.seconds);
        rebuild(&mut changes, &self.changes);
        snap.history = history;
        snap.seconds = seconds;
        snap.adaptive.changes = std::sync::Arc::new(changes.into_iter().collect());
        snap
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn snap(t: u64, keep: u64) -> Snapshot {
        let history = (t.saturating_sub(keep) + 1..=t)
            .map(|t_s| HistoryPoint {
                t_s,
                finished: t_s * 3,
                ..HistoryPoint::default()
            })
            .collect();
        let changes: VecDeque<LimitChange> = (0..t)
            .map(|i| LimitChange {
                t_s: i as f64,
                from: i,
                to: i + 1,
                why: "test".into(),
            })
            .collect();
        let mut s = Snapshot {
            elapsed: Duration::from_secs(t),
            history,
            ..Snapshot::default()
        };
        s.adaptive.changes = Arc::new(changes);
        s
    }

    #[test]
    fn frames_carry_what_is_new_and_rebuild_the_same_snapshots() {
        let snaps: Vec<Snapshot> = (0..12).map(|t| snap(t, 4)).collect();
        let mut before: Option<Snapshot> = None;
        let mut read: Option<Snapshot> = None;
        for s in &snaps {
            let frame = Frame::of(s, before.as_ref());
            assert!(frame.history.new.len() <= 1, "{:?}", frame.history);
            assert!(frame.changes.new.len() <= 1);
            let line = serde_json::to_string(&frame).unwrap();
            let back: Frame = serde_json::from_str(&line).unwrap();
            let rebuilt = back.into_snapshot(read.as_ref());
            assert_eq!(&rebuilt, s);
            before = Some(s.clone());
            read = Some(rebuilt);
        }
    }
}
