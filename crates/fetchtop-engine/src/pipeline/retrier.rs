//! The retry loop as a pure state machine: it counts attempts, keeps the
//! last answer, and says whether to finish or wait how long. The drivers
//! (the async task and the blocking thread) own the clock, the sleeping,
//! the cancellation and the random draw, so every decision here is tested
//! without a server or a timer.

use std::time::Duration;

use super::{Attempt, cancelled};
use crate::http::RequestOptions;
use crate::record::{Failure, ItemState, Record};
use crate::retry::RetryPolicy;
use crate::task::TaskSpec;

/// What the driver does after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The item is over with this verdict.
    Finish(Result<(), Failure>),
    /// Wait this long (cancellably), then make another attempt.
    Wait(Duration),
}

/// One item's retries under a [`RetryPolicy`].
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    attempts: u32,
    last: Attempt,
    /// Whether `last` read its whole body (what `--save-bodies` may save).
    complete: bool,
}

/// What a finished [`Retrier`] hands back to build the record from.
#[derive(Debug)]
pub(crate) struct Last {
    /// The last attempt's answer: the record shows the last thing the
    /// server said, even when the item then ended another way.
    pub(crate) answer: Attempt,
    /// Attempts made, the one that ended the item included.
    pub(crate) attempts: u32,
    /// Whether `answer` holds a whole body, read by a successful attempt.
    pub(crate) complete: bool,
}

impl Last {
    /// The item's record, from its last answer and how it ended.
    pub(crate) fn into_record(
        self,
        spec: &TaskSpec,
        latency_us: u64,
        ending: (ItemState, Option<Failure>),
        options: &RequestOptions,
    ) -> Record {
        let attempts = self.attempts;
        self.answer
            .into_record(spec, latency_us, attempts, ending, options)
    }
}

impl Retrier {
    /// No attempt made yet.
    pub(crate) fn new(policy: RetryPolicy) -> Retrier {
        Retrier {
            policy,
            attempts: 0,
            last: Attempt::default(),
            complete: false,
        }
    }

    /// Takes the answer of the attempt just made and how its transfer
    /// ended; `u` is a uniform draw in `[0, 1)` for the backoff's jitter.
    pub(crate) fn after_attempt(
        &mut self,
        mut answer: Attempt,
        outcome: Result<(), Failure>,
        u: f64,
    ) -> Step {
        self.attempts = self.attempts.saturating_add(1);
        // A transfer read to its end may still fail in its decoders.
        let outcome = outcome.and_then(|()| answer.end_of_body());
        self.complete = outcome.is_ok() && answer.status.is_some();
        let verdict = answer.verdict(outcome);
        let retry_after = answer.retry_after;
        self.last = answer;
        match &verdict {
            Err(failure) if self.policy.should_retry(self.attempts, failure) => {
                Step::Wait(self.policy.delay(self.attempts, retry_after, u))
            }
            _ => Step::Finish(verdict),
        }
    }

    /// The verdict of an item cancelled while it waited to retry. The last
    /// answer stays for the record, but its body is no longer one to save:
    /// the item did not end with it.
    pub(crate) fn cancelled(&mut self) -> Result<(), Failure> {
        self.complete = false;
        Err(cancelled())
    }

    /// What the record is built from.
    pub(crate) fn finish(self) -> Last {
        Last {
            answer: self.last,
            attempts: self.attempts,
            complete: self.complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ErrorKind;

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }

    fn answer(status: u16, retry_after: Option<u64>) -> Attempt {
        Attempt {
            status: Some(status),
            retry_after: retry_after.map(Duration::from_secs),
            ..Attempt::default()
        }
    }

    fn refused() -> Result<(), Failure> {
        Err(Failure::new(ErrorKind::Connect, "refused"))
    }

    #[test]
    fn attempts_are_counted_until_the_retries_run_out() {
        let r = Retrier::new(policy(2));
        assert_eq!(r.finish().attempts, 0, "no attempt before the first");
        let mut r = Retrier::new(policy(2));
        assert!(matches!(
            r.after_attempt(Attempt::default(), refused(), 0.5),
            Step::Wait(_)
        ));
        assert!(matches!(
            r.after_attempt(Attempt::default(), refused(), 0.5),
            Step::Wait(_)
        ));
        assert_eq!(
            r.after_attempt(Attempt::default(), refused(), 0.5),
            Step::Finish(refused())
        );
        assert_eq!(r.finish().attempts, 3);
    }

    #[test]
    fn success_finishes_at_once_with_a_complete_body() {
        let mut r = Retrier::new(policy(3));
        assert_eq!(
            r.after_attempt(answer(200, None), Ok(()), 0.5),
            Step::Finish(Ok(()))
        );
        let last = r.finish();
        assert_eq!((last.attempts, last.complete), (1, true));
    }

    #[test]
    fn backoff_uses_the_draw_and_grows() {
        let mut r = Retrier::new(policy(3));
        let first = r.after_attempt(Attempt::default(), refused(), 1.0);
        assert_eq!(first, Step::Wait(Duration::from_millis(100)));
        let second = r.after_attempt(Attempt::default(), refused(), 1.0);
        assert_eq!(second, Step::Wait(Duration::from_millis(200)));
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let mut r = Retrier::new(policy(3));
        assert_eq!(
            r.after_attempt(answer(503, Some(2)), Ok(()), 0.0),
            Step::Wait(Duration::from_secs(2))
        );
        assert_eq!(
            r.after_attempt(answer(429, Some(3600)), Ok(()), 0.0),
            Step::Wait(Duration::from_secs(10))
        );
    }

    #[test]
    fn non_retryable_failures_stop() {
        let mut r = Retrier::new(policy(5));
        let Step::Finish(Err(f)) = r.after_attempt(answer(404, None), Ok(()), 0.5) else {
            panic!("a 404 is not retried");
        };
        assert_eq!(f.kind, ErrorKind::Http4xx);
        let last = r.finish();
        assert_eq!((last.attempts, last.complete), (1, true));
        let mut r = Retrier::new(policy(5));
        let Step::Finish(Err(f)) = r.after_attempt(Attempt::default(), Err(cancelled()), 0.5)
        else {
            panic!("a cancelled attempt is not retried");
        };
        assert_eq!(f.kind, ErrorKind::Cancelled);
    }

    #[test]
    fn cancel_during_the_wait_ends_cancelled_with_the_last_answer() {
        let mut r = Retrier::new(policy(3));
        assert!(matches!(
            r.after_attempt(answer(503, Some(1)), Ok(()), 0.5),
            Step::Wait(_)
        ));
        let mut second = answer(503, Some(1));
        second.bytes = 42;
        assert!(matches!(
            r.after_attempt(second, Ok(()), 0.5),
            Step::Wait(_)
        ));
        let verdict = r.cancelled();
        assert_eq!(verdict.unwrap_err().kind, ErrorKind::Cancelled);
        let last = r.finish();
        assert_eq!(last.attempts, 2);
        assert_eq!((last.answer.status, last.answer.bytes), (Some(503), 42));
        assert!(!last.complete, "a cancelled item saves no body");
    }
}
