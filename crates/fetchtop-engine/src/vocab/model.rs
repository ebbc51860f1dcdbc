//! The names of the execution models: how items are run. Plain data, so
//! the snapshot can say which model runs without importing the runners.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How items are run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// One tokio task per item.
    #[default]
    Async,
    /// One OS thread per item in flight, with a blocking HTTP client.
    Threads,
    /// One item at a time.
    Sequential,
}

impl Model {
    /// Every model, in the order `m` cycles through them.
    pub const ALL: [Model; 3] = [Model::Async, Model::Threads, Model::Sequential];

    /// The most items in flight at once under this model, across every
    /// shard, whatever the limit (the limit still applies below it).
    pub fn in_flight_cap(self) -> u64 {
        match self {
            Model::Sequential => crate::model::sequential::IN_FLIGHT,
            Model::Async | Model::Threads => u64::MAX,
        }
    }

    /// Lower-case name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Async => "async",
            Model::Threads => "threads",
            Model::Sequential => "sequential",
        }
    }

    /// The model after this one.
    pub fn next(self) -> Model {
        match self {
            Model::Async => Model::Threads,
            Model::Threads => Model::Sequential,
            Model::Sequential => Model::Async,
        }
    }
}

impl FromStr for Model {
    type Err = String;

    fn from_str(s: &str) -> Result<Model, String> {
        crate::text::by_name(&Model::ALL, Model::as_str, "model", s)
    }
}
