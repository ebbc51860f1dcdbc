//! The vocabulary: plain data that every part of the engine and every
//! reader shares: what an item is and how it ended ([`record`]), what a
//! reader may ask ([`command`]), what a reader sees ([`snapshot`]) and the order of its in-flight table
//! ([`table`]), and the
//! names of the execution models ([`model`]). Nothing here imports the
//! modules that run a fetch; they import this.

pub mod command;
pub mod model;
pub mod record;
pub mod snapshot;
pub mod table;
