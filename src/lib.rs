//! fetchtop: watch thousands of concurrent HTTP fetches live.
//!
//! The crate is laid out along the data flow:
//! - [`engine`] (the `fetchtop-engine` crate): sources, shards with an event
//!   loop each, the control plane, one tokio task per item, statistics. It
//!   knows nothing of any UI.
//! - [`snapshot`]: the plain data the engine publishes for readers.
//! - [`headless`] and [`ui`] (the dashboard, with [`app`] and [`keymap`]):
//!   readers of snapshots and senders of commands.
//! - [`output`]: the JSONL writer, the progress line and the summary.
//! - [`demo`]: the built-in demo API.
//! - [`cli`] and [`launch`]: the command line, and wiring it to the parts above.

pub mod app;
pub mod cli;
pub mod demo;
pub mod format;
pub mod headless;
pub mod hooks;
pub mod interrupt;
pub mod keymap;
pub mod launch;
pub mod logging;
pub mod manual;
pub mod merge;
pub mod output;
pub mod recording;
pub mod redact;
pub mod remote;
pub mod report;
pub mod thresholds;
pub mod ui;

/// The engine, its own crate: everything that runs a fetch.
pub use fetchtop_engine as engine;
pub use fetchtop_engine::{deadline, snapshot, sys};
