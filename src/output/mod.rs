//! What a run leaves behind: the JSONL file, the progress line and the summary.

pub mod file;
pub mod job;
pub mod jsonl;
pub mod progress;
pub mod resume;
pub mod summary;
pub mod timeseries;

pub use jsonl::JsonlWriter;
pub use summary::Summary;
