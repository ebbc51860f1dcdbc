//! An OS thread with an event loop of its own: what every shard and the
//! control plane run on.

use std::future::Future;
use std::io;
use std::thread::JoinHandle;
use std::time::Duration;

/// Starts a thread named `name` that runs `run(state)` to its end on a
/// current-thread tokio runtime of its own; if the OS refuses the runtime,
/// `failed(state, error)` runs instead, so the caller can say so and nobody
/// waits for a loop that never started.
pub(crate) fn spawn<S, F, Fut>(
    name: String,
    state: S,
    run: F,
    failed: fn(S, &io::Error),
) -> io::Result<JoinHandle<()>>
where
    S: Send + 'static,
    F: FnOnce(S) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::Builder::new().name(name).spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                runtime.block_on(run(state));
                // Tasks still winding down (a cancelled item's thread, a
                // list reader blocked on stdin) must not hold the end.
                runtime.shutdown_timeout(Duration::from_millis(100));
            }
            Err(e) => failed(state, &e),
        }
    })
}
