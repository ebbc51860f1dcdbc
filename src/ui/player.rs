//! The replay's player: where on a recording's timeline it is, how fast it
//! plays, and the snapshot to draw there. Pure apart from reading the file:
//! no terminal, so the tests drive it directly.
//!
//! Memory stays constant however long the recording: the player holds the
//! frame on screen and the one after it; going back reads the file again
//! from its start (a frame is a few kilobytes, so this is quick).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::recording::{Header, Reader};
use crate::snapshot::Snapshot;

/// How far one seek key moves.
pub const SEEK_STEP: Duration = Duration::from_secs(10);

/// The slowest and fastest speeds.
const SPEEDS: (f64, f64) = (0.125, 64.0);

/// A recording being played.
pub struct Player {
    path: PathBuf,
    reader: Reader,
    /// The recording's header.
    pub header: Header,
    shown: Snapshot,
    index: usize,
    next: Option<Snapshot>,
    /// The position on the recording's timeline (its elapsed times).
    pub position: Duration,
    /// Timeline seconds per wall-clock second.
    pub speed: f64,
    /// Playing, rather than paused.
    pub playing: bool,
    /// The recording's length, and whether it was cut short (a crash).
    length: Duration,
    frames: usize,
    cut: bool,
}

/// What a quick pass over the file found: how many frames, how long, cut short.
fn survey(path: &Path) -> Result<(usize, Duration, bool), String> {
    let mut reader = Reader::open(path)?;
    let (mut frames, mut length) = (0, Duration::ZERO);
    while let Some(s) = reader.next_snapshot() {
        frames += 1;
        length = s.elapsed;
    }
    Ok((frames, length, reader.cut))
}

/// A reader at the first frame of a recording: the frame, and the one after.
fn start(path: &Path) -> Result<(Reader, Snapshot, Option<Snapshot>), String> {
    let mut reader = Reader::open(path)?;
    let Some(first) = reader.next_snapshot() else {
        return Err(format!(
            "{} holds no whole frame (it was cut before its first)",
            path.display()
        ));
    };
    let next = reader.next_snapshot();
    Ok((reader, first, next))
}

impl Player {
    /// Opens a recording at its first frame, paused.
    pub fn open(path: &Path) -> Result<Player, String> {
        let (frames, length, cut) = survey(path)?;
        let (reader, shown, next) = start(path)?;
        Ok(Player {
            path: path.to_owned(),
            header: reader.header.clone(),
            reader,
            position: shown.elapsed,
            shown,
            index: 0,
            next,
            speed: 1.0,
            playing: false,
            length,
            frames,
            cut,
        })
    }

    /// The snapshot at the current position.
    pub fn snapshot(&self) -> &Snapshot {
        &self.shown
    }

    /// The frame on screen, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Frames in the recording.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The recording ended inside a frame (a crash or a kill): every whole
    /// frame before it plays.
    pub fn cut(&self) -> bool {
        self.cut
    }

    /// The last frame's time.
    pub fn length(&self) -> Duration {
        self.length
    }

    fn forward(&mut self) -> bool {
        match self.next.take() {
            Some(s) => {
                self.shown = s;
                self.index += 1;
                self.next = self.reader.next_snapshot();
                true
            }
            None => false,
        }
    }

    fn rewind(&mut self) -> Result<(), String> {
        let (reader, shown, next) = start(&self.path)?;
        self.reader = reader;
        self.position = shown.elapsed;
        self.shown = shown;
        self.next = next;
        self.index = 0;
        Ok(())
    }

    /// Moves the frame on screen forward to the position.
    fn catch_up(&mut self) {
        while self
            .next
            .as_ref()
            .is_some_and(|n| n.elapsed <= self.position)
        {
            self.forward();
        }
        if self.next.is_none() && self.position >= self.shown.elapsed {
            // The end: stay on the last frame, paused.
            self.position = self.shown.elapsed;
            self.playing = false;
        }
    }

    /// Lets `wall` of real time pass (while playing).
    pub fn advance(&mut self, wall: Duration) {
        if self.playing {
            self.position += wall.mul_f64(self.speed);
            self.catch_up();
        }
    }

    /// Plays, or pauses; at the end, plays again from the start.
    pub fn play_pause(&mut self) -> Result<(), String> {
        if !self.playing && self.next.is_none() {
            self.rewind()?;
        }
        self.playing = !self.playing;
        Ok(())
    }

    /// Shows the frame after this one, paused.
    pub fn step_forward(&mut self) {
        self.playing = false;
        self.forward();
        self.position = self.shown.elapsed;
    }

    /// Shows the frame before this one, paused.
    pub fn step_back(&mut self) -> Result<(), String> {
        let want = self.index.saturating_sub(1);
        self.playing = false;
        self.rewind()?;
        while self.index < want && self.forward() {}
        self.position = self.shown.elapsed;
        Ok(())
    }

    /// Goes to `t` on the timeline (clamped to the recording), keeping
    /// play or pause.
    pub fn seek(&mut self, t: Duration) -> Result<(), String> {
        let playing = self.playing;
        if t < self.shown.elapsed {
            self.rewind()?;
        }
        self.position = t.max(self.shown.elapsed);
        self.catch_up();
        self.playing = playing && self.next.is_some();
        Ok(())
    }

    /// Seeks by `by` seconds back (negative) or on.
    pub fn seek_by(&mut self, back: bool) -> Result<(), String> {
        let t = if back {
            self.position.saturating_sub(SEEK_STEP)
        } else {
            self.position + SEEK_STEP
        };
        self.seek(t)
    }

    /// Doubles the speed (`faster`) or halves it, within bounds.
    pub fn change_speed(&mut self, faster: bool) {
        let s = if faster {
            self.speed * 2.0
        } else {
            self.speed / 2.0
        };
        self.speed = s.clamp(SPEEDS.0, SPEEDS.1);
    }

    /// The player in words, for the footer: "replay ▶ 2× 00:12 / 01:03".
    pub fn status(&self, unicode: bool) -> String {
        let mark = match (self.playing, unicode) {
            (true, true) => "▶",
            (false, true) => "⏸",
            (true, false) => ">",
            (false, false) => "||",
        };
        let speed = if self.speed >= 1.0 {
            format!("{}×", self.speed)
        } else {
            format!("1/{}×", (1.0 / self.speed).round())
        };
        let speed = if unicode {
            speed
        } else {
            speed.replace('×', "x")
        };
        let clock = |d: Duration| {
            let s = d.as_secs();
            format!("{:02}:{:02}", s / 60, s % 60)
        };
        let cut = if self.cut { " (cut short)" } else { "" };
        format!(
            "replay {mark} {speed} {} / {}{cut}",
            clock(self.position),
            clock(self.length)
        )
    }
}
