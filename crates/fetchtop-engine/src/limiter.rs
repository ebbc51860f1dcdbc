//! The concurrency limit as the user set it: the number, the pause, and what
//! a resume comes back to. The control plane owns it and writes the
//! effective limit (0 while paused) into the shards' shared admission.

/// The limit and the pause flag. Pure bookkeeping: no locks, no async.
#[derive(Clone, Debug)]
pub struct Limiter {
    limit: u64,
    last_nonzero: u64,
    paused: bool,
}

impl Limiter {
    /// A limiter allowing `limit` items in flight (0 starts paused).
    pub fn new(limit: u64) -> Limiter {
        Limiter {
            limit,
            last_nonzero: limit,
            paused: false,
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

    /// The limit in force: 0 while paused.
    pub fn effective(&self) -> u64 {
        if self.is_paused() { 0 } else { self.limit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_and_zero_limit() {
        let mut l = Limiter::new(4);
        l.pause();
        assert!(l.is_paused());
        assert_eq!(l.effective(), 0);
        assert_eq!(l.limit(), 4);
        l.resume();
        assert_eq!(l.effective(), 4);

        let mut z = Limiter::new(0);
        assert!(z.is_paused());
        assert_eq!(z.effective(), 0);
        z.resume();
        assert_eq!(z.limit(), 1);
        z.set_limit(8);
        z.set_limit(0);
        z.resume();
        assert_eq!(z.limit(), 8);
    }
}
