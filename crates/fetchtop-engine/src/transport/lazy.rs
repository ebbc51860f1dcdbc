//! A client built the first time it is needed, once.
//!
//! Loading the system's trust store takes tens of milliseconds and hundreds
//! of file reads, and each shard would do it twice (the lean TLS config and
//! reqwest's) before its first request, even for a run that never speaks
//! https. Built on first use instead, a failure becomes the failure of the
//! items that needed it, with the reason.

use std::sync::OnceLock;

/// A value made on first use by `make`; its error, if any, is kept too.
pub(crate) struct Lazy<T> {
    cell: OnceLock<Result<T, String>>,
    make: Box<dyn Fn() -> Result<T, String> + Send + Sync>,
}

impl<T> Lazy<T> {
    /// A value `make` will build when first asked for.
    pub(crate) fn new(make: impl Fn() -> Result<T, String> + Send + Sync + 'static) -> Lazy<T> {
        Lazy {
            cell: OnceLock::new(),
            make: Box::new(make),
        }
    }

    /// The value, built now if this is the first call.
    pub(crate) fn get(&self) -> Result<&T, &str> {
        self.cell
            .get_or_init(|| (self.make)())
            .as_ref()
            .map_err(String::as_str)
    }
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy")
            .field("built", &self.cell.get().is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn built_once_on_first_use_and_errors_are_kept() {
        let made = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&made);
        let lazy = Lazy::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<u32, String>(7)
        });
        assert_eq!(made.load(Ordering::Relaxed), 0, "nothing built before use");
        assert_eq!(lazy.get(), Ok(&7));
        assert_eq!(lazy.get(), Ok(&7));
        assert_eq!(made.load(Ordering::Relaxed), 1);
        let failing: Lazy<u32> = Lazy::new(|| Err("no trust store".into()));
        assert_eq!(failing.get(), Err("no trust store"));
    }
}
