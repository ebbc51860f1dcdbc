//! Execution models: how the dispatcher starts an item once it is admitted.
//!
//! - `async`: one tokio task per item (the default, and fetchtop's point).
//! - `threads`: one OS thread per item with a blocking client, up to a cap.
//! - `sequential`: one item at a time, whatever the limit says.
//!
//! Every model produces the same [`Record`] through the same completion, so
//! the model can change mid-run without losing or repeating an item.

pub mod sequential;
pub mod threads;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;

use super::blocking::{Plan, WorkCounter};
use super::http::RequestOptions;
use super::record::Record;
use super::task::{self, FetchContext, TaskSpec};

pub use crate::vocab::model::Model;

/// Starts admitted items under whichever model is current.
pub(crate) struct Runner {
    threads: threads::Threads,
    blocked: WorkCounter,
}

impl Runner {
    /// Prepares every model (the threads model's blocking client included).
    pub(crate) fn new(options: &RequestOptions, thread_cap: u64) -> Result<Runner> {
        Ok(Runner {
            threads: threads::Threads::new(options, thread_cap)?,
            blocked: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many of the `room` items the limit allows may start now under
    /// `model` (the threads model has a cap on live threads of its own).
    pub(crate) fn room(&self, model: Model, room: u64) -> u64 {
        match model {
            Model::Async | Model::Sequential => room,
            Model::Threads => self.threads.room(room),
        }
    }

    /// Runs one item under `model`; `done` gets its record exactly once
    /// (or is dropped if the item's runner died, which the caller handles).
    pub(crate) fn start(
        &self,
        model: Model,
        ctx: Arc<FetchContext>,
        spec: TaskSpec,
        plan: Option<Plan>,
        done: impl FnOnce(Record) + Send + 'static,
    ) {
        match model {
            Model::Threads => self
                .threads
                .start(spec, plan, Arc::clone(&self.blocked), done),
            Model::Async | Model::Sequential => {
                let blocked = Arc::clone(&self.blocked);
                tokio::spawn(async move {
                    let record = task::run(ctx, spec).await;
                    if let Some(plan) = plan {
                        plan.perform_async(&blocked).await;
                    }
                    done(record);
                });
            }
        }
    }

    /// OS threads the threads model has running now.
    pub(crate) fn item_threads(&self) -> u64 {
        self.threads.live()
    }

    /// The threads model's cap.
    pub(crate) fn thread_cap(&self) -> u64 {
        self.threads.cap()
    }

    /// Items that have done their blocking work.
    pub(crate) fn blocked_items(&self) -> u64 {
        self.blocked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse_print_and_cycle() {
        for m in Model::ALL {
            assert_eq!(m.as_str().parse::<Model>(), Ok(m));
        }
        assert_eq!("THREADS".parse::<Model>(), Ok(Model::Threads));
        assert!("fibers".parse::<Model>().is_err());
        assert_eq!(Model::Async.next().next().next(), Model::Async);
    }
}
