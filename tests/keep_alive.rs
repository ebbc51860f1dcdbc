//! A kept-alive connection the server closes just as the next request goes
//! out (what a proxy that does not keep connections, or a server's idle
//! timeout, does): an idempotent request is sent again once on a fresh
//! connection, as curl and browsers do; a POST is not repeated. Found
//! fetching httpbin through tinyproxy, where a redirect's second hop failed
//! with "connection closed before message completed".

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fetchtop::engine::transport::TransportChoice;
use fetchtop::engine::{ErrorKind, ItemState, Record, RequestOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers the first request of each connection (with no `Connection:
/// close`), then closes it when the next request arrives, unanswered.
async fn one_answer_per_connection() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if s.write_all(reply).await.is_err() {
                    return;
                }
                // The next request: read it, and close without a word.
                let _ = s.read(&mut buf).await;
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

async fn fetch(
    base: &str,
    n: usize,
    request: RequestOptions,
    transport: TransportChoice,
) -> Vec<Record> {
    let urls: Vec<String> = (1..=n).map(|i| format!("{base}/items/{i}")).collect();
    common::fetch_urls(&urls, request, transport, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_request_on_a_connection_the_server_dropped_is_sent_again_once() {
    for transport in [TransportChoice::Auto, TransportChoice::Reqwest] {
        let (base, accepted) = one_answer_per_connection().await;
        let records = fetch(&base, 5, RequestOptions::default(), transport).await;
        for r in &records {
            assert_eq!(r.state, ItemState::Done, "{transport:?}: {r:?}");
            assert_eq!(r.attempts, 1, "not a retry of the item: the same attempt");
        }
        // Every request after the first met a dropped connection and went
        // again on a new one: 1 + 2 * 4 at most.
        let n = accepted.load(Ordering::Relaxed);
        assert!((5..=9).contains(&n), "{transport:?}: {n} connections");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_sent_twice() {
    let (base, _) = one_answer_per_connection().await;
    let post = RequestOptions {
        method: reqwest::Method::POST,
        body: Some(b"{}".to_vec()),
        ..RequestOptions::default()
    };
    let records = fetch(&base, 3, post, TransportChoice::Auto).await;
    let failed: Vec<&Record> = records
        .iter()
        .filter(|r| r.state == ItemState::Failed)
        .collect();
    assert!(
        !failed.is_empty(),
        "a POST on a dropped connection fails: {records:?}"
    );
    for r in failed {
        let e = r.error.as_ref().unwrap();
        assert_eq!(e.kind, ErrorKind::Request);
        assert!(
            e.message
                .contains("connection closed before message completed"),
            "{e}"
        );
    }
}
