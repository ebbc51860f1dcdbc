//! An optional deadline as a future, for `select!` branches that may or may
//! not have a time limit (the `-z` duration, the dashboard's grace period).

use tokio::time::Instant;

/// Resolves at `deadline`, or never when there is none.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_deadline_fires_and_none_never_does() {
        let d = Instant::now() + Duration::from_secs(5);
        sleep_until(Some(d)).await;
        assert!(Instant::now() >= d);
        let never = tokio::time::timeout(Duration::from_secs(3600), sleep_until(None)).await;
        assert!(never.is_err());
    }
}
