//! The retry policy: which failures are worth another attempt, and how long
//! to wait first. Pure: no clock, no randomness of its own, no I/O, so every
//! decision is unit-tested; `pipeline::Retrier` consults it after each
//! attempt, and its drivers (the async task, the threads model) do the waiting.

use std::time::{Duration, SystemTime};

use super::record::{ErrorKind, Failure};

/// First backoff ceiling: attempt n waits a random time in `[0, BASE * 2^(n-1)]`.
pub const DEFAULT_BASE: Duration = Duration::from_millis(100);
/// Longest wait before a retry, whatever the backoff or `Retry-After` say.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How a run retries failed attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first (0: never retry).
    pub retries: u32,
    /// Backoff ceiling for the first retry; it doubles with each retry.
    pub base: Duration,
    /// Cap on every wait, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            base: DEFAULT_BASE,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// Whether a failure after `attempts` attempts (counting the one that
    /// just failed) earns another one.
    pub fn should_retry(&self, attempts: u32, failure: &Failure) -> bool {
        attempts <= self.retries && retryable(failure.kind)
    }

    /// How long to wait after the `attempts`-th failed attempt.
    ///
    /// A server's `Retry-After` wins over the backoff (the server knows
    /// best), capped by `max_backoff`. Otherwise full jitter: a uniform
    /// draw (`u` in `[0, 1)`) below an exponentially growing ceiling, so
    /// many clients failing together do not retry together.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>, u: f64) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_backoff);
        }
        let shift = attempts.saturating_sub(1).min(31);
        let ceiling = self
            .base
            .checked_mul(1u32 << shift)
            .unwrap_or(Duration::MAX)
            .min(self.max_backoff);
        let u = if u.is_finite() {
            u.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ceiling.mul_f64(u)
    }
}

/// Connect errors, timeouts, 429 and 5xx may pass; anything else (a 404, a
/// bad URL, a TLS failure, a redirect loop) would fail the same way again.
pub fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Http429 | ErrorKind::Http5xx
    )
}

/// Reads a `Retry-After` value: whole seconds, or an HTTP date (a date in
/// the past means now). Anything else is ignored, as if absent.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let p = policy(2);
        for kind in [
            ErrorKind::Connect,
            ErrorKind::Timeout,
            ErrorKind::Http429,
            ErrorKind::Http5xx,
        ] {
            assert!(p.should_retry(1, &Failure::new(kind, "")), "{kind:?}");
            assert!(p.should_retry(2, &Failure::new(kind, "")), "{kind:?}");
            assert!(!p.should_retry(3, &Failure::new(kind, "")), "{kind:?}");
        }
        for kind in [
            ErrorKind::Http4xx,
            ErrorKind::Tls,
            ErrorKind::Redirect,
            ErrorKind::InvalidUrl,
            ErrorKind::Input,
            ErrorKind::Cancelled,
            ErrorKind::BodyTooLarge,
            ErrorKind::Decode,
        ] {
            assert!(!p.should_retry(1, &Failure::new(kind, "")), "{kind:?}");
        }
        assert!(!policy(0).should_retry(1, &Failure::new(ErrorKind::Http5xx, "")));
    }

    #[test]
    fn backoff_doubles_under_full_jitter_and_is_capped() {
        let p = RetryPolicy {
            retries: 50,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        };
        assert_eq!(p.delay(1, None, 0.0), Duration::ZERO);
        assert_eq!(p.delay(1, None, 0.5), Duration::from_millis(50));
        assert_eq!(p.delay(2, None, 0.5), Duration::from_millis(100));
        assert_eq!(p.delay(3, None, 0.5), Duration::from_millis(200));
        assert_eq!(p.delay(5, None, 1.0), Duration::from_millis(1600));
        assert_eq!(p.delay(6, None, 1.0), Duration::from_secs(2));
        assert_eq!(p.delay(40, None, 1.0), Duration::from_secs(2));
        assert_eq!(
            p.delay(u32::MAX, None, 0.999),
            Duration::from_secs(2).mul_f64(0.999)
        );
        assert_eq!(p.delay(3, None, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let p = RetryPolicy {
            max_backoff: Duration::from_secs(10),
            ..policy(3)
        };
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2)), 0.9),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600)), 0.9),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
