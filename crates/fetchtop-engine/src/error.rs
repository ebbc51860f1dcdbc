//! The engine's error: what could not be set up or started, with its cause.
//!
//! Errors of single items are not errors of the engine: they end the item
//! as failed, with an [`ErrorKind`](crate::ErrorKind) and a message, and the
//! run goes on.

use std::error::Error as StdError;
use std::fmt;

/// A cause of any type, kept for [`EngineError::source`].
type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// The run could not be prepared or started (a client that cannot be
/// built, a thread the OS refused), or its engine stopped unexpectedly.
#[derive(Debug)]
pub struct EngineError {
    what: String,
    cause: Option<Cause>,
}

impl EngineError {
    /// An error that is its own cause.
    pub fn new(what: impl Into<String>) -> EngineError {
        EngineError {
            what: what.into(),
            cause: None,
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl StdError for EngineError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn StdError + 'static))
    }
}

/// The engine's results.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Says what was being done when an error happened (`anyhow`'s `context`,
/// for the engine's one error type).
pub trait Context<T> {
    /// Wraps the error, if any, in an [`EngineError`] saying `what` failed.
    fn context(self, what: &str) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: Into<Cause>,
{
    fn context(self, what: &str) -> Result<T> {
        self.map_err(|e| EngineError {
            what: what.to_string(),
            cause: Some(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_kept_behind_the_words() {
        let e: Result<()> = Err(std::io::Error::other("refused")).context("cannot start");
        let e = e.unwrap_err();
        assert_eq!(e.to_string(), "cannot start");
        assert_eq!(
            e.source().map(|s| s.to_string()).as_deref(),
            Some("refused")
        );
        let nested: Result<()> = Err(e).context("cannot prepare requests");
        let nested = nested.unwrap_err();
        let inner = nested
            .source()
            .and_then(|s| s.source())
            .map(|s| s.to_string());
        assert_eq!(inner.as_deref(), Some("refused"));
        assert!(EngineError::new("x").source().is_none());
    }
}
