//! The built-in demo API, so fetchtop can be tried and tested with no network.

mod bodies;
pub mod capacity;
mod catalogue;
pub mod faults;
mod latency;
mod listener;
pub mod scenario;
pub mod server;

pub use capacity::Capacity;
pub use faults::FaultServer;
pub use server::{DemoServer, ServerConfig, ServerStats};
