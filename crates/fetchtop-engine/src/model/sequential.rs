//! The sequential model: one item at a time. It runs each item as an async
//! task like the default model, but admits the next one only when nothing
//! is in flight, so throughput is one over the latency (Little's law with
//! one in flight).
//!
//! The rule is the admission's own cap ([`super::Model::in_flight_cap`]),
//! one count shared by every shard: items another model left in flight
//! finish before the first sequential one starts, and two shards can never
//! start one each.

/// In flight at once under the sequential model, across all shards.
pub const IN_FLIGHT: u64 = 1;
