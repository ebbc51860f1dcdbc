//! The recording file: a header line of JSON, then a zstd stream of JSON
//! lines, one per snapshot ("frames").
//!
//! A frame carries the snapshot without its rolling lists (the history,
//! the seconds, the adaptive changes); those travel as what is new since
//! the frame before and the length the list had, so a frame costs about the
//! same at minute 50 as at minute 1 and the reader rebuilds the lists
//! exactly.

use serde::{Deserialize, Serialize};

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Phase;
use crate::snapshot::{HistoryPoint, LimitChange, SecondStats, Snapshot, TaskView};

/// What the header line's `format` says.
pub const FORMAT: &str = "fetchtop-recording";

/// The version of the frames' layout; a reader refuses others.
pub const VERSION: u32 = 1;

/// Snapshots recorded per second.
pub const RATE_HZ: u32 = 5;

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
    /// The run's settings as (name, value), secrets redacted (for `fetchtop report`).
    #[serde(default)]
    pub settings: Vec<(String, String)>,
}

impl Header {
    /// The header of a recording written now.
    pub fn new(target: String, headers: Vec<String>, settings: Vec<(String, String)>) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            fetchtop: env!("CARGO_PKG_VERSION").into(),
            rate_hz: RATE_HZ,
            compression: "zstd".into(),
            target,
            headers,
            settings,
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

/// One row of the in-flight table. Its age is kept as the run time it was
/// dispatched at, which stays the same from frame to frame (and so costs
/// next to nothing compressed), where the age changes every time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskFrame {
    /// Task id.
    pub id: u64,
    /// Where it is.
    pub phase: Phase,
    /// Its URL.
    pub url: Arc<str>,
    /// The run's elapsed time minus its age, in ns (negative when the two
    /// clocks' readings cross by a hair).
    pub born_ns: i128,
    /// Body bytes so far.
    pub bytes: u64,
}

impl TaskFrame {
    fn of(t: &TaskView, elapsed: Duration) -> TaskFrame {
        TaskFrame {
            id: t.id,
            phase: t.phase,
            url: Arc::clone(&t.url),
            born_ns: elapsed.as_nanos() as i128 - t.age.as_nanos() as i128,
            bytes: t.bytes,
        }
    }

    fn view(&self, elapsed: Duration) -> TaskView {
        let age = (elapsed.as_nanos() as i128 - self.born_ns).max(0);
        TaskView {
            id: self.id,
            phase: self.phase,
            url: Arc::clone(&self.url),
            age: Duration::from_nanos(u64::try_from(age).unwrap_or(u64::MAX)),
            bytes: self.bytes,
        }
    }
}

/// One frame of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The snapshot, its rolling lists and its table left empty.
    pub snap: Snapshot,
    /// [`Snapshot::tasks`].
    pub tasks: Vec<TaskFrame>,
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
        bare.tasks = Vec::new();
        bare.history = Vec::new();
        bare.seconds = Vec::new();
        bare.adaptive.changes = Default::default();
        Frame {
            snap: bare,
            tasks: snap
                .tasks
                .iter()
                .map(|t| TaskFrame::of(t, snap.elapsed))
                .collect(),
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
        snap.tasks = self.tasks.iter().map(|t| t.view(snap.elapsed)).collect();
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
