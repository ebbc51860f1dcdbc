//! One part of a job split over several processes (`--shard K/N`): a *job
//! shard*, not to be confused with the engine's shards (`--workers`), the
//! event loops inside one process.
//!
//! Job shard K of N takes the items whose 0-based position p (seq − 1) has
//! p ≡ K (mod N). Interleaving rather than contiguous ranges because it
//! needs nothing known up front: a list read from stdin or a `-z` run has
//! no total to cut into ranges, and every process can decide each item
//! alone, from its position, as the source streams. It also spreads a
//! source's slow corner (a range of big items) over every shard.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Most job shards accepted, a guard against typos.
pub const MAX_JOB_SHARDS: u64 = 1_000_000;

/// Job shard `index` of `count` (0-based index). The whole job is `0/1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobShard {
    /// K, from 0.
    pub index: u64,
    /// N, at least 1.
    pub count: u64,
}

impl Default for JobShard {
    fn default() -> Self {
        JobShard::WHOLE
    }
}

impl fmt::Display for JobShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl JobShard {
    /// The whole job in one process.
    pub const WHOLE: JobShard = JobShard { index: 0, count: 1 };

    /// Job shard `index` of `count`; a one-line error unless 0 <= index < count <= [`MAX_JOB_SHARDS`].
    pub fn new(index: u64, count: u64) -> Result<JobShard, String> {
        if count == 0 {
            return Err("a job needs at least 1 shard (N in K/N is 0)".into());
        }
        if count > MAX_JOB_SHARDS {
            return Err(format!(
                "{count} shards is more than the {MAX_JOB_SHARDS} accepted"
            ));
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count} does not exist: K counts from 0 to {}",
                count - 1
            ));
        }
        Ok(JobShard { index, count })
    }

    /// Parses `K/N`, e.g. `0/3`.
    pub fn parse(s: &str) -> Result<JobShard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not K/N (for example 0/3)"))?;
        let num = |part: &str, what: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not K/N: {what} {part:?} is not a whole number"))
        };
        JobShard::new(num(k, "K")?, num(n, "N")?)
    }

    /// Whether this is the whole job.
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// Whether the item with this seq (1-based) belongs to this shard.
    pub fn holds(&self, seq: u64) -> bool {
        seq >= 1 && (seq - 1) % self.count == self.index
    }

    /// How many of a job's first `job_items` positions are this shard's.
    pub fn share(&self, job_items: u64) -> u64 {
        if job_items <= self.index {
            0
        } else {
            (job_items - self.index - 1) / self.count + 1
        }
    }

    /// The 0-based job position of this shard's `nth` item (0-based), or
    /// `None` past the end of the positions a u64 can name.
    pub fn position(&self, nth: u64) -> Option<u64> {
        nth.checked_mul(self.count)?.checked_add(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!(JobShard::parse("2/3"), Ok(JobShard { index: 2, count: 3 }));
        assert_eq!(JobShard::parse("0/1"), Ok(JobShard::WHOLE));
        for bad in ["3/3", "1/0", "x/3", "1", "-1/3", "1/3/4", "", "/"] {
            assert!(JobShard::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shards_split_every_position_once() {
        for count in 1..=7u64 {
            for job in 0..40u64 {
                let mut seen = vec![0u32; job as usize];
                for index in 0..count {
                    let shard = JobShard::new(index, count).unwrap();
                    let mut n = 0;
                    while let Some(p) = shard.position(n).filter(|&p| p < job) {
                        assert!(shard.holds(p + 1));
                        seen[p as usize] += 1;
                        n += 1;
                    }
                    assert_eq!(n, shard.share(job), "{shard} of {job}");
                }
                assert!(seen.iter().all(|&s| s == 1), "{count} shards, {job} items");
            }
        }
    }

    #[test]
    fn huge_positions_do_not_overflow() {
        let shard = JobShard::new(5, 7).unwrap();
        assert_eq!(shard.position(u64::MAX / 2), None);
        assert_eq!(shard.share(u64::MAX), (u64::MAX - 6) / 7 + 1);
        assert!(!shard.holds(0));
    }
}
