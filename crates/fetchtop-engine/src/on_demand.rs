//! How many shards run: as many as pay. The control plane asks
//! [`OnDemand::decide`] every tick, and starts or parks shards to match.

use std::time::{Duration, Instant};

/// When the control plane looks again at how many shards should run.
const ON_DEMAND_EVERY: Duration = Duration::from_millis(500);
/// A shard this busy (fraction of its thread's time) is saturated.
const SATURATED: f64 = 0.85;
/// A second event loop must find at least this much of a CPU idle.
const IDLE_CPU_NEEDED: f64 = 0.6;
/// Fewer shards take over when they would be at most this busy.
const RELAXED: f64 = 0.6;

/// Runs as many shards as pay: one more when every running shard is
/// saturated and the machine has a CPU idle for it; one fewer when the rest
/// could carry the load comfortably. A shard that cannot find a CPU of its
/// own only adds wake-ups and smaller batches (measured: two shards beside
/// a server on the same two cores went 25% slower than one).
pub(crate) struct OnDemand {
    mark: Option<(Instant, crate::sys::CpuTimes)>,
}

impl OnDemand {
    /// A controller that has not looked yet.
    pub(crate) fn new() -> OnDemand {
        OnDemand { mark: None }
    }

    /// The number of shards to run, given how busy the running ones are.
    pub(crate) fn decide(&mut self, active: usize, shards: usize, busy: &[f64]) -> usize {
        let now = Instant::now();
        let Some(times) = crate::sys::cpu_times() else {
            // Nothing tells whether a core is free: run them all.
            return shards;
        };
        let idle = match self.mark {
            Some((at, _)) if now.saturating_duration_since(at) < ON_DEMAND_EVERY => return active,
            Some((_, before)) => times.idle_cpus_since(&before),
            None => None,
        };
        self.mark = Some((now, times));
        let (Some(idle), false) = (idle, busy.is_empty()) else {
            return active;
        };
        next_active(active, shards, busy, idle)
    }
}

/// The rule of [`OnDemand`], pure.
fn next_active(active: usize, shards: usize, busy: &[f64], idle_cpus: f64) -> usize {
    let all_saturated = busy.iter().all(|&b| b >= SATURATED);
    let load: f64 = busy.iter().sum();
    if active < shards && all_saturated && idle_cpus >= IDLE_CPU_NEEDED {
        active + 1
    } else if active > 1 && load <= (active - 1) as f64 * RELAXED {
        active - 1
    } else {
        active
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_added_only_when_saturated_with_a_cpu_free() {
        // Saturated, a CPU free: one more.
        assert_eq!(next_active(1, 4, &[0.95], 1.0), 2);
        // Saturated, but the machine is full (a server on the other core).
        assert_eq!(next_active(1, 4, &[0.95], 0.1), 1);
        // Not saturated: nothing to gain.
        assert_eq!(next_active(1, 4, &[0.5], 1.0), 1);
        // One of two saturated is not enough.
        assert_eq!(next_active(2, 4, &[0.95, 0.5], 2.0), 2);
        // All there are already run.
        assert_eq!(next_active(4, 4, &[1.0; 4], 3.0), 4);
    }

    #[test]
    fn shards_are_let_go_when_the_rest_can_carry_the_load() {
        assert_eq!(next_active(2, 2, &[0.25, 0.25], 1.5), 1);
        // Two half-busy shards would saturate one: keep both (no flapping).
        assert_eq!(next_active(2, 2, &[0.5, 0.5], 1.0), 2);
        assert_eq!(next_active(1, 2, &[0.0], 2.0), 1, "never below one");
    }
}
