//! How often the dashboard drew: the figure that says whether the screen
//! keeps up (the benchmark suite reads it from the summary).

use std::time::{Duration, Instant};

use crate::output::summary::FrameStats;

/// Counts frames and the longest gap between two of them.
#[derive(Debug, Default)]
pub struct FrameClock {
    frames: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    longest_gap: Duration,
    slowest_answer: Option<Duration>,
}

impl FrameClock {
    /// Notes a frame drawn at `now`.
    pub fn drawn(&mut self, now: Instant) {
        if let Some(last) = self.last {
            self.longest_gap = self.longest_gap.max(now.saturating_duration_since(last));
        }
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.frames += 1;
    }

    /// Notes a frame that showed the engine's answer to a key, `took` after the key.
    pub fn answered(&mut self, took: Duration) {
        self.slowest_answer = Some(self.slowest_answer.map_or(took, |s| s.max(took)));
    }

    /// What the clock saw.
    pub fn stats(&self) -> FrameStats {
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        FrameStats {
            frames: self.frames,
            fps: if span > 0.0 {
                (self.frames.saturating_sub(1)) as f64 / span
            } else {
                0.0
            },
            longest_gap_ms: self.longest_gap.as_secs_f64() * 1000.0,
            key_to_screen_ms_max: self.slowest_answer.map(|d| d.as_secs_f64() * 1000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_longest_gap() {
        let t0 = Instant::now();
        let mut c = FrameClock::default();
        assert_eq!(c.stats().frames, 0);
        for ms in [0, 40, 80, 200, 240] {
            c.drawn(t0 + Duration::from_millis(ms));
        }
        let s = c.stats();
        assert_eq!(s.frames, 5);
        assert!((s.fps - 4.0 / 0.24).abs() < 1e-6, "{}", s.fps);
        assert!((s.longest_gap_ms - 120.0).abs() < 1e-6);
        assert_eq!(s.key_to_screen_ms_max, None);
        c.answered(Duration::from_millis(3));
        c.answered(Duration::from_millis(2));
        assert_eq!(c.stats().key_to_screen_ms_max, Some(3.0));
    }
}
