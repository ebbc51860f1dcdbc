//! The rules every carrier sorts its errors by. Each carrier (hyper-util,
//! reqwest, ureq) keeps only the mapping of its own error type onto these,
//! so an error kind means the same thing whichever one reported it.

use std::error::Error;
use std::io;

use crate::record::ErrorKind;

/// Walks an error's sources, looking inside `io::Error`s too (their
/// `source()` skips the error they wrap).
pub(crate) fn sources<'a>(e: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        out.push(err);
        next = match err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => err.source(),
        };
    }
    out
}

/// Whether any source is an I/O timeout (a connect timeout, say).
pub(crate) fn timed_out(e: &(dyn Error + 'static)) -> bool {
    sources(e).iter().any(|s| {
        s.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

/// Whether any source is a rustls error: a handshake or certificate failure.
pub(crate) fn is_tls(e: &(dyn Error + 'static)) -> bool {
    sources(e)
        .iter()
        .any(|s| s.downcast_ref::<rustls::Error>().is_some())
}

/// The kind an I/O error stands for on its own, where its kind says it:
/// a timeout, or a connection that could not be made or was torn down.
pub(crate) fn io_kind(e: &io::Error) -> Option<ErrorKind> {
    use io::ErrorKind as Io;
    match e.kind() {
        Io::TimedOut => Some(ErrorKind::Timeout),
        Io::ConnectionRefused
        | Io::ConnectionReset
        | Io::ConnectionAborted
        | Io::AddrNotAvailable => Some(ErrorKind::Connect),
        _ => None,
    }
}

/// The text of an error and its causes, each said once.
pub(crate) fn chain(e: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in sources(e) {
        let text = s.to_string();
        // Wrappers often repeat their inner error's text; say each thing once.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_found_inside_io_errors() {
        let inner = io::Error::new(io::ErrorKind::TimedOut, "connect timeout");
        let outer = io::Error::other(inner);
        assert!(timed_out(&outer));
        assert!(!timed_out(&io::Error::other("refused")));
        assert_eq!(chain(&outer), "connect timeout");
    }

    #[test]
    fn tls_errors_are_found_among_the_sources() {
        let tls = io::Error::other(rustls::Error::DecryptError);
        assert!(is_tls(&io::Error::other(tls)));
        assert!(!is_tls(&io::Error::other("refused")));
    }

    #[test]
    fn io_kinds_that_say_what_happened() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_kind(&refused), Some(ErrorKind::Connect));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(io_kind(&reset), Some(ErrorKind::Connect));
        let slow = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(io_kind(&slow), Some(ErrorKind::Timeout));
        assert_eq!(io_kind(&io::Error::other("odd")), None);
    }
}
