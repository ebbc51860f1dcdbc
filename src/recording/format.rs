//! The recording file: a header line of JSON, then a zstd stream of JSON
//! lines, one per snapshot ("frames").
//!
//! A frame carries what changed since the frame before, so that an hour of
//! a busy run is about 8 MB (it was 16 to 50 MB when every frame carried
//! its snapshot whole):
//!
//! - the snapshot without its table and rolling lists, as a patch of its
//!   JSON against the frame before's: only the fields whose value changed
//!   (nested objects field by field, integers as what they grew by, lists
//!   as entries dropped, patched and appended when that is shorter); the
//!   first frame carries it whole. Whatever [`Snapshot`] serializes is
//!   carried, field by field, with nothing to list here. The patch's
//!   numbers are written apart from its shape (see [`Frame::to_line`]);
//! - the in-flight table's first [`TABLE_ROWS`] rows (more than a tall
//!   screen shows), column by column: ids and dispatch times as the
//!   difference from the row above, URLs as the bytes they share with the
//!   URL above and the rest (less the row's id when they end with it);
//! - the rolling lists (the history, the seconds, the adaptive changes) as
//!   what is new since the frame before and the length the list had.
//!
//! Frames follow each other from the first: the reader rebuilds every
//! snapshot exactly (the table to its first rows), reading the file from
//! its start, as it must anyway (one zstd stream).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Phase;
use crate::snapshot::{HistoryPoint, LimitChange, SecondStats, Snapshot, TaskView};
use crate::thresholds::{self, Abort, Rules};

/// What the header line's `format` says.
pub const FORMAT: &str = "fetchtop-recording";

/// The version of the frames' layout; a reader refuses others. Version 1
/// carried every frame's snapshot whole, with its whole table.
pub const VERSION: u32 = 2;

/// Snapshots recorded per second.
pub const RATE_HZ: u32 = 5;

/// The in-flight table's rows a frame keeps, the first of the snapshot's
/// order: as many as a tall screen shows (a 45-line terminal shows about a
/// dozen; 40 take one of about 75 lines). The table is the largest part of
/// a frame: at thousands of requests a second every row is a new request
/// in every frame, whose dispatch time in ns costs about 3 bytes.
pub const TABLE_ROWS: usize = 40;

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
    /// The run's `--fail-if`/`--abort-if` (for `fetchtop report`).
    #[serde(default)]
    pub thresholds: Thresholds,
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
            thresholds: Thresholds::default(),
        }
    }

    /// The same, with the run's thresholds.
    pub fn with_thresholds(mut self, rules: &Rules) -> Header {
        self.thresholds = Thresholds::of(rules);
        self
    }
}

/// A run's thresholds as written: the expressions as the user gave them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// `--fail-if`, in order.
    pub fail_if: Vec<String>,
    /// `--abort-if`, in order.
    pub abort_if: Vec<String>,
    /// `--abort-after`.
    pub abort_after: Duration,
}

impl Thresholds {
    /// What `rules` holds.
    pub fn of(rules: &Rules) -> Thresholds {
        let texts = |ts: &[thresholds::Threshold]| ts.iter().map(|t| t.text.clone()).collect();
        Thresholds {
            fail_if: texts(&rules.fail_if),
            abort_if: texts(&rules.abort_if),
            abort_after: rules.abort_after,
        }
    }

    /// The rules again, each expression parsed as the run parsed it.
    pub fn rules(&self) -> Result<Rules, String> {
        let parse = |ts: &[String]| -> Result<Vec<_>, String> {
            ts.iter().map(|t| thresholds::parse(t)).collect()
        };
        Ok(Rules {
            fail_if: parse(&self.fail_if)?,
            abort_if: parse(&self.abort_if)?,
            abort_after: self.abort_after,
        })
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

/// The table's first rows, column by column. A row's age is kept as the
/// run time it was dispatched at (which stays the same from frame to
/// frame, where the age changes every time), less the row above's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rows {
    /// Each row's id less the row above's (the first's less 0).
    pub id: Vec<i64>,
    /// Each row's phase, one digit a row (`Phase as u8`).
    pub phase: String,
    /// Each row's dispatch time (the run's elapsed time less its age) less
    /// the row above's, in ns; the first's as it is (negative when the two
    /// clocks' readings cross by a hair).
    pub born: Vec<i64>,
    /// Body bytes so far.
    pub bytes: Vec<u64>,
    /// Whether each row's URL ends with its id in decimal (as
    /// `/items/{1..N}` makes them), one digit a row: then the URL below is
    /// the URL without it.
    pub url_id: String,
    /// The bytes each row's URL shares with the row above's, at its start.
    pub url_keep: Vec<usize>,
    /// The rest of each row's URL.
    pub url_rest: Vec<String>,
}

impl Rows {
    fn of(tasks: &[TaskView], elapsed: Duration) -> Rows {
        let mut rows = Rows::default();
        let (mut id, mut born, mut url): (u64, i64, &str) = (0, 0, "");
        for t in tasks {
            rows.id.push(t.id.wrapping_sub(id) as i64);
            id = t.id;
            rows.phase.push(char::from(b'0' + t.phase as u8));
            let b = (elapsed.as_nanos() as i128 - t.age.as_nanos() as i128) as i64;
            rows.born.push(b.wrapping_sub(born));
            born = b;
            rows.bytes.push(t.bytes);
            let digits = t.id.to_string();
            let (base, with_id) = match t.url.strip_suffix(digits.as_str()) {
                Some(base) => (base, '1'),
                None => (&*t.url, '0'),
            };
            rows.url_id.push(with_id);
            let keep = shared_prefix(url, base);
            rows.url_keep.push(keep);
            rows.url_rest.push(base[keep..].to_owned());
            url = base;
        }
        rows
    }

    fn views(&self, elapsed: Duration) -> Option<Vec<TaskView>> {
        let n = self.id.len();
        let phases = self.phase.as_bytes();
        let with_id = self.url_id.as_bytes();
        if [phases.len(), self.born.len(), self.bytes.len()]
            .into_iter()
            .chain([with_id.len(), self.url_keep.len(), self.url_rest.len()])
            .any(|l| l != n)
        {
            return None;
        }
        let mut out = Vec::with_capacity(n);
        let (mut id, mut born, mut url): (u64, i64, String) = (0, 0, String::new());
        for i in 0..n {
            id = id.wrapping_add(self.id[i] as u64);
            born = born.wrapping_add(self.born[i]);
            let phase = *Phase::ALL.iter().find(|p| b'0' + **p as u8 == phases[i])?;
            url.truncate(url.get(..self.url_keep[i])?.len());
            url.push_str(&self.url_rest[i]);
            let full = match with_id[i] {
                b'1' => Arc::from(format!("{url}{id}")),
                b'0' => Arc::from(url.as_str()),
                _ => return None,
            };
            let age = (elapsed.as_nanos() as i128 - i128::from(born)).max(0);
            out.push(TaskView {
                id,
                phase,
                url: full,
                age: Duration::from_nanos(u64::try_from(age).unwrap_or(u64::MAX)),
                bytes: self.bytes[i],
            });
        }
        Some(out)
    }
}

/// The bytes `b` shares with `a` at its start, ending on a character.
fn shared_prefix(a: &str, b: &str) -> usize {
    let mut n = 0;
    for ((i, x), y) in a.char_indices().zip(b.chars()) {
        if x != y {
            return i;
        }
        n = i + x.len_utf8();
    }
    n
}

/// One frame of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The snapshot, its table and rolling lists left empty, as a patch of
    /// the frame before's (see [`diff`]).
    pub snap: Value,
    /// [`Snapshot::tasks`], its first [`TABLE_ROWS`].
    pub rows: Rows,
    /// [`Snapshot::history`].
    pub history: Tail<HistoryPoint>,
    /// [`Snapshot::seconds`].
    pub seconds: Tail<SecondStats>,
    /// The adaptive controller's changes.
    pub changes: Tail<LimitChange>,
    /// The `--abort-if` that stopped the run, in the first frame after it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<Abort>,
}

/// A frame as written: its numbers, but the table's, taken out into one
/// list, in the order a walk of the rest meets them, and 0 left in their
/// places. The rest is then the same from frame to frame (the same fields
/// change), which zstd stores as one match, and the numbers one run.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The frame but its table, each number 0.
    shape: Value,
    /// Its numbers.
    numbers: Vec<Value>,
    /// [`Frame::rows`] (numbers in columns already).
    rows: Rows,
}

/// Takes the numbers out of `v`, in walk order.
fn take_numbers(v: &mut Value, out: &mut Vec<Value>) {
    match v {
        Value::Number(_) => out.push(std::mem::replace(v, Value::from(0))),
        Value::Array(a) => a.iter_mut().for_each(|e| take_numbers(e, out)),
        Value::Object(o) => o.values_mut().for_each(|e| take_numbers(e, out)),
        _ => {}
    }
}

/// Puts numbers back where [`take_numbers`] took them; None when they do not fit.
fn put_numbers(v: &mut Value, numbers: &mut impl Iterator<Item = Value>) -> Option<()> {
    match v {
        Value::Number(_) => *v = numbers.next()?,
        Value::Array(a) => a.iter_mut().try_for_each(|e| put_numbers(e, numbers))?,
        Value::Object(o) => o.values_mut().try_for_each(|e| put_numbers(e, numbers))?,
        _ => {}
    }
    Some(())
}

impl Frame {
    /// The frame as a line of the file (without its newline).
    pub fn to_line(&self) -> serde_json::Result<String> {
        let mut shape = serde_json::to_value(self)?;
        let rows = match shape.as_object_mut().and_then(|o| o.remove("rows")) {
            Some(r) => serde_json::from_value(r)?,
            None => Rows::default(),
        };
        let mut numbers = Vec::new();
        take_numbers(&mut shape, &mut numbers);
        serde_json::to_string(&Wire {
            shape,
            numbers,
            rows,
        })
    }

    /// A frame read from a line of the file; None when it is not one.
    pub fn from_line(line: &str) -> Option<Frame> {
        let wire: Wire = serde_json::from_str(line).ok()?;
        let mut shape = wire.shape;
        let mut numbers = wire.numbers.into_iter();
        put_numbers(&mut shape, &mut numbers)?;
        if numbers.next().is_some() {
            return None;
        }
        shape
            .as_object_mut()?
            .insert("rows".into(), serde_json::to_value(wire.rows).ok()?);
        serde_json::from_value(shape).ok()
    }
}

/// The key of a patch that replaces an object whole (no field is named so).
const WHOLE: &str = "=";

/// The keys of a list's patch: the entries dropped at its front, the
/// entries then kept (when not all), the patches of those kept (by index),
/// and the entries appended.
const DROP: &str = "<";
const KEEP: &str = ">";
const PATCHES: &str = "~";
const APPEND: &str = "+";

/// The most entries a list's patch tries dropping at its front.
const DROP_MAX: usize = 32;

/// An integer as i128, when it is one.
fn integer(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(i128::from)
            .or_else(|| n.as_i64().map(i128::from)),
        _ => None,
    }
}

/// An i128 as JSON, when it fits one.
fn number(i: i128) -> Option<Value> {
    u64::try_from(i)
        .map(Value::from)
        .or_else(|_| i64::try_from(i).map(Value::from))
        .ok()
}

fn size(v: &Value) -> usize {
    serde_json::to_string(v).map_or(usize::MAX, |s| s.len())
}

/// What turns `old` into `new`, or None when they are equal:
/// - an object whose fields are the same: the fields that changed, each as
///   a patch;
/// - an integer that was one: the difference (counts grow by little);
/// - a list: the shorter of the list itself and `{"<": dropped, ">": kept,
///   "~": {index: patch}, "+": [appended]}`, the list less its first
///   entries (a rolling list), cut to a length, the rest patched by index,
///   with entries appended (each part but the first only when needed);
/// - anything else: the new value itself (an object, or an integer that
///   replaces an integer, as `{"=": value}`, so it is not read as a patch).
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    let wrapped = || Value::Object(Map::from_iter([(WHOLE.to_string(), new.clone())]));
    let whole = || match new {
        Value::Object(_) => wrapped(),
        _ => new.clone(),
    };
    Some(match (old, new) {
        (Value::Object(o), Value::Object(n))
            if o.len() == n.len()
                && !n.contains_key(WHOLE)
                && n.keys().all(|k| o.contains_key(k)) =>
        {
            Value::Object(
                n.iter()
                    .filter_map(|(k, v)| diff(&o[k], v).map(|d| (k.clone(), d)))
                    .collect(),
            )
        }
        (Value::Number(_), Value::Number(_)) => match (integer(old), integer(new)) {
            // An integer patch adds: one that does not fit replaces.
            (Some(a), Some(b)) => number(b - a).unwrap_or_else(wrapped),
            _ => whole(),
        },
        (Value::Array(o), Value::Array(n)) => {
            let mut best = new.clone();
            for drop in 0..=o.len().min(DROP_MAX) {
                let kept = &o[drop..];
                let m = kept.len().min(n.len());
                let mut p = Map::new();
                p.insert(DROP.into(), Value::from(drop));
                if kept.len() > m {
                    p.insert(KEEP.into(), Value::from(m));
                }
                let patches: Map<String, Value> = kept[..m]
                    .iter()
                    .zip(n)
                    .enumerate()
                    .filter_map(|(i, (a, b))| diff(a, b).map(|d| (i.to_string(), d)))
                    .collect();
                if !patches.is_empty() {
                    p.insert(PATCHES.into(), Value::Object(patches));
                }
                if n.len() > m {
                    p.insert(APPEND.into(), Value::Array(n[m..].to_vec()));
                }
                let p = Value::Object(p);
                if size(&p) < size(&best) {
                    best = p;
                }
            }
            best
        }
        _ => whole(),
    })
}

/// Applies a patch made by [`diff`]; None when it does not fit `value`.
pub fn patch(value: &mut Value, d: Value) -> Option<()> {
    if let (Some(a), Some(delta)) = (integer(value), integer(&d)) {
        *value = number(a + delta)?;
        return Some(());
    }
    let Value::Object(mut fields) = d else {
        *value = d;
        return Some(());
    };
    if fields.len() == 1
        && let Some(whole) = fields.remove(WHOLE)
    {
        *value = whole;
        return Some(());
    }
    match value {
        Value::Array(a) if fields.contains_key(DROP) => {
            let count = |v: Option<&Value>| usize::try_from(integer(v?)?).ok();
            let drop = count(fields.get(DROP))?;
            a.drain(..a.len().min(drop));
            if fields.contains_key(KEEP) {
                a.truncate(count(fields.get(KEEP))?);
            }
            if let Some(patches) = fields.remove(PATCHES) {
                let Value::Object(patches) = patches else {
                    return None;
                };
                for (k, v) in patches {
                    patch(a.get_mut(k.parse::<usize>().ok()?)?, v)?;
                }
            }
            if let Some(append) = fields.remove(APPEND) {
                let Value::Array(append) = append else {
                    return None;
                };
                a.extend(append);
            }
        }
        Value::Object(o) => {
            for (k, v) in fields {
                patch(o.get_mut(&k)?, v)?;
            }
        }
        _ => return None,
    }
    Some(())
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

/// The snapshot without its table and rolling lists, as JSON.
fn bare(snap: &Snapshot) -> serde_json::Result<Value> {
    let mut bare = snap.clone();
    bare.tasks = Vec::new();
    bare.history = Vec::new();
    bare.seconds = Vec::new();
    bare.adaptive.changes = Default::default();
    serde_json::to_value(&bare)
}

/// Makes the frames of a recording, each from the snapshot before.
#[derive(Default)]
pub struct Framer {
    before: Option<Snapshot>,
    bare: Value,
}

impl Framer {
    /// The frame for `snap`, the next snapshot recorded.
    pub fn frame(&mut self, snap: &Snapshot) -> serde_json::Result<Frame> {
        let empty = Snapshot::default();
        let before = self.before.as_ref().unwrap_or(&empty);
        let changes_before = before.adaptive.dropped + before.adaptive.changes.len() as u64;
        let changes_now = snap.adaptive.dropped + snap.adaptive.changes.len() as u64;
        let fresh = usize::try_from(changes_now.saturating_sub(changes_before)).unwrap_or(0);
        let changes = &snap.adaptive.changes;
        let bare = bare(snap)?;
        let frame = Frame {
            snap: diff(&self.bare, &bare).unwrap_or_else(|| Value::Object(Map::new())),
            rows: Rows::of(
                &snap.tasks[..snap.tasks.len().min(TABLE_ROWS)],
                snap.elapsed,
            ),
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
            aborted: None,
        };
        self.bare = bare;
        self.before = Some(snap.clone());
        Ok(frame)
    }
}

/// Rebuilds the snapshots of a recording, frame after frame.
#[derive(Default)]
pub struct Unframer {
    before: Option<Snapshot>,
    bare: Value,
}

impl Unframer {
    /// The snapshot `frame` stands for, the next one read; None when it
    /// does not follow the frames before (damage).
    pub fn snapshot(&mut self, frame: Frame) -> Option<Snapshot> {
        let mut bare = self.bare.clone();
        patch(&mut bare, frame.snap)?;
        let mut snap: Snapshot = serde_json::from_value(bare.clone()).ok()?;
        snap.tasks = frame.rows.views(snap.elapsed)?;
        let (mut history, mut seconds, mut changes) = match &self.before {
            Some(b) => (
                b.history.clone(),
                b.seconds.clone(),
                b.adaptive.changes.iter().cloned().collect::<Vec<_>>(),
            ),
            None => Default::default(),
        };
        rebuild(&mut history, &frame.history);
        rebuild(&mut seconds, &frame.seconds);
        rebuild(&mut changes, &frame.changes);
        snap.history = history;
        snap.seconds = seconds;
        snap.adaptive.changes = Arc::new(changes.into_iter().collect());
        self.bare = bare;
        self.before = Some(snap.clone());
        Some(snap)
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
        let (mut framer, mut unframer) = (Framer::default(), Unframer::default());
        for s in &snaps {
            let frame = framer.frame(s).unwrap();
            assert!(frame.history.new.len() <= 1, "{:?}", frame.history);
            assert!(frame.changes.new.len() <= 1);
            let line = frame.to_line().unwrap();
            let back = Frame::from_line(&line).unwrap();
            assert_eq!(back, frame);
            let rebuilt = unframer.snapshot(back).unwrap();
            assert_eq!(&rebuilt, s);
        }
    }

    fn task(id: u64, phase: Phase, url: &str, age_ms: u64, bytes: u64) -> TaskView {
        TaskView {
            id,
            phase,
            url: url.into(),
            age: Duration::from_nanos(age_ms * 1_000_003),
            bytes,
        }
    }

    #[test]
    fn a_frame_keeps_the_first_rows_and_what_changed() {
        let mut a = snap(3, 4);
        a.tasks = (0..100)
            .map(|i| {
                let url = format!("http://h/items/{}", 900 - i * 7);
                task(
                    900 - i * 7,
                    Phase::ALL[i as usize % 5],
                    &url,
                    3000 - i * 3,
                    i * 11,
                )
            })
            .collect();
        // Unusual URLs: shorter, sharing a character that is several bytes.
        a.tasks[1].url = "http://h/é".into();
        a.tasks[2].url = "http://h/ê/x".into();
        a.tasks[3].url = "".into();
        // Ending with its id, and with a longer number that ends like it.
        a.tasks[4].url = format!("http://h/x{}", a.tasks[4].id).into();
        a.tasks[5].url = format!("http://h/x1{}", a.tasks[5].id).into();
        a.tasks[6].url = a.tasks[6].id.to_string().into();
        let mut b = a.clone();
        b.elapsed += Duration::from_millis(200);
        b.counts.done += 5;
        b.tasks.remove(0);
        b.tasks[4].phase = Phase::Receiving;
        b.tasks[4].bytes = 12_345;
        let (mut framer, mut unframer) = (Framer::default(), Unframer::default());
        for s in [&a, &b] {
            let frame = framer.frame(s).unwrap();
            assert_eq!(frame.rows.id.len(), TABLE_ROWS);
            let got = unframer
                .snapshot(Frame::from_line(&frame.to_line().unwrap()).unwrap())
                .unwrap();
            let mut want = s.clone();
            want.tasks.truncate(TABLE_ROWS);
            assert_eq!(got, want);
        }
        // The second frame's snapshot holds only what changed.
        let frame = Framer::default().frame(&a).unwrap();
        assert!(frame.snap.get(WHOLE).is_some());
        let mut framer = Framer::default();
        framer.frame(&a).unwrap();
        let patch = framer.frame(&b).unwrap().snap;
        let keys: Vec<&String> = patch.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["counts", "elapsed"], "{patch}");
        // A count as what it grew by.
        assert_eq!(patch["counts"], serde_json::json!({"done": 5}));
        // A rolling list as what it dropped and what it appended.
        let (mut c, mut d) = (a.clone(), a.clone());
        c.executor.lag_history_us = (0..120).collect();
        d.executor.lag_history_us = (2..122).collect();
        let mut framer = Framer::default();
        framer.frame(&c).unwrap();
        let patch = framer.frame(&d).unwrap().snap;
        assert_eq!(
            patch["executor"]["lag_history_us"],
            serde_json::json!({"<": 2, "+": [120, 121]})
        );
        d.executor.lag_history_us[5] = 5;
        let patch = framer.frame(&d).unwrap().snap;
        assert_eq!(
            patch["executor"]["lag_history_us"],
            serde_json::json!({"<": 0, "~": {"5": -2}})
        );
    }

    #[test]
    fn patches_rebuild_any_change_of_shape() {
        use serde_json::json;
        let values = [
            json!(null),
            json!({"a": 1, "b": [1, 2, 3], "c": {"d": null}}),
            json!({"a": 1, "b": [1, 2, 4], "c": {"d": {"e": 1}}}),
            json!({"a": 2, "b": [1, 2], "c": {"d": {"=": 1}}}),
            json!({"a": 2, "b": [5, 6, 7, 8, 9, 10], "c": null}),
            json!({"x": [{"y": 1}, {"y": 2}]}),
            json!({"x": [{"y": 1}, {"y": 3}]}),
            json!([1, {"z": 1}]),
            json!({"0": 1}),
            json!({"=": 1}),
            json!({"=": 2}),
            json!(1.5),
            json!(-3),
            json!(u64::MAX),
            json!(i64::MIN),
            json!([1, 2, 3, 4, 5]),
            json!([3, 4, 5, 6]),
            json!([5, 6, 7, 8, 9, 10, 11]),
            json!([[1, 2], [3, 4]]),
            json!([[1, 2], [3, 5]]),
            json!([[1, 2], [3, 5], [6]]),
            json!([[0], [1, 2], [3, 5]]),
            json!([{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]),
            json!([{"a": 2}, {"a": 3}, {"a": 4, "b": 1}]),
            json!(["s"]),
            json!({}),
        ];
        for old in &values {
            for new in &values {
                let mut v = old.clone();
                match diff(old, new) {
                    Some(d) => patch(&mut v, d).unwrap(),
                    None => assert_eq!(old, new),
                }
                assert_eq!(&v, new, "{old} -> {new}");
            }
        }
    }

    #[test]
    fn a_frame_that_does_not_fit_is_refused() {
        let mut framer = Framer::default();
        let first = framer.frame(&snap(1, 4)).unwrap();
        let second = framer.frame(&snap(2, 4)).unwrap();
        // The second frame without the first: its patch has nothing to patch.
        assert!(Unframer::default().snapshot(second).is_none());
        let mut bad = first.clone();
        bad.rows.phase.push('0');
        assert!(Unframer::default().snapshot(bad).is_none());
    }

    /// A row's fields are the ones [`Rows`] carries: a new field of
    /// [`TaskView`] would be lost in a recording, so it must be added there.
    #[test]
    fn the_rows_carry_every_field_of_a_task() {
        let t = task(1, Phase::Waiting, "u", 1, 1);
        let v = serde_json::to_value(&t).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["age", "bytes", "id", "phase", "url"]);
    }
}
