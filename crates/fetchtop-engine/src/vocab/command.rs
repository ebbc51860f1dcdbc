//! What readers may ask of a running engine.

use super::model::Model;
use super::table::TableOrder;

/// A request from the dashboard, the headless runner or a test to the engine.
/// Sent through the engine's `mpsc` command channel; the engine applies each
/// one before it next admits an item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    /// Set the concurrency limit. Lowering it cancels nothing: no new item
    /// starts until in-flight falls below the new limit. 0 pauses. A limit
    /// set by hand turns `--adaptive` off.
    SetConcurrency(u64),
    /// Let the engine move the limit itself (`--adaptive`), or stop it.
    SetAdaptive(bool),
    /// Set the most items started per second (clamped to the accepted
    /// range). The send schedule starts again from now.
    SetRate(f64),
    /// Cancel one task in flight, by id (the item's seq).
    CancelTask(u64),
    /// Cancel every task in flight now; the run goes on with the next items.
    CancelAll,
    /// Admit nothing until resumed; in-flight requests carry on.
    Pause,
    /// Admit again after a pause.
    Resume,
    /// Admit nothing more and finish once in-flight requests end.
    Stop,
    /// Admit nothing more and cancel everything in flight.
    Abort,
    /// Run the items still to come under this model; items in flight finish
    /// under the one they started with.
    SetModel(Model),
    /// Demo runs: turn the blocking work on or off for items still to come.
    SetBlocking(bool),
    /// Demo runs: do the blocking work through `spawn_blocking` (true) or
    /// inside the task (false), for items still to come.
    SetOffload(bool),
    /// List the in-flight requests in this order: each snapshot carries the
    /// first rows of it among everything in flight.
    SetTableOrder(TableOrder),
}
