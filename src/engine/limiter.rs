//! The live concurrency limit: how many more items may start right now.

/// Tracks the limit, the pause flag and the in-flight count.
///
/// Pure bookkeeping, owned by the dispatcher: no locks, no async. Lowering
/// the limit never cancels anything; it only withholds room until enough
/// in-flight items have ended.
#[derive(Clone, Debug)]
pub struct Limiter {
    limit: u64,
    last_nonzero: u64,
    paused: bool,
    in_flight: u64,
}

impl Limiter {
    /// A limiter allowing `limit` items in flight (0 starts paused).
    pub fn new(limit: u64) -> Limiter {
        Limiter {
            limit,
            last_nonzero: limit,
            paused: false,
            in_flight: 0,
        }
    }

    /// Sets the limit; 0 pauses admission.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
        if limit > 0 {
            self.last_nonzero = limit;
        }
    }

    /// Stops admission without forgetting the limit.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Admits again; a limit of 0 comes back as the last non-zero limit (at least 1).
    pub fn resume(&mut self) {
        self.paused = false;
        if self.limit == 0 {
            self.limit = self.last_nonzero.max(1);
        }
    }

    /// The limit as set, kept while paused.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// True while nothing may start because of a pause or a limit of 0.
    pub fn is_paused(&self) -> bool {
        self.paused || self.limit == 0
    }

    /// Items in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// How many more items may start now.
    pub fn room(&self) -> u64 {
        if self.paused {
            0
        } else {
            self.limit.saturating_sub(self.in_flight)
        }
    }

    /// Counts one item started.
    pub fn started(&mut self) {
        self.in_flight += 1;
    }

    /// Counts one item ended.
    pub fn ended(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(l: &mut Limiter) -> u64 {
        let n = l.room();
        for _ in 0..n {
            l.started();
        }
        n
    }

    #[test]
    fn lowering_the_limit_withholds_room_until_drained() {
        let mut l = Limiter::new(10);
        assert_eq!(fill(&mut l), 10);
        l.set_limit(3);
        assert_eq!(l.room(), 0);
        for _ in 0..7 {
            l.ended();
            assert_eq!(l.room(), 0, "in flight {}", l.in_flight());
        }
        l.ended();
        assert_eq!(l.room(), 1);
    }

    #[test]
    fn raising_the_limit_gives_room_at_once() {
        let mut l = Limiter::new(5);
        fill(&mut l);
        l.set_limit(50);
        assert_eq!(l.room(), 45);
    }

    #[test]
    fn pause_and_zero_limit() {
        let mut l = Limiter::new(4);
        l.pause();
        assert!(l.is_paused());
        assert_eq!(l.room(), 0);
        assert_eq!(l.limit(), 4);
        l.resume();
        assert_eq!(l.room(), 4);

        let mut z = Limiter::new(0);
        assert!(z.is_paused());
        assert_eq!(z.room(), 0);
        z.resume();
        assert_eq!(z.limit(), 1);
        z.set_limit(8);
        z.set_limit(0);
        z.resume();
        assert_eq!(z.limit(), 8);
    }
}
