//! Where the shards take their items from, shared by all of them.
//!
//! A shard takes items only after it has taken permits for them, and starts
//! every item it takes at once: no shard ever sits on an item that another
//! could run.
//!
//! - A repeated URL or a `{a..b}` template is a pure function of the item's
//!   position, so the feed is one atomic cursor: a shard claims a range of
//!   positions with one `fetch_add` and builds the URLs itself.
//! - A list (file or stdin) has to be read in order by one reader; it fills
//!   a bounded multi-consumer queue (async-channel, lock-free on the hot
//!   path) that the shards drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::job_shard::JobShard;
use super::source::{Item, Template};

/// The URLs of a counted feed.
#[derive(Debug)]
pub(crate) enum Urls {
    /// The same URL every time.
    Repeat(Arc<str>),
    /// A URL range.
    Template(Template),
}

impl Urls {
    /// The item at 0-based job position `index`.
    fn item(&self, index: u64, buf: &mut String) -> Option<Item> {
        let url = match self {
            Urls::Repeat(url) => Arc::clone(url),
            Urls::Template(t) => {
                if !t.write_nth(index, buf) {
                    return None;
                }
                Arc::from(buf.as_str())
            }
        };
        Some(Item {
            seq: index + 1,
            url,
            line: None,
            defect: None,
        })
    }
}

/// What one [`Feed::take`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Supply {
    /// More may come (a list reader is behind, or there are more positions).
    More,
    /// Nothing will ever come again.
    Ended,
}

/// The run's items, for every shard. See the module documentation.
#[derive(Debug)]
pub(crate) enum Feed {
    /// Positions claimed from an atomic cursor.
    Counted {
        /// The next of this job shard's positions to hand out (0-based,
        /// counting the shard's positions only).
        next: AtomicU64,
        /// This job shard's positions in all.
        count: u64,
        /// Which of the job's positions are this process's.
        part: JobShard,
        /// Stop admitting: no more positions are handed out.
        closed: AtomicBool,
        urls: Urls,
    },
    /// Items read ahead by the list reader.
    Stream {
        rx: async_channel::Receiver<Item>,
        /// Tells the reader to stop reading.
        stop: CancellationToken,
    },
}

impl Feed {
    /// `count` of job shard `part`'s positions, drawn in order.
    pub(crate) fn counted(urls: Urls, count: u64, part: JobShard) -> Feed {
        Feed::Counted {
            next: AtomicU64::new(0),
            count,
            part,
            closed: AtomicBool::new(false),
            urls,
        }
    }

    pub(crate) fn stream(rx: async_channel::Receiver<Item>, stop: CancellationToken) -> Feed {
        Feed::Stream { rx, stop }
    }

    /// True when items come from a list reader and may have to be waited for.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Feed::Stream { .. })
    }

    /// True once nothing will ever come again: a shard that holds no permit
    /// (others took them all) still learns that the run's items are out.
    pub(crate) fn ended(&self) -> bool {
        match self {
            Feed::Counted {
                next,
                count,
                closed,
                ..
            } => closed.load(Ordering::Relaxed) || next.load(Ordering::Relaxed) >= *count,
            Feed::Stream { rx, stop } => stop.is_cancelled() || (rx.is_closed() && rx.is_empty()),
        }
    }

    /// Takes up to `n` items that are ready now into `out`, without waiting.
    pub(crate) fn take(&self, n: u64, out: &mut Vec<Item>, buf: &mut String) -> Supply {
        match self {
            Feed::Counted {
                next,
                count,
                part,
                closed,
                urls,
            } => {
                if closed.load(Ordering::Relaxed) {
                    return Supply::Ended;
                }
                if n == 0 {
                    return Supply::More;
                }
                let start = next.fetch_add(n, Ordering::Relaxed);
                let end = start.saturating_add(n).min(*count);
                for nth in start..end {
                    if let Some(item) = part.position(nth).and_then(|p| urls.item(p, buf)) {
                        out.push(item);
                    }
                }
                if end >= *count {
                    Supply::Ended
                } else {
                    Supply::More
                }
            }
            Feed::Stream { rx, stop } => {
                if stop.is_cancelled() {
                    return Supply::Ended;
                }
                for _ in 0..n {
                    match rx.try_recv() {
                        Ok(item) => out.push(item),
                        Err(async_channel::TryRecvError::Empty) => return Supply::More,
                        Err(async_channel::TryRecvError::Closed) => return Supply::Ended,
                    }
                }
                Supply::More
            }
        }
    }

    /// Waits for the next item of a list; `None` once the list has ended or
    /// the feed was closed. Never resolves for a counted feed, which never
    /// has to be waited for.
    pub(crate) async fn next(&self) -> Option<Item> {
        match self {
            Feed::Counted { .. } => std::future::pending().await,
            Feed::Stream { rx, stop } => {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => None,
                    item = rx.recv() => item.ok(),
                }
            }
        }
    }

    /// Admits nothing more: no shard takes another item, and a list reader
    /// stops reading.
    pub(crate) fn close(&self) {
        match self {
            Feed::Counted { closed, .. } => closed.store(true, Ordering::Relaxed),
            Feed::Stream { rx, stop } => {
                stop.cancel();
                rx.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(s: &str) -> Urls {
        Urls::Template(Template::parse(s).unwrap().unwrap())
    }

    #[test]
    fn counted_feeds_hand_out_each_position_once() {
        let feed = Feed::counted(template("http://h/{1..10}"), 10, JobShard::WHOLE);
        let (mut out, mut buf) = (Vec::new(), String::new());
        assert_eq!(feed.take(4, &mut out, &mut buf), Supply::More);
        assert_eq!(feed.take(0, &mut out, &mut buf), Supply::More);
        assert!(!feed.ended());
        assert_eq!(feed.take(100, &mut out, &mut buf), Supply::Ended);
        assert!(feed.ended());
        assert_eq!(feed.take(1, &mut out, &mut buf), Supply::Ended);
        let seqs: Vec<u64> = out.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
        assert_eq!(&*out[9].url, "http://h/10");
    }

    #[test]
    fn closing_ends_a_counted_feed() {
        let feed = Feed::counted(
            Urls::Repeat(Arc::from("http://h/")),
            u64::MAX,
            JobShard::WHOLE,
        );
        let (mut out, mut buf) = (Vec::new(), String::new());
        assert_eq!(feed.take(2, &mut out, &mut buf), Supply::More);
        feed.close();
        assert_eq!(feed.take(2, &mut out, &mut buf), Supply::Ended);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn many_threads_share_a_cursor_without_repeats() {
        let feed = Arc::new(Feed::counted(
            template("http://h/{1..100000}"),
            100_000,
            JobShard::WHOLE,
        ));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let feed = Arc::clone(&feed);
                std::thread::spawn(move || {
                    let (mut out, mut buf) = (Vec::new(), String::new());
                    while feed.take(7, &mut out, &mut buf) == Supply::More {}
                    out.into_iter().map(|i| i.seq).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=100_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_job_shard_takes_every_nth_position_with_the_jobs_seqs() {
        let part = JobShard::new(1, 3).unwrap();
        let feed = Feed::counted(template("http://h/{1..10}"), part.share(10), part);
        let (mut out, mut buf) = (Vec::new(), String::new());
        while feed.take(2, &mut out, &mut buf) == Supply::More {}
        let seqs: Vec<u64> = out.iter().map(|i| i.seq).collect();
        assert_eq!(seqs, [2, 5, 8]);
        assert_eq!(&*out[2].url, "http://h/8");
    }

    #[tokio::test]
    async fn stream_feeds_drain_then_end() {
        let (tx, rx) = async_channel::bounded(4);
        let feed = Feed::stream(rx, CancellationToken::new());
        let item = |seq| Item {
            seq,
            url: Arc::from("http://h/"),
            line: Some(seq),
            defect: None,
        };
        tx.send(item(1)).await.unwrap();
        tx.send(item(2)).await.unwrap();
        tx.send(item(3)).await.unwrap();
        let (mut out, mut buf) = (Vec::new(), String::new());
        assert_eq!(feed.take(1, &mut out, &mut buf), Supply::More);
        assert_eq!(feed.next().await.map(|i| i.seq), Some(2));
        tx.close();
        assert!(!feed.ended(), "an item is still queued");
        assert_eq!(feed.take(5, &mut out, &mut buf), Supply::Ended);
        assert!(feed.ended());
        assert!(feed.next().await.is_none());
        assert_eq!(out.iter().map(|i| i.seq).collect::<Vec<_>>(), [1, 3]);
    }
}
