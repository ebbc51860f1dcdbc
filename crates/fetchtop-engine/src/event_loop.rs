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
    nice: i32,
) -> io::Result<JoinHandle<()>>
where
    S: Send + 'static,
    F: FnOnce(S) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::Builder::new().name(name).spawn(move || {
        lower_priority(nice);
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

/// How much lower than the rest of the process a shard runs (nice steps).
/// The load is the shards' job, and when the machine is full (a server on
/// the same cores, 18,000 connections closing) the control plane and the
/// dashboard must still get the CPU for snapshots, keys and frames: they
/// need little of it, and with equal priority they queued behind the
/// shards (24.9 frames/s at 18,000 in flight).
pub(crate) const SHARD_NICE: i32 = 3;

/// Lowers this thread's priority by `nice` steps (0: leaves it). Best
/// effort: where it is refused the thread runs at the process's priority.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: getpriority/setpriority with PRIO_PROCESS and `who` 0 act
        // on the calling thread on Linux; they take and return plain ints.
        unsafe {
            let current = libc::getpriority(libc::PRIO_PROCESS, 0);
            libc::setpriority(libc::PRIO_PROCESS, 0, current.saturating_add(nice));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}
