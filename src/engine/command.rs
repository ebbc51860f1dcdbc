//! What readers may ask of a running engine.

/// A request from the dashboard, the headless runner or a test to the engine.
/// Sent through the engine's `mpsc` command channel; the engine applies each
/// one before it next admits an item.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    /// Set the concurrency limit. Lowering it cancels nothing: no new item
    /// starts until in-flight falls below the new limit. 0 pauses.
    SetConcurrency(u64),
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
}
