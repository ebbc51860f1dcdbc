//! The built-in demo API, so fetchtop can be tried and tested with no network.

mod catalogue;
mod latency;
mod listener;
pub mod scenario;
pub mod server;

pub use server::{DemoServer, ServerConfig, ServerStats};
