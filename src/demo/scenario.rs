//! Demo scenarios: each sets up the demo API (and, for `blocking`, the
//! engine's blocking work) to show one idea about concurrency.

use std::time::Duration;

/// What a demo run shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The plain job: 5-150 ms heavy-tailed latency, 1% errors.
    #[default]
    Items,
    /// As items, and every 10th item blocks its worker for 50 ms (`b` and `y` switch it).
    Blocking,
    /// Mostly quick answers with a long tail up to 5 s.
    SlowTail,
    /// Errors and 429s: 10% answered 500/503, 10% 429 Too Many Requests.
    Flaky,
    /// A server of known capacity: 32 slots (`--slots`) of 50 ms each, a
    /// queue twice as long, 429 beyond it. The best limit is the slot count.
    Capacity,
}

/// Slots of the capacity scenario unless `--slots` says otherwise.
pub const DEFAULT_SLOTS: usize = 32;
/// How long a capacity scenario's slot serves one request.
pub const SLOT_SERVICE: Duration = Duration::from_millis(50);

/// How the demo API and the engine are set up for a scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    /// Server latency range.
    pub latency: (Duration, Duration),
    /// Fraction answered 500 or 503.
    pub error_rate: f64,
    /// Fraction answered 429.
    pub throttle_rate: f64,
    /// Blocking work is on from the start.
    pub blocking: bool,
    /// The server has this many slots (and a queue twice as long).
    pub slots: Option<usize>,
}

impl Scenario {
    /// The scenario's settings; `--latency` and `--error-rate` override them.
    pub fn preset(self) -> Preset {
        let ms = Duration::from_millis;
        let items = Preset {
            latency: (ms(5), ms(150)),
            error_rate: 0.01,
            throttle_rate: 0.0,
            blocking: false,
            slots: None,
        };
        match self {
            Scenario::Items => items,
            Scenario::Blocking => Preset {
                blocking: true,
                ..items
            },
            Scenario::SlowTail => Preset {
                latency: (ms(10), ms(5000)),
                error_rate: 0.0,
                ..items
            },
            Scenario::Flaky => Preset {
                error_rate: 0.10,
                throttle_rate: 0.10,
                ..items
            },
            // A fixed service time, so only queueing moves the latency.
            Scenario::Capacity => Preset {
                latency: (SLOT_SERVICE, SLOT_SERVICE),
                error_rate: 0.0,
                slots: Some(DEFAULT_SLOTS),
                ..items
            },
        }
    }

    /// Name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Items => "items",
            Scenario::Blocking => "blocking",
            Scenario::SlowTail => "slow-tail",
            Scenario::Flaky => "flaky",
            Scenario::Capacity => "capacity",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scenario_differs_from_items_where_it_says() {
        let items = Scenario::Items.preset();
        assert!(Scenario::Blocking.preset().blocking && !items.blocking);
        assert!(Scenario::SlowTail.preset().latency.1 >= Duration::from_secs(2));
        let flaky = Scenario::Flaky.preset();
        assert!(flaky.throttle_rate > 0.0 && flaky.error_rate > items.error_rate);
        let cap = Scenario::Capacity.preset();
        assert_eq!(cap.slots, Some(DEFAULT_SLOTS));
        assert_eq!(cap.latency.0, cap.latency.1, "a fixed service time");
    }
}
